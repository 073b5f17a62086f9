"""Shared helpers of the datasets tests: fixture paths and a prepare context in tmp folders."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from genms.data.config import DataConfig
from genms.data.prepare import PrepareContext

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures"
DATA_FIXTURES = FIXTURES / "data"


@pytest.fixture
def make_ctx(tmp_path):
    """make_ctx(roots, **DataConfig fields) -> PrepareContext writing under tmp_path."""

    def _make(roots: list[Path], **overrides) -> PrepareContext:
        cfg = DataConfig(**{"workers": 0, "progress": False,
                            "parse_cache_dir": str(tmp_path / "parsed"), **overrides})
        return PrepareContext.create(cfg, roots, tmp_path / "prepared")

    return _make


@pytest.fixture
def place():
    """place(src, root, rel) copies a fixture file to root/rel (creating folders)."""

    def _place(src: Path, root: Path, rel: str) -> Path:
        dest = root / rel
        dest.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(src, dest)
        return dest

    return _place


@pytest.fixture
def fixtures_dir() -> Path:
    return FIXTURES
