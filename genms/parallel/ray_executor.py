"""The Ray executor (the only module that imports ``ray``).

* CPU stages (:meth:`RayExecutor.map`) run as Ray tasks over small batches of items. A task
  whose worker process dies is re-run by Ray (``max_retries``); an error raised by the task
  function is retried inside the task; what still fails comes back as ``TaskFailed``.
* Model stages (:meth:`RayExecutor.map_worker`) run on actors built once from the worker's
  factory (the sampler and the energy model load and compile once per actor). An actor that
  asks for a GPU gets one when the cluster has one; a dead actor is restarted and its
  unfinished calls re-run (``max_restarts`` / ``max_task_retries``).
* Results are recorded in the driver as each task finishes (journal + progress), so a run
  interrupted mid-stage resumes with the finished items.

A local Ray is started privately: bound to 127.0.0.1, no dashboard, usage statistics off,
and ``HOME`` pointed at a temporary folder holding ``ray_bootstrap_config.yaml`` = ``{}`` so
Ray never probes cloud metadata services. ``executor.address`` joins an existing cluster
instead (``auto`` or ``host:port``).
"""

from __future__ import annotations

import atexit
import logging
import math
import os
import shutil
import tempfile
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from genms.parallel.executor import (
    ExecutorConfig,
    MapSpec,
    ResultBook,
    TaskFailed,
    WorkerSpec,
    call_with_retries,
)
from genms.paths import user_cache_dir

log = logging.getLogger(__name__)

#: Environment every Ray process (head, raylet, workers) inherits from the driver.
_RAY_ENV = {
    "RAY_USAGE_STATS_ENABLED": "0",
    # Without this Ray resolves 127.0.0.1 to the "remotely reachable" address of the host.
    "RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER": "0",
}


#: Seconds without any finished task before the executor says it is still waiting.
_STALL_WARNING_S = 300


_PROCESS_HOME: Path | None = None


def _private_home() -> Path:
    """One private HOME per driver process, removed at exit.

    It holds ``ray_bootstrap_config.yaml`` (``{}``: no cloud-metadata probes) and the auth token
    Ray writes on its first local start; Ray remembers token mode for the rest of the process,
    so a later ``ray.init`` in the same process must find the token at the same place.
    """
    global _PROCESS_HOME
    if _PROCESS_HOME is None or not _PROCESS_HOME.is_dir():
        _PROCESS_HOME = Path(tempfile.mkdtemp(prefix="genms-ray-home-"))
        (_PROCESS_HOME / "ray_bootstrap_config.yaml").write_text("{}\n")
        atexit.register(shutil.rmtree, _PROCESS_HOME, True)
    return _PROCESS_HOME


def _run_batch(fn: Callable[[Any], Any], items: list, keys: list[str], max_retries: int) -> list:
    """One Ray task: ``fn`` over a few items, each error retried and then kept as a failure."""
    return [
        call_with_retries(fn, item, key, max_retries) for item, key in zip(items, keys, strict=True)
    ]


class _WorkerActor:
    """Holds one worker object built by its factory; runs its methods on request."""

    def __init__(self, factory: Callable[[], Any]) -> None:
        self.obj = factory()

    def call(self, method: str, item: Any, key: str, max_retries: int) -> Any:
        return call_with_retries(getattr(self.obj, method), item, key, max_retries)


class RayExecutor:
    """Executor on a private local Ray or on a running cluster (``cfg.address``)."""

    def __init__(self, cfg: ExecutorConfig) -> None:
        self.cfg = cfg
        self._saved_env: dict[str, str | None] = {}
        self._home: Path | None = None
        self._started = False
        self._actors: dict[str, list[Any]] = {}
        self.ray = self._connect()

    # -- lifecycle -----------------------------------------------------------------------
    def _set_env(self, name: str, value: str) -> None:
        self._saved_env.setdefault(name, os.environ.get(name))
        os.environ[name] = value

    def _connect(self) -> Any:
        for name, value in _RAY_ENV.items():
            self._set_env(name, value)
        if self.cfg.address:
            # A cluster's processes already exist; only this driver's environment matters.
            self._set_env("RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER", "1")
        import ray  # noqa: PLC0415 - optional dependency
        from ray._private import ray_constants  # noqa: PLC0415 - optional dependency

        if ray.is_initialized():
            log.info("using the Ray instance this process already joined")
            return ray
        # Keep genms' cache folder where it was: Ray processes run with the private HOME.
        self._set_env("XDG_CACHE_HOME", str(user_cache_dir().parent))
        self._home = _private_home()
        self._set_env("HOME", str(self._home))
        try:
            if self.cfg.address:
                ray.init(address=self.cfg.address, log_to_driver=False)
            else:
                # The flag is read when ray is first imported; set it again in case ray was
                # imported before this executor (it keeps 127.0.0.1 from being re-resolved).
                ray_constants.ENABLE_RAY_CLUSTER = False
                ray.init(
                    num_cpus=self.cfg.num_cpus,
                    include_dashboard=False,
                    _node_ip_address="127.0.0.1",
                    log_to_driver=False,
                    configure_logging=False,
                )
        except Exception:
            self._restore_env()
            raise
        self._started = True
        res = ray.cluster_resources()
        log.info("Ray: %g CPUs, %g GPUs", res.get("CPU", 0), res.get("GPU", 0))
        return ray

    def _restore_env(self) -> None:
        for name, value in self._saved_env.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value
        self._saved_env.clear()
        self._home = None  # the per-process HOME is removed at exit (see _private_home)

    def close(self) -> None:
        for actors in self._actors.values():
            for actor in actors:
                self.ray.kill(actor)
        self._actors.clear()
        if self._started:
            self.ray.shutdown()
            self._started = False
        self._restore_env()

    def __enter__(self) -> RayExecutor:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- work ----------------------------------------------------------------------------
    def _n_cpus(self) -> int:
        return max(1, int(self.ray.cluster_resources().get("CPU", 1)))

    def _collect(self, book: ResultBook, refs: dict[Any, list[int]], batched: bool) -> None:
        """Record results as tasks finish, in completion order.

        ``batched``: each task returns a list with one result per index (CPU batches);
        otherwise a task returns the single result of its one index (actor calls).
        """
        while refs:
            done, _ = self.ray.wait(list(refs), num_returns=1, timeout=_STALL_WARNING_S)
            if not done:
                log.warning("%s: %d task(s) unfinished after %d s more; if Ray reports pending "
                            "resources, the cluster lacks the CPUs/GPUs asked for", book.spec.stage,
                            len(refs), _STALL_WARNING_S)
            for ref in done:
                indices = refs.pop(ref)
                try:
                    out = self.ray.get(ref) if batched else [self.ray.get(ref)]
                except self.ray.exceptions.RayError as exc:
                    msg = f"{type(exc).__name__}: {str(exc).splitlines()[0] if str(exc) else ''}"
                    out = [TaskFailed(book.keys[i], msg) for i in indices]
                for i, result in zip(indices, out, strict=True):
                    book.record(i, result)

    def map(
        self, fn: Callable[[Any], Any], items: Sequence[Any], spec: MapSpec | None = None
    ) -> list[Any]:
        book = ResultBook(items, spec or MapSpec())
        if not book.pending:
            return book.results
        # Small enough batches that every CPU gets several (load balance), large enough to
        # amortise scheduling.
        size = max(1, min(self.cfg.cpu_batch, math.ceil(len(book.pending) / (4 * self._n_cpus()))))
        remote = self.ray.remote(_run_batch).options(max_retries=self.cfg.max_retries)
        fn_ref = self.ray.put(fn)
        refs: dict[Any, list[int]] = {}
        for start in range(0, len(book.pending), size):
            idx = book.pending[start : start + size]
            ref = remote.remote(fn_ref, [items[i] for i in idx], [book.keys[i] for i in idx],
                                self.cfg.max_retries)
            refs[ref] = idx
        self._collect(book, refs, batched=True)
        return book.results

    def _workers(self, spec: WorkerSpec) -> list[Any]:
        if spec.name not in self._actors:
            have = float(self.ray.cluster_resources().get("GPU", 0))
            gpus = self.cfg.num_gpus_per_worker
            if gpus is None:
                gpus = 1.0 if spec.uses_gpu and have >= 1 else 0.0
            n = max(1, self.cfg.num_workers)
            if gpus > 0 and n * gpus > have:  # more than the cluster has would wait forever
                n = max(1, int(have // gpus))
                if gpus > have:
                    raise ValueError(
                        f"executor.num_gpus_per_worker={gpus} but the Ray cluster has {have:g} GPUs"
                    )
                log.warning("%s: only %d worker(s) fit on %g GPUs", spec.name, n, have)
            # num_cpus=0: a model actor never blocks the CPU tasks (or another actor) from running;
            # its compute is the accelerator's, or on a CPU-only machine shared like any process.
            actor_cls = self.ray.remote(_WorkerActor).options(
                num_cpus=0,
                num_gpus=gpus,
                max_restarts=self.cfg.max_retries,
                max_task_retries=self.cfg.max_retries,
            )
            self._actors[spec.name] = [
                actor_cls.remote(spec.factory) for _ in range(n)
            ]
        return self._actors[spec.name]

    def map_worker(
        self, worker: WorkerSpec, method: str, items: Sequence[Any], spec: MapSpec | None = None
    ) -> list[Any]:
        book = ResultBook(items, spec or MapSpec())
        if not book.pending:
            return book.results
        actors = self._workers(worker)
        refs: dict[Any, list[int]] = {}
        for n, i in enumerate(book.pending):
            actor = actors[n % len(actors)]
            refs[actor.call.remote(method, items[i], book.keys[i], self.cfg.max_retries)] = [i]
        self._collect(book, refs, batched=False)
        return book.results
