"""Atomic writes replace a file whole or not at all; JSON lines are appended whole."""

from __future__ import annotations

import json
import stat

import pytest

from genms.io import (
    append_json_line,
    atomic_path,
    atomic_write_bytes,
    atomic_write_json,
    atomic_write_text,
)


def test_atomic_writes_create_folders_and_replace(tmp_path):
    path = tmp_path / "a" / "b" / "out.json"
    atomic_write_json(path, {"x": 1, "when": tmp_path})
    assert json.loads(path.read_text()) == {
        "x": 1,
        "when": str(tmp_path),
    } and path.read_text().endswith("}\n")
    atomic_write_text(path, "replaced")
    assert path.read_text() == "replaced"
    atomic_write_bytes(path, b"\x00\x01")
    assert path.read_bytes() == b"\x00\x01"
    assert stat.S_IMODE(path.stat().st_mode) == 0o644
    assert sorted(p.name for p in path.parent.iterdir()) == ["out.json"]  # no temporary file left


def test_a_failed_write_leaves_the_old_file(tmp_path):
    path = tmp_path / "keep.txt"
    path.write_text("old")
    with pytest.raises(RuntimeError), atomic_path(path) as tmp:
        tmp.write_text("half")
        raise RuntimeError("interrupted")
    assert path.read_text() == "old" and [p.name for p in tmp_path.iterdir()] == ["keep.txt"]


@pytest.mark.parametrize("lock", [False, True])
def test_json_lines_are_appended_whole(tmp_path, lock):
    path = tmp_path / "log" / "rows.jsonl"
    for i in range(3):
        append_json_line(path, {"i": i, "nan": float("nan")}, lock=lock)
    rows = [json.loads(line) for line in path.read_text().splitlines()]
    assert [r["i"] for r in rows] == [0, 1, 2] and path.read_text().endswith("\n")
