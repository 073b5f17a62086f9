"""Where the search's work runs: the :class:`Executor` protocol and the in-process executor.

The search hands an executor two kinds of work:

* :meth:`Executor.map` — a pure function over many items (validity checks, structure
  matching, relaxation): CPU-heavy, stateless, fanned out over processes by Ray.
* :meth:`Executor.map_worker` — calls of one method of a stateful worker built once by a
  factory (the diffusion sampler, the energy GNN): the models load and compile once per
  worker, and on Ray the worker is an actor that owns a GPU when there is one.

Both take a :class:`MapSpec` naming the stage and a key per item. With a
:class:`~genms.parallel.journal.Journal`, items already in the journal are not run again
(their stored values are decoded instead) and every new result is appended the moment it
arrives, so an interrupted run resumes where it stopped. A task that raises is retried
``max_retries`` times; one that still fails comes back as :class:`TaskFailed` (never
journaled, so a resumed run tries it again) instead of aborting the whole run.

:class:`SerialExecutor` (the default) runs everything in this process; ``ray_executor.py``
has the Ray implementation; :func:`genms.parallel.build.build_executor` picks one.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

from genms.configs import ranged
from genms.parallel.journal import Journal

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class ExecutorConfig:
    """``executor`` config group (conf/executor/*.yaml).

    Attributes:
      name: ``serial`` or ``ray``.
      max_retries: extra attempts for a failed task (raised error or, on Ray, a dead worker).
      address: Ray only: ``null`` starts a private local Ray; ``auto`` or ``host:port`` joins
        a running cluster.
      num_cpus: Ray only, local start: CPUs Ray may use (``null`` = all of this machine).
      num_gpus_per_worker: GPUs given to each model worker actor (``null`` = 1 when the
        cluster has a GPU, else 0).
      num_workers: model worker actors per model (one per GPU is typical).
      cpu_batch: items per remote CPU task (amortises scheduling of tiny tasks).
    """

    name: str = "serial"
    max_retries: int = ranged(2, 0, 100)
    address: str | None = None
    num_cpus: int | None = ranged(None, 1, 100_000)
    num_gpus_per_worker: float | None = ranged(None, 0, 64)
    num_workers: int = ranged(1, 1, 10_000)
    cpu_batch: int = ranged(16, 1, 100_000)


@dataclass(frozen=True)
class TaskFailed:
    """A task that still failed after its retries (the item's result slot holds this)."""

    key: str
    error: str


@dataclass(frozen=True)
class WorkerSpec:
    """A stateful worker: ``factory()`` builds it once (inside a Ray actor on Ray).

    ``factory`` must be picklable for Ray (a module-level function or ``functools.partial``).
    """

    name: str
    factory: Callable[[], Any]
    uses_gpu: bool = False


def _identity(x: Any) -> Any:
    return x


@dataclass(frozen=True)
class MapSpec:
    """How one stage's results are keyed, journaled and reported.

    Attributes:
      stage: journal stage name (also used in log messages).
      keys: one unique, stable string per item (default: the item's index).
      journal: where finished results go; ``None`` keeps nothing on disk.
      encode / decode: result <-> JSON-able value for the journal.
      on_result: called once per finished item (resumed ones included), e.g. a progress bar.
    """

    stage: str = "map"
    keys: Sequence[str] | None = None
    journal: Journal | None = None
    encode: Callable[[Any], Any] = field(default=_identity)
    decode: Callable[[Any], Any] = field(default=_identity)
    on_result: Callable[[Any], None] | None = None

    def key_list(self, n: int) -> list[str]:
        keys = [str(i) for i in range(n)] if self.keys is None else [str(k) for k in self.keys]
        if len(keys) != n:
            raise ValueError(f"stage {self.stage!r}: {len(keys)} keys for {n} items")
        if len(set(keys)) != n:
            raise ValueError(f"stage {self.stage!r}: keys must be unique")
        return keys


class Executor(Protocol):
    def map(
        self, fn: Callable[[Any], Any], items: Sequence[Any], spec: MapSpec | None = None
    ) -> list[Any]:
        """``[fn(item) for item in items]`` (order kept; failures as :class:`TaskFailed`)."""
        ...

    def map_worker(
        self, worker: WorkerSpec, method: str, items: Sequence[Any], spec: MapSpec | None = None
    ) -> list[Any]:
        """``[getattr(w, method)(item) for item in items]`` with ``w = worker.factory()``."""
        ...

    def close(self) -> None: ...


class ResultBook:
    """Shared bookkeeping of a map: resumed results, pending indices, recording new results."""

    def __init__(self, items: Sequence[Any], spec: MapSpec) -> None:
        self.spec = spec
        self.keys = spec.key_list(len(items))
        self.results: list[Any] = [None] * len(items)
        self.pending: list[int] = []
        journal = spec.journal
        for i, key in enumerate(self.keys):
            if journal is not None and journal.has(spec.stage, key):
                self.results[i] = spec.decode(journal.get(spec.stage, key))
                self._notify(self.results[i])
            else:
                self.pending.append(i)
        if journal is not None and len(self.pending) < len(items):
            log.info(
                "%s: %d of %d items resumed from the journal",
                spec.stage, len(items) - len(self.pending), len(items),
            )

    def _notify(self, result: Any) -> None:
        if self.spec.on_result is not None:
            self.spec.on_result(result)

    def record(self, index: int, result: Any) -> None:
        self.results[index] = result
        if isinstance(result, TaskFailed):
            log.warning("%s: task %s failed: %s", self.spec.stage, result.key, result.error)
        elif self.spec.journal is not None:
            self.spec.journal.append(self.spec.stage, self.keys[index], self.spec.encode(result))
        self._notify(result)


def call_with_retries(fn: Callable[[Any], Any], item: Any, key: str, max_retries: int) -> Any:
    """``fn(item)``; on an exception retry up to ``max_retries`` times, then :class:`TaskFailed`."""
    error = ""
    for attempt in range(max_retries + 1):
        try:
            return fn(item)
        except Exception as exc:  # any task error becomes a recorded failure, never a crash
            error = f"{type(exc).__name__}: {exc}"
            if attempt < max_retries:
                log.info(
                    "task %s failed (%s); retrying (%d/%d)", key, error, attempt + 1, max_retries
                )
    return TaskFailed(key, error)


class SerialExecutor:
    """Runs every task in this process, in order; workers are built once and cached by name."""

    def __init__(self, max_retries: int = 0) -> None:
        self.max_retries = max_retries
        self._workers: dict[str, Any] = {}

    def map(
        self, fn: Callable[[Any], Any], items: Sequence[Any], spec: MapSpec | None = None
    ) -> list[Any]:
        book = ResultBook(items, spec or MapSpec())
        for i in book.pending:
            book.record(i, call_with_retries(fn, items[i], book.keys[i], self.max_retries))
        return book.results

    def worker(self, spec: WorkerSpec) -> Any:
        if spec.name not in self._workers:
            self._workers[spec.name] = spec.factory()
        return self._workers[spec.name]

    def map_worker(
        self, worker: WorkerSpec, method: str, items: Sequence[Any], spec: MapSpec | None = None
    ) -> list[Any]:
        book = ResultBook(items, spec or MapSpec())
        if not book.pending:
            return book.results
        fn = getattr(self.worker(worker), method)
        for i in book.pending:
            book.record(i, call_with_retries(fn, items[i], book.keys[i], self.max_retries))
        return book.results

    def close(self) -> None:
        self._workers.clear()

    def __enter__(self) -> SerialExecutor:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
