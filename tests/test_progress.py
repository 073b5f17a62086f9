"""Progress reports with an ETA (genms.progress) and quiet library logs."""

from __future__ import annotations

import io
import logging

import genms.progress as progress
from genms.cli import QUIET_LOGGERS, quiet_library_logs
from genms.progress import TextProgress, duration_text, eta_text, listening, report


def test_report_reaches_listeners_only_while_they_listen():
    seen = []
    report("sample", 1, 2)  # nobody listens: nothing happens
    with listening(lambda *a: seen.append(a)):
        report("sample", 1, 2, "half")
    report("sample", 2, 2)
    assert seen == [("sample", 1, 2, "half")]


def test_a_failing_listener_does_not_stop_the_work():
    def broken(*a):
        raise RuntimeError("display gone")

    with listening(broken):
        report("energy", 1, 1)


def test_eta_and_durations():
    assert eta_text(0, 10, 5.0) == "?" and eta_text(10, 10, 5.0) == "0 s"
    assert eta_text(5, 10, 30.0) == "30 s" and eta_text(1, 10, 60.0) == "9 min 00 s"
    assert duration_text(3725) == "1 h 02 min"


def test_text_progress_lines_have_counts_elapsed_eta_and_notes(monkeypatch):
    clock = iter([0.0, 0.1, 2.0, 2.5, 30.0, 31.0])
    monkeypatch.setattr(progress.time, "perf_counter", lambda: next(clock))
    out = io.StringIO()
    lines = TextProgress(out, interval=10.0, prefix="x: ")
    lines("sample", 0, 4, "compiling")  # t=0: printed (new stage)
    lines("sample", 0, 4, "sampling")  # t=0.1: new note, printed; the ETA counts from here
    lines("sample", 1, 4, "sampling")  # t=2: same note, within the interval: not printed
    lines("sample", 2, 4, "sampling")  # t=2.5: not printed
    lines("sample", 3, 4, "sampling")  # t=30: interval passed: printed
    lines("sample", 4, 4, "sampling")  # t=31: finished: printed, no ETA
    text = out.getvalue().splitlines()
    assert len(text) == 4, text
    assert text[0] == "x: sample: 0/4 (0 %), 0 s elapsed, ETA ? — compiling"
    assert text[2].startswith("x: sample: 3/4 (75 %), 30 s elapsed, ETA 10 s")
    assert text[3] == "x: sample: 4/4 (100 %), 31 s elapsed — sampling"


def test_library_info_logs_are_quiet_by_default():
    for name in QUIET_LOGGERS:
        logging.getLogger(name).setLevel(logging.NOTSET)
    logging.getLogger("orbax").setLevel(logging.DEBUG)  # asked for (hydra.verbose=orbax): kept
    quiet_library_logs()
    assert not logging.getLogger("absl").isEnabledFor(logging.INFO)
    assert not logging.getLogger("jax._src.xla_bridge").isEnabledFor(logging.INFO)
    assert logging.getLogger("absl").isEnabledFor(logging.WARNING)
    assert logging.getLogger("orbax").isEnabledFor(logging.DEBUG)
    logging.getLogger("orbax").setLevel(logging.WARNING)
