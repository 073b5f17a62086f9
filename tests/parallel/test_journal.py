"""The run journal: durable appends, torn-line recovery, fingerprint guard."""

from __future__ import annotations

import json

import pytest

from genms.parallel.journal import Journal, JournalMismatch


def test_append_and_reopen(tmp_path):
    path = tmp_path / "journal.jsonl"
    j = Journal(path, fingerprint="abc")
    j.append("sample", "SrTiO3", {"e": [1.0, 2.0]})
    j.append("check", "0", True)
    again = Journal(path, fingerprint="abc")
    assert again.get("sample", "SrTiO3") == {"e": [1.0, 2.0]}
    assert again.has("check", "0") and not again.has("check", "1")
    assert again.n_resumed == 2
    assert again.count("sample") == 1


def test_torn_last_line_is_dropped_and_cut(tmp_path):
    path = tmp_path / "journal.jsonl"
    j = Journal(path, fingerprint="f")
    j.append("s", "a", 1)
    with open(path, "ab") as fh:
        fh.write(b'{"stage": "s", "key": "b", "val')  # killed mid-write
    again = Journal(path, fingerprint="f")
    assert again.has("s", "a") and not again.has("s", "b")
    again.append("s", "c", 3)
    lines = path.read_text().splitlines()
    assert [json.loads(x).get("key") for x in lines[1:]] == ["a", "c"]


def test_different_fingerprint_is_refused(tmp_path):
    path = tmp_path / "journal.jsonl"
    Journal(path, fingerprint="one").append("s", "a", 1)
    with pytest.raises(JournalMismatch, match="different configuration"):
        Journal(path, fingerprint="two")


def test_not_a_journal(tmp_path):
    path = tmp_path / "journal.jsonl"
    path.write_text('{"something": 1}\n')
    with pytest.raises(JournalMismatch, match="not a genms run journal"):
        Journal(path)
