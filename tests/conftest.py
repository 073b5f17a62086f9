"""Test-wide settings: CPU only, no network, quiet W&B, Ray without usage stats."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import absl.logging
import pytest

os.environ.setdefault("JAX_PLATFORMS", "cpu")
os.environ.setdefault("WANDB_MODE", "offline")
os.environ.setdefault("WANDB_SILENT", "true")
os.environ.setdefault("RAY_USAGE_STATS_ENABLED", "0")

# absl (imported by flax) binds its log handler to the sys.stderr of the moment, here pytest's
# capture file; a Hydra app's logging setup closes every handler, and absl's closes that stream
# with it. Bound to the process's own stderr, it is left open.
absl.logging.get_absl_handler().python_handler.stream = sys.__stderr__

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
