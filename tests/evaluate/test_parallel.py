"""parallel_map: same results as a serial loop, in order."""

from __future__ import annotations

import json
import os

from genms.benchmarks.throughput import main
from genms.evaluate.parallel import default_chunksize, parallel_map, resolve_workers


def square(x: int) -> int:
    return x * x


def pid_of(_: int) -> int:
    return os.getpid()


_STATE: dict = {}


def _init(value: int) -> None:
    _STATE["offset"] = value


def add_offset(x: int) -> int:
    return x + _STATE["offset"]


def test_parallel_equals_serial():
    items = list(range(237))
    expected = [square(x) for x in items]
    assert parallel_map(square, items, n_workers=1, progress=False) == expected
    assert parallel_map(square, items, n_workers=2, progress=False) == expected
    assert parallel_map(square, iter(items), n_workers=2, chunksize=5, progress=False) == expected
    assert parallel_map(square, [], n_workers=2, progress=False) == []


def test_workers_are_other_processes_and_initializer_runs():
    pids = set(parallel_map(pid_of, range(40), n_workers=2, chunksize=1, progress=False))
    assert os.getpid() not in pids
    assert parallel_map(add_offset, [1, 2, 3], n_workers=2, initializer=_init, initargs=(10,),
                        progress=False) == [11, 12, 13]
    assert parallel_map(
        add_offset, [1], n_workers=1, initializer=_init, initargs=(5,), progress=False
    ) == [6]


def test_chunking_and_worker_resolution():
    assert default_chunksize(10_000, 2) == 64
    assert default_chunksize(10, 2) == 1
    assert resolve_workers(0) == 1 and resolve_workers(3) == 3 and resolve_workers(-1) >= 1


def test_throughput_harness_runs_on_a_few_structures(tmp_path):
    out = tmp_path / "tp.json"
    assert main(["--n-validity", "6", "--n-pairs", "4", "--workers", "1", "--out", str(out)]) == 0

    result = json.loads(out.read_text())
    assert result["validity"]["n"] == 6 and result["matching"]["n_pairs"] == 4
    assert result["matching"]["match_rate_noisy_copies"] is not None
