"""The Ray executor on a private local Ray with 2 workers: a worker killed mid-run, resume.

One Ray instance serves the whole module (starting Ray costs a few seconds).
"""

from __future__ import annotations

import functools
import os
import sys
from pathlib import Path

import cloudpickle
import pytest

from genms.search.config import SearchConfig
from genms.search.tree import ForwardTreeSearch, energy_worker, sampler_worker
from tests.search import fakes

ray = pytest.importorskip("ray")  # the executor must cope with ray imported first

from genms.parallel.executor import ExecutorConfig, MapSpec, TaskFailed, WorkerSpec  # noqa: E402
from genms.parallel.journal import Journal  # noqa: E402
from genms.parallel.ray_executor import RayExecutor  # noqa: E402
from tests.conftest import is_loopback  # noqa: E402


@pytest.fixture(scope="module")
def executor():
    # Ray workers cannot import this test module: ship its functions by value.
    cloudpickle.register_pickle_by_value(sys.modules[__name__])
    home = os.environ.get("HOME")
    ex = RayExecutor(ExecutorConfig(name="ray", num_cpus=2, max_retries=2, cpu_batch=1))
    try:
        yield ex
    finally:
        ex.close()
        cloudpickle.unregister_pickle_by_value(sys.modules[__name__])
    assert os.environ.get("HOME") == home  # the private HOME is only for Ray's processes


def die_once(item: tuple[int, str]) -> int:
    """Kills its worker process the first time it sees item 2 (a marker file remembers)."""
    x, marker = item
    if x == 2 and not os.path.exists(marker):
        Path(marker).write_text("died")
        os._exit(1)
    return x * 10


def record_call(item: tuple[int, str]) -> int:
    x, folder = item
    Path(folder, f"ran-{x}").write_text("")
    return x * 10


def test_private_ray_is_local_only(executor):
    nodes = ray.nodes()
    assert len(nodes) == 1 and nodes[0]["NodeManagerAddress"] == "127.0.0.1"
    assert ray.cluster_resources()["CPU"] == 2


def test_private_ray_serves_no_dashboard_and_listens_on_loopback_only(executor):
    psutil = pytest.importorskip("psutil")
    listening = []
    for proc in psutil.Process().children(recursive=True):
        try:
            cmdline = proc.cmdline()
            conns = proc.net_connections(kind="inet")
        except psutil.Error:
            continue
        if any(a.endswith("dashboard.py") for a in cmdline):
            assert "--minimal" in cmdline  # include_dashboard=False: no web UI, no HTTP server
        listening += [(c.laddr.ip, c.laddr.port) for c in conns if c.status == psutil.CONN_LISTEN]
    assert listening, "found no Ray process listening"
    assert all(port != 8265 for _, port in listening), listening
    assert all(is_loopback(ip) for ip, _ in listening), listening


def test_killed_worker_is_retried_and_results_are_journaled(executor, tmp_path):
    marker = str(tmp_path / "died.marker")
    journal = Journal(tmp_path / "journal.jsonl", fingerprint="fp")
    items = [(x, marker) for x in range(6)]
    out = executor.map(die_once, items, MapSpec(stage="kill", journal=journal))
    assert Path(marker).exists()  # a worker really died mid-run
    assert out == [0, 10, 20, 30, 40, 50]
    assert Journal(tmp_path / "journal.jsonl", fingerprint="fp").count("kill") == 6


def test_resume_runs_only_unfinished_items(executor, tmp_path):
    path = tmp_path / "journal.jsonl"
    journal = Journal(path, fingerprint="fp")
    for x in (0, 1, 4):  # a previous, interrupted run finished these
        journal.append("stage", str(x), x * 10)
    calls = tmp_path / "calls"
    calls.mkdir()
    resumed = Journal(path, fingerprint="fp")
    items = [(x, str(calls)) for x in range(6)]
    out = executor.map(record_call, items, MapSpec(stage="stage", journal=resumed))
    assert out == [0, 10, 20, 30, 40, 50]
    assert sorted(p.name for p in calls.iterdir()) == ["ran-2", "ran-3", "ran-5"]


class ExitOnce:
    """A model worker whose process dies on its first call for item 1."""

    def __init__(self, marker: str) -> None:
        self.marker = marker

    def run(self, x: int) -> list[int]:
        if x == 1 and not os.path.exists(self.marker):
            Path(self.marker).write_text("died")
            os._exit(1)
        if x == 3:
            raise ValueError("unsupported item")
        return [x, x]


def make_exit_once(marker: str) -> ExitOnce:
    return ExitOnce(marker)


def test_worker_actor_restarts_after_death(executor, tmp_path):
    marker = str(tmp_path / "actor.marker")
    spec = WorkerSpec("exit-once", functools.partial(make_exit_once, marker))
    out = executor.map_worker(spec, "run", [0, 1, 2, 3])
    assert Path(marker).exists()
    assert out[:3] == [[0, 0], [1, 1], [2, 2]]  # list results are kept whole
    assert isinstance(out[3], TaskFailed) and "unsupported item" in out[3].error


def test_search_on_ray_equals_serial(executor):
    """The tree search gives the same ranked structures on Ray workers as in-process."""
    cloudpickle.register_pickle_by_value(fakes)
    try:
        def run(ex=None):
            kw = {} if ex is None else {"executor": ex}
            search = ForwardTreeSearch(
                fakes.FakeProposer(),
                fakes.FakeScorer(),
                sampler_worker(fakes.FakeSampler(collapse=["CaTiO3"])),
                energy_worker(fakes.FakePredictor()),
                SearchConfig(H=5, W=3, L=3, sample_chunk=1, energy_batch=4),
                **kw,
            )
            return search.run("perovskite", seed=5)

        serial, remote = run(), run(executor)
    finally:
        cloudpickle.unregister_pickle_by_value(fakes)
    assert [(c.id, c.status, c.rank) for c in remote.candidates] == [
        (c.id, c.status, c.rank) for c in serial.candidates
    ]
    assert [c.e_form for c in remote.ranked] == pytest.approx([c.e_form for c in serial.ranked])
    assert {c.status for c in remote.candidates} == {"kept", "invalid_structure"}
