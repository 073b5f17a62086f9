"""Executors for the search's CPU-heavy and model stages (serial by default, Ray on request).

Ray is imported only by :mod:`genms.parallel.ray_executor`, and only when a Ray executor starts.
"""

from genms.parallel.build import build_executor
from genms.parallel.executor import (
    Executor,
    ExecutorConfig,
    MapSpec,
    SerialExecutor,
    TaskFailed,
    WorkerSpec,
)
from genms.parallel.journal import Journal, JournalMismatch

__all__ = [
    "Executor",
    "ExecutorConfig",
    "Journal",
    "JournalMismatch",
    "MapSpec",
    "SerialExecutor",
    "TaskFailed",
    "WorkerSpec",
    "build_executor",
]
