"""Where things live: the data directory, the prepared-array cache and the shipped models.

Config values of ``auto`` are resolved here, in code, so YAML never depends on environment
variables or the working directory.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

#: Repository root when installed in editable mode (``pip install -e .``).
REPO_ROOT = Path(__file__).resolve().parents[1]
#: Trained weights shipped with the package.
ASSETS_DIR = Path(__file__).resolve().parent / "assets"
MODELS_DIR = ASSETS_DIR / "models"


@dataclass(frozen=True)
class PathsConfig:
    """The ``paths`` config group (conf/paths/default.yaml): ``auto`` is resolved below."""

    data_dir: str = "auto"
    cache_dir: str = "auto"


def repo_path(value: str | Path) -> Path:
    """``value`` as given when absolute, else relative to the repository root."""
    path = Path(value)
    return path if path.is_absolute() else REPO_ROOT / path


def user_cache_dir() -> Path:
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "genms"


def shared_data_dir() -> Path | None:
    """``../shared/data`` beside the checkout, when it exists."""
    for candidate in (REPO_ROOT.parent / "shared" / "data", Path.cwd().parent / "shared" / "data"):
        if candidate.is_dir():
            return candidate
    return None


def resolve_data_dir(value: str | None) -> Path:
    """``auto``: ../shared/data when present, else the user cache's ``data`` folder."""
    if value and value != "auto":
        return Path(value).expanduser()
    return shared_data_dir() or (user_cache_dir() / "data")


def resolve_cache_dir(value: str | None) -> Path:
    """``auto``: the user cache's ``prepared`` folder (prepared ``.npz`` arrays)."""
    if value and value != "auto":
        return Path(value).expanduser()
    return user_cache_dir() / "prepared"
