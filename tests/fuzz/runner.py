"""Run many ``genms`` command lines in this one process, each with its output captured.

``python -m tests.fuzz.runner cases.json results.json``: the cases are a JSON list of
``{"argv": [...]}``; each runs through :func:`genms.cli.main` under a wall-clock alarm, and its
exit code, output, seconds, resident memory before it and peak memory during it are written to
``results.json``. The models of
``genms generate`` are the fakes of ``tests/search/fakes.py`` (a tiny search, no model loads).
The caller bounds the address space of the whole process (``resource.RLIMIT_AS``).
"""

from __future__ import annotations

import contextlib
import io
import json
import logging
import signal
import sys
import time
import traceback

from genms.cli import main
from genms.parallel.executor import SerialExecutor
from genms.search.api import GenMS
from genms.search.language import LanguageLevel
from genms.search.tree import energy_worker, sampler_worker
from tests.search.fakes import FakePredictor, FakeProposer, FakeSampler, FakeScorer

CASE_SECONDS = 60


class CaseTimeout(BaseException):
    """A case ran past its time (a BaseException, so no handler in the code swallows it)."""


def _alarm(signum, frame):
    raise CaseTimeout()


def _fake_from_config(cls, cfg):
    language = LanguageLevel(FakeProposer(), FakeScorer())
    return cls(language, sampler_worker(FakeSampler()), energy_worker(FakePredictor()),
               SerialExecutor(), cfg.search)


def _memory_mb() -> tuple[float, float]:
    """(resident now, peak resident of this address space) in MB.

    ``ru_maxrss`` is not used: after ``fork``+``exec`` Linux carries the parent's peak into the
    child, so the first case would be charged with the pytest worker's memory. ``VmHWM`` belongs to
    this process's own address space, and writing ``5`` to ``clear_refs`` resets it.
    """
    fields = {}
    with open("/proc/self/status") as fh:
        for line in fh:
            key, _, value = line.partition(":")
            if key in ("VmRSS", "VmHWM"):
                fields[key] = int(value.split()[0]) / 1024
    return fields["VmRSS"], fields["VmHWM"]


def _reset_peak() -> None:
    with contextlib.suppress(OSError):
        with open("/proc/self/clear_refs", "w") as fh:
            fh.write("5")


def run_case(argv: list[str]) -> dict:
    out, err = io.StringIO(), io.StringIO()
    _reset_peak()
    rss_before, _ = _memory_mb()
    start = time.perf_counter()
    signal.alarm(CASE_SECONDS)
    try:
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
            try:
                code = main(list(argv))
            except SystemExit as exc:
                code = exc.code if isinstance(exc.code, int) else 1
                if exc.code is not None and not isinstance(exc.code, int):
                    err.write(f"{exc.code}\n")
    except CaseTimeout:
        code = "timeout"
    except BaseException:  # a crash: the traceback is the finding
        code = "crash"
        err.write(traceback.format_exc())
    finally:
        signal.alarm(0)
        for handler in list(logging.root.handlers):  # Hydra re-configures logging per run
            logging.root.removeHandler(handler)
    seconds = time.perf_counter() - start
    _, peak = _memory_mb()
    return {"argv": argv, "code": code, "stdout": out.getvalue()[-4000:],
            "stderr": err.getvalue()[-4000:], "seconds": seconds,
            "rss_before_mb": rss_before, "peak_mb": peak}


def run(cases_path: str, results_path: str) -> None:
    GenMS.from_config = classmethod(_fake_from_config)  # type: ignore[method-assign]
    signal.signal(signal.SIGALRM, _alarm)
    cases = json.load(open(cases_path))
    results = []
    for case in cases:
        results.append(run_case(case["argv"]))
        with open(results_path, "w") as fh:  # written after each case: a kill keeps the rest
            json.dump(results, fh)


if __name__ == "__main__":
    run(sys.argv[1], sys.argv[2])
