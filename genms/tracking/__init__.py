"""Metric writers: JSON lines always, W&B (offline by default) when enabled."""

from genms.tracking.writers import JsonlWriter, MetricWriter, MultiWriter, NullWriter, build_writer

__all__ = ["JsonlWriter", "MetricWriter", "MultiWriter", "NullWriter", "build_writer"]
