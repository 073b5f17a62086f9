"""Executors for the search's CPU-heavy and model stages (serial by default, Ray on request).

Ray is imported only by :mod:`genms.parallel.ray_executor`, and only when it is chosen.
"""

from genms.parallel.executor import (
    Executor,
    ExecutorConfig,
    MapSpec,
    SerialExecutor,
    TaskFailed,
    WorkerSpec,
    build_executor,
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
