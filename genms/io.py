"""Files written so that no reader ever sees half of one.

* :func:`atomic_path` — a temporary file beside the target, moved over it with ``os.replace``
  once it is complete (removed if writing fails); :func:`atomic_write_bytes`,
  :func:`atomic_write_text` and :func:`atomic_write_json` are built on it.
* :func:`append_json_line` — one JSON line appended with a single ``write`` and an ``fsync``,
  optionally under an exclusive ``flock`` (several processes appending to one file), so a
  killed writer leaves at most one torn last line.
"""

from __future__ import annotations

import fcntl
import json
import os
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

#: Permissions of finished files (``mkstemp`` creates private ones).
FILE_MODE = 0o644


@contextmanager
def atomic_path(path: str | Path) -> Iterator[Path]:
    """A temporary path in ``path``'s folder to write; it replaces ``path`` when the block ends.

    The folder is created when missing. If the block raises, the temporary file is removed and
    ``path`` is left as it was.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, name = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    os.close(fd)
    tmp = Path(name)
    try:
        yield tmp
        os.chmod(tmp, FILE_MODE)
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)


def atomic_write_bytes(path: str | Path, data: bytes) -> Path:
    with atomic_path(path) as tmp:
        tmp.write_bytes(data)
    return Path(path)


def atomic_write_text(path: str | Path, text: str) -> Path:
    with atomic_path(path) as tmp:
        tmp.write_text(text, encoding="utf-8")
    return Path(path)


def atomic_write_json(path: str | Path, obj: Any, indent: int | None = 2) -> Path:
    """``obj`` as JSON (values JSON cannot hold are written as ``str``), ending with a newline."""
    return atomic_write_text(path, json.dumps(obj, indent=indent, default=str) + "\n")


def append_json_line(path: str | Path, obj: Any, lock: bool = False) -> None:
    """Append ``obj`` as one compact JSON line, durably (``lock``: under an exclusive ``flock``)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    data = (json.dumps(obj, separators=(",", ":"), default=str) + "\n").encode()
    fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, FILE_MODE)
    try:
        if lock:
            fcntl.flock(fd, fcntl.LOCK_EX)
        view = memoryview(data)
        while view:
            view = view[os.write(fd, view):]
        os.fsync(fd)
    finally:
        if lock:
            fcntl.flock(fd, fcntl.LOCK_UN)
        os.close(fd)
