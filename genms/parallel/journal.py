"""The run journal: finished work appended to a JSON-lines file as it arrives.

Every finished unit of work (a sampled chunk of formulae, a checked structure, a batch of
energies) is one line ``{"stage": ..., "key": ..., "value": ...}``. Lines are written with a
single ``write`` on a file opened for appending, then flushed and ``fsync``-ed, so a run killed
at any moment leaves at most one torn last line, which is dropped (and cut off the file) when
the journal is opened again. A resumed run asks :meth:`Journal.get` before submitting work and
only redoes what is missing.

The first line is a header holding a fingerprint of everything that determines the results
(request, seed, search settings, model paths): resuming with a different fingerprint is
refused with a message, because mixing results of two configurations would be silently wrong.
"""

from __future__ import annotations

import json
import logging
import threading
from pathlib import Path
from typing import Any

from genms.io import append_json_line

log = logging.getLogger(__name__)

_FORMAT = 1


class JournalMismatch(ValueError):
    """The journal on disk belongs to a run with another configuration."""


class Journal:
    """Append-only record of finished work, keyed by ``(stage, key)``."""

    def __init__(self, path: str | Path, fingerprint: str = "") -> None:
        self.path = Path(path)
        self.fingerprint = fingerprint
        self._entries: dict[tuple[str, str], Any] = {}
        self._lock = threading.Lock()
        self.path.parent.mkdir(parents=True, exist_ok=True)
        if self.path.exists() and self.path.stat().st_size > 0:
            self._load()
        else:
            append_json_line(self.path, {"journal": _FORMAT, "fingerprint": fingerprint})
        self.n_resumed = len(self._entries)

    # -- reading -------------------------------------------------------------------------
    def _load(self) -> None:
        raw = self.path.read_bytes()
        good_end = 0
        lines = raw.split(b"\n")
        header_seen = False
        offset = 0
        for i, line in enumerate(lines):
            end = offset + len(line) + 1  # +1 for the newline
            last = i == len(lines) - 1
            offset = end
            if not line.strip():
                if not last:
                    good_end = end
                continue
            if last:  # no trailing newline: the write was torn
                log.warning("journal %s: dropping an incomplete last line", self.path)
                break
            try:
                obj = json.loads(line)
            except json.JSONDecodeError:
                log.warning("journal %s: dropping an unreadable line %d", self.path, i + 1)
                break
            if not header_seen:
                header_seen = True
                found = obj.get("fingerprint", "") if isinstance(obj, dict) else None
                if not isinstance(obj, dict) or "journal" not in obj:
                    raise JournalMismatch(f"{self.path} is not a genms run journal")
                if self.fingerprint and found != self.fingerprint:
                    raise JournalMismatch(
                        f"{self.path} holds results of a run with a different configuration "
                        "(request, seed, search settings or models changed); resume it with the "
                        "same settings or choose a new output folder"
                    )
            else:
                self._entries[(obj["stage"], obj["key"])] = obj["value"]
            good_end = end
        if good_end < len(raw):
            with open(self.path, "r+b") as fh:
                fh.truncate(good_end)
        if not header_seen:
            append_json_line(self.path, {"journal": _FORMAT, "fingerprint": self.fingerprint})

    def has(self, stage: str, key: str) -> bool:
        return (stage, key) in self._entries

    def get(self, stage: str, key: str, default: Any = None) -> Any:
        return self._entries.get((stage, key), default)

    def count(self, stage: str | None = None) -> int:
        return sum(1 for s, _ in self._entries if stage is None or s == stage)

    # -- writing -------------------------------------------------------------------------
    def append(self, stage: str, key: str, value: Any) -> None:
        """Record one finished result (JSON-able ``value``) durably."""
        with self._lock:
            append_json_line(self.path, {"stage": stage, "key": key, "value": value})
            self._entries[(stage, key)] = value
