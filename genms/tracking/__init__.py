"""Recording runs: metric writers (JSON lines always, W&B offline by default when enabled),
experiment-run reports (:mod:`.reports`), the sweep record (:mod:`.sweep_log`) and the
comparison of finished runs (:mod:`.gather`)."""

from genms.tracking.writers import JsonlWriter, MetricWriter, MultiWriter, NullWriter, build_writer

__all__ = ["JsonlWriter", "MetricWriter", "MultiWriter", "NullWriter", "build_writer"]
