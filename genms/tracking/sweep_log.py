"""The sweep record: one JSON line per finished point, appended as each point finishes.

``<sweep dir>/sweep.jsonl`` holds, per finished point, its index, id, overrides, swept
parameters, status (``ok``, ``failed`` or ``timeout``), return code, wall time, folder and the
result its run left behind. A rerun reads it and skips the points whose last line says ``ok``.
Lines are appended under an exclusive ``flock`` with one ``write`` and an ``fsync``, so SLURM
array tasks sharing the file never interleave, and a torn last line (a killed writer) is ignored.
``<sweep dir>/sweep.json`` describes the whole sweep (written atomically at the start).
"""

from __future__ import annotations

import json
import logging
from pathlib import Path

from genms.io import append_json_line

log = logging.getLogger(__name__)

STATUS_OK = "ok"


class SweepLog:
    """Append-only JSON lines of point results, keyed by point id (the last line wins)."""

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)

    def rows(self) -> list[dict]:
        if not self.path.exists():
            return []
        out = []
        for n, line in enumerate(self.path.read_text(encoding="utf-8").splitlines(), 1):
            if not line.strip():
                continue
            try:
                row = json.loads(line)
            except json.JSONDecodeError:
                log.warning("%s: skipping unreadable line %d (an interrupted write)", self.path, n)
                continue
            if isinstance(row, dict) and "point" in row:
                out.append(row)
        return out

    def latest(self) -> dict[str, dict]:
        """Point id -> the last row recorded for it."""
        return {row["point"]: row for row in self.rows()}

    def finished_ids(self, include_failed: bool = False) -> set[str]:
        return {pid for pid, row in self.latest().items()
                if include_failed or row.get("status") == STATUS_OK}

    def append(self, row: dict) -> None:
        append_json_line(self.path, row, lock=True)


def read_point_result(point_dir: Path, names: tuple[str, ...]) -> tuple[dict | None, str | None]:
    """The result a run left in its folder: the first of ``names`` found (searched 3 levels deep).

    A ``.json`` file must hold an object; for a ``.jsonl`` file its last object is taken.
    Returns ``(result, path relative to point_dir)`` or ``(None, None)``.
    """
    for name in names:
        for depth in range(4):
            pattern = "/".join(["*"] * depth + [name])
            for path in sorted(point_dir.glob(pattern)):
                value = _load_result(path)
                if value is not None:
                    return value, str(path.relative_to(point_dir))
    return None, None


def _load_result(path: Path) -> dict | None:
    try:
        text = path.read_text(encoding="utf-8")
    except OSError:
        return None
    if path.suffix == ".jsonl":
        for line in reversed(text.splitlines()):
            try:
                obj = json.loads(line)
            except json.JSONDecodeError:
                continue
            if isinstance(obj, dict):
                return obj
        return None
    try:
        obj = json.loads(text)
    except json.JSONDecodeError:
        return None
    return obj if isinstance(obj, dict) else None
