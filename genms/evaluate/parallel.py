"""A process-pool ``map`` with chunking and a progress bar, for the CPU-heavy metrics.

:func:`parallel_map` keeps the input order, runs serially when ``n_workers <= 1`` (handy in
tests and debuggers) and otherwise spreads chunks of items over a ``multiprocessing`` pool.
``fn`` must be picklable: a module-level function or an instance of a module-level class.

Workers are forked from the calling process unless JAX has been imported: JAX starts
threads, and forking a threaded process can deadlock, so then the pool uses the
``forkserver`` start method (a clean server process forks the workers).
"""

from __future__ import annotations

import logging
import math
import multiprocessing as mp
import os
import sys
from collections.abc import Callable, Iterable, Sequence
from typing import TypeVar

from tqdm.auto import tqdm

log = logging.getLogger(__name__)

T = TypeVar("T")
R = TypeVar("R")

#: Modules the forkserver imports once, so each worker starts warm.
_PRELOAD = ["genms.evaluate.validity", "genms.evaluate.matching"]


def resolve_workers(n_workers: int | None) -> int:
    """``None`` or a value < 0 means every core; the result is at least 1."""
    if n_workers is None or n_workers < 0:
        return max(1, os.cpu_count() or 1)
    return max(1, int(n_workers))


def default_chunksize(n_items: int, n_workers: int, max_chunk: int = 64) -> int:
    """About eight chunks per worker (so the load balances), never more than ``max_chunk``."""
    if n_items <= 0:
        return 1
    return max(1, min(max_chunk, math.ceil(n_items / (8 * n_workers))))


def _context() -> mp.context.BaseContext:
    if "jax" in sys.modules and "forkserver" in mp.get_all_start_methods():
        ctx = mp.get_context("forkserver")
        ctx.set_forkserver_preload(_PRELOAD)
        return ctx
    if "fork" in mp.get_all_start_methods():
        return mp.get_context("fork")
    return mp.get_context("spawn")


def parallel_map(
    fn: Callable[[T], R],
    items: Iterable[T],
    n_workers: int | None = 1,
    desc: str = "",
    chunksize: int | None = None,
    progress: bool = True,
    initializer: Callable[..., None] | None = None,
    initargs: tuple = (),
) -> list[R]:
    """``[fn(x) for x in items]``, over ``n_workers`` processes, with a tqdm progress bar.

    Args:
      fn: a picklable callable of one argument (module-level function or class instance).
      items: the inputs; materialised into a list.
      n_workers: processes to use; ``<= 1`` runs in this process, ``None``/negative = all cores.
      desc: label of the progress bar.
      chunksize: items per task sent to a worker (default :func:`default_chunksize`).
      progress: show the bar (it goes to stderr).
      initializer: called with ``initargs`` once in every worker (or once here when serial)
        before any item, e.g. to install large read-only data once instead of per chunk.
    """
    seq: Sequence[T] = items if isinstance(items, list) else list(items)
    n = len(seq)
    workers = min(resolve_workers(n_workers), max(1, n))
    bar = tqdm(total=n, desc=desc or None, disable=not progress, leave=False, dynamic_ncols=True)
    try:
        if workers <= 1:
            if initializer is not None:
                initializer(*initargs)
            out = []
            for x in seq:
                out.append(fn(x))
                bar.update(1)
            return out
        size = chunksize or default_chunksize(n, workers)
        log.debug("parallel_map %s: %d items, %d workers, chunks of %d", desc, n, workers, size)
        with _context().Pool(processes=workers, initializer=initializer, initargs=initargs) as pool:
            out = []
            for r in pool.imap(fn, seq, chunksize=size):
                out.append(r)
                bar.update(1)
            return out
    finally:
        bar.close()
