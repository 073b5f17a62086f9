"""The serial executor: order, retries, failures, journaled resume, cached workers."""

from __future__ import annotations

import pytest

from genms.parallel.build import build_executor
from genms.parallel.executor import (
    ExecutorConfig,
    MapSpec,
    SerialExecutor,
    TaskFailed,
    WorkerSpec,
)
from genms.parallel.journal import Journal


def square(x: int) -> int:
    return x * x


class Flaky:
    """Fails the first ``n_fail`` calls for each item."""

    def __init__(self, n_fail: int) -> None:
        self.n_fail = n_fail
        self.calls: dict[int, int] = {}

    def __call__(self, x: int) -> int:
        self.calls[x] = self.calls.get(x, 0) + 1
        if self.calls[x] <= self.n_fail:
            raise RuntimeError(f"flaky {x}")
        return -x


def test_map_keeps_order():
    assert SerialExecutor().map(square, [3, 1, 2]) == [9, 1, 4]


def test_retries_then_failure():
    ex = SerialExecutor(max_retries=1)
    flaky = Flaky(n_fail=1)
    assert ex.map(flaky, [1, 2]) == [-1, -2]
    assert flaky.calls == {1: 2, 2: 2}
    hopeless = Flaky(n_fail=5)
    out = ex.map(hopeless, [7], MapSpec(stage="x", keys=["seven"]))
    assert isinstance(out[0], TaskFailed)
    assert out[0].key == "seven" and "flaky 7" in out[0].error
    assert hopeless.calls[7] == 2


def test_resume_skips_journaled_items_and_failures_are_not_journaled(tmp_path):
    journal = Journal(tmp_path / "j.jsonl", fingerprint="fp")
    seen: list[int] = []

    def work(x: int) -> int:
        seen.append(x)
        if x == 3:
            raise ValueError("bad item")
        return x + 100

    spec = MapSpec(stage="work", keys=["a", "b", "c"], journal=journal)
    first = SerialExecutor().map(work, [1, 2, 3], spec)
    assert first[:2] == [101, 102] and isinstance(first[2], TaskFailed)
    seen.clear()
    resumed = Journal(tmp_path / "j.jsonl", fingerprint="fp")
    progress: list[object] = []
    spec2 = MapSpec(stage="work", keys=["a", "b", "c"], journal=resumed, on_result=progress.append)
    second = SerialExecutor().map(lambda x: x + 100, [1, 2, 3], spec2)
    assert second == [101, 102, 103]
    assert seen == []  # nothing from the first run's function ran again
    assert len(progress) == 3
    assert resumed.get("work", "c") == 103


def test_encode_decode_roundtrip(tmp_path):
    journal = Journal(tmp_path / "j.jsonl")
    spec = MapSpec(stage="t", journal=journal, encode=list, decode=tuple)
    assert SerialExecutor().map(lambda x: (x, x), [1], spec) == [(1, 1)]
    assert SerialExecutor().map(
        lambda x: None, [1], MapSpec(stage="t", journal=Journal(tmp_path / "j.jsonl"), decode=tuple)
    ) == [(1, 1)]


class Counter:
    built = 0

    def __init__(self) -> None:
        Counter.built += 1

    def double(self, x: int) -> int:
        return 2 * x


def test_worker_built_once():
    Counter.built = 0
    ex = SerialExecutor()
    spec = WorkerSpec("counter", Counter)
    assert ex.map_worker(spec, "double", [1, 2]) == [2, 4]
    assert ex.map_worker(spec, "double", [3]) == [6]
    assert Counter.built == 1


def test_keys_must_be_unique():
    with pytest.raises(ValueError, match="unique"):
        SerialExecutor().map(square, [1, 2], MapSpec(keys=["k", "k"]))


def test_build_executor_names():
    assert isinstance(build_executor(ExecutorConfig()), SerialExecutor)
    with pytest.raises(ValueError, match="executor=serial or executor=ray"):
        build_executor(ExecutorConfig(name="dask"))
