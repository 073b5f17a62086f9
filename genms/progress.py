"""Progress of long steps (compiling, sampling, energies, matching, training), with an ETA.

Library code reports what it is doing with :func:`report` — a no-op unless someone listens — so
the models need no knowledge of terminals::

    report("sample", done=16, total=40, note="compiling 16 cells × 12 atoms")

A command or the Python API listens for the length of a call::

    with listening(callback):          # callback(stage, done, total, note)
        sampler.sample(...)

:class:`TextProgress` is a ready listener: one line per update on a stream (stderr), rate-limited,
with the elapsed time and an ETA from the rate so far; :func:`eta_text` formats an ETA.
"""

from __future__ import annotations

import sys
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import TextIO

Listener = Callable[[str, int, int, str], None]

_lock = threading.Lock()
_listeners: list[Listener] = []


def report(stage: str, done: int, total: int, note: str = "") -> None:
    """``done`` of ``total`` units of ``stage`` are finished (``note``: what happens now)."""
    if not _listeners:
        return
    with _lock:
        listeners = list(_listeners)
    for fn in listeners:
        try:
            fn(stage, int(done), int(total), note)
        except Exception:  # a broken display never stops the work
            pass


@contextmanager
def listening(fn: Listener) -> Iterator[Listener]:
    """Call ``fn`` for every :func:`report` until the block ends."""
    with _lock:
        _listeners.append(fn)
    try:
        yield fn
    finally:
        with _lock:
            if fn in _listeners:
                _listeners.remove(fn)


def duration_text(seconds: float) -> str:
    """``42 s``, ``3 min 05 s``, ``1 h 02 min``."""
    if seconds != seconds or seconds < 0:
        return "?"
    s = int(round(seconds))
    if s < 60:
        return f"{s} s"
    if s < 3600:
        return f"{s // 60} min {s % 60:02d} s"
    return f"{s // 3600} h {(s % 3600) // 60:02d} min"


def eta_text(done: float, total: float, elapsed: float) -> str:
    """Time left at the rate so far (``?`` before the first unit is done)."""
    if total <= 0 or done >= total:
        return "0 s"
    if done <= 0 or elapsed <= 0:
        return "?"
    return duration_text(elapsed * (total - done) / done)


class TextProgress:
    """A listener that prints ``stage: done/total (pct), elapsed, ETA — note`` lines.

    A line is printed when a stage starts, when its note changes, when it ends, and otherwise
    at most every ``interval`` seconds (so a long stage is never silent for longer). The elapsed
    time counts from the stage's first report; the ETA uses the rate since its last report of
    zero units done (after compiling, which is reported with ``done=0``).
    """

    def __init__(
        self, stream: TextIO | None = None, interval: float = 5.0, prefix: str = ""
    ) -> None:
        self.stream = stream
        self.interval = interval
        self.prefix = prefix
        self._state: dict[str, dict] = {}

    def __call__(self, stage: str, done: int, total: int, note: str = "") -> None:
        now = time.perf_counter()
        st = self._state.get(stage)
        if st is None or st["total"] != total or (done == 0 and 0 < total <= st["done"]):
            st = self._state[stage] = {
                "start": now,
                "rate_t": now,
                "total": total,
                "done": -1,
                "shown": -1e9,
                "note": None,
            }
        if done == 0:
            st["rate_t"] = now
        finished = total > 0 and done >= total
        due = (
            note != st["note"]
            or (finished and st["done"] < total)
            or now - st["shown"] >= self.interval
        )
        st["done"] = done
        if not due:
            return
        st["shown"], st["note"] = now, note
        pct = f" ({100 * done / total:.0f} %)" if total > 0 else ""
        line = (
            f"{self.prefix}{stage}: {done}/{total}{pct}, {duration_text(now - st['start'])} elapsed"
            + ("" if finished else f", ETA {eta_text(done, total, now - st['rate_t'])}")
            + (f" — {note}" if note else "")
        )
        stream = self.stream or sys.stderr
        stream.write(line + "\n")
        stream.flush()
