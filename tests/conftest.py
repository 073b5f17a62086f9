"""Test-wide settings: CPU only, no network, quiet W&B, Ray without usage stats."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest

os.environ.setdefault("JAX_PLATFORMS", "cpu")
os.environ.setdefault("WANDB_MODE", "offline")
os.environ.setdefault("WANDB_SILENT", "true")
os.environ.setdefault("RAY_USAGE_STATS_ENABLED", "0")



def _absl_keeps_streams_open() -> None:
    """absl's log handler (imported by orbax and chex) closes the stream it was created with
    whenever logging is reconfigured (Hydra does this in-process) unless that stream is
    sys.stderr at that moment. Created under pytest's capture, it would close the capture's
    stream: the next test then fails with "I/O operation on closed file". Its stream is set
    to the real stderr, which it never closes."""
    try:
        from absl import logging as absl_logging
    except ImportError:  # pragma: no cover
        return
    absl_logging.get_absl_handler().python_handler.stream = sys.__stderr__


_absl_keeps_streams_open()

FIXTURES = Path(__file__).parent / "fixtures"
SHARED_DATA = Path(__file__).resolve().parents[1].parent / "shared" / "data"


def pytest_collection_modifyitems(config, items):
    skip = pytest.mark.skip(reason=f"{SHARED_DATA} is absent")
    for item in items:
        if not SHARED_DATA.is_dir() and "shared_data" in item.keywords:
            item.add_marker(skip)
        # Local Ray clusters started by two xdist workers at once compete for the 2 cores and
        # time out; `--dist loadgroup` keeps every Ray test on one worker.
        if "ray" in item.nodeid.lower():
            item.add_marker(pytest.mark.xdist_group("ray"))


@pytest.fixture
def fixtures_dir() -> Path:
    return FIXTURES


@pytest.fixture
def shared_data_dir() -> Path:
    return SHARED_DATA
