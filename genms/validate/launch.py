"""Running one calculation: in this process, or in a child process (serial or ``mpiexec``).

The child-process launcher is the default for real DFT because it

* sets ``OPENBLAS_NUM_THREADS`` / ``OMP_NUM_THREADS`` before NumPy loads (GPAW is 2–5x slower
  with OpenBLAS's default threading on small cells),
* isolates crashes (a segfault or an MPI abort fails one structure, not the batch),
* enforces a wall-clock limit (the whole process group is killed),
* runs ``mpiexec -n N`` with ``GPAW_MPI_BACKEND=cgpaw`` for MPI parallelism (and the two
  ``OMPI_ALLOW_RUN_AS_ROOT*`` variables when running as root).

:func:`run_calculation` never raises: a crash, a timeout or a missing result becomes a
result with ``status`` ``failed`` or ``timeout`` and the tail of the child's output. When the
parent itself is interrupted (Ctrl-C, or SIGTERM inside :func:`sigterm_as_exit`) it kills the
child's process group before it stops, so no calculation is left running on its own.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import signal
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

from genms.validate.config import LaunchConfig
from genms.validate.dft import run_job

log = logging.getLogger(__name__)

_TAIL = 1500


def child_env(cfg: LaunchConfig) -> dict[str, str]:
    env = dict(os.environ)
    threads = str(cfg.threads)
    env.update(
        {
            "OPENBLAS_NUM_THREADS": threads,
            "OMP_NUM_THREADS": threads,
            "MKL_NUM_THREADS": threads,
            "PYTHONUNBUFFERED": "1",
        }
    )
    if cfg.mpi_ranks > 1:
        env["GPAW_MPI_BACKEND"] = "cgpaw"
        if hasattr(os, "geteuid") and os.geteuid() == 0:
            env.update({"OMPI_ALLOW_RUN_AS_ROOT": "1", "OMPI_ALLOW_RUN_AS_ROOT_CONFIRM": "1"})
    else:
        env.pop("GPAW_MPI_BACKEND", None)
    return env


def command(cfg: LaunchConfig, job_path: Path, result_path: Path) -> list[str]:
    cmd = [sys.executable, "-m", "genms.validate.worker", str(job_path), str(result_path)]
    if cfg.mpi_ranks > 1:
        cmd = [*cfg.mpiexec.split(), "-n", str(cfg.mpi_ranks), *cmd]
    if cfg.nice:
        cmd = ["nice", "-n", str(cfg.nice), *cmd]
    return cmd


def _failure(job: dict, status: str, error: str, start: float) -> dict:
    return {"label": job.get("label"), "status": status, "error": error, "mode": job.get("mode"),
            "wall_s": round(time.perf_counter() - start, 3)}


def run_calculation(job: dict, cfg: LaunchConfig, workdir: str | Path | None = None) -> dict:
    """Run ``job`` (see :mod:`genms.validate.dft`) and return its result dict."""
    start = time.perf_counter()
    if cfg.launcher == "inprocess":
        return run_job(job)
    with tempfile.TemporaryDirectory(prefix="genms-dft-", dir=workdir) as tmp:
        job_path, result_path = Path(tmp) / "job.json", Path(tmp) / "result.json"
        job_path.write_text(json.dumps(job))
        cmd = command(cfg, job_path, result_path)
        log.debug("running %s", " ".join(cmd))
        proc = subprocess.Popen(
            cmd,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            env=child_env(cfg),
            start_new_session=True,
            text=True,
        )
        try:
            output, _ = proc.communicate(timeout=cfg.timeout_s)
        except subprocess.TimeoutExpired:
            _kill_group(proc)
            return _failure(
                job, "timeout", f"killed after {cfg.timeout_s:g} s (launch.timeout_s)", start
            )
        except BaseException:  # interrupted: the calculation must not outlive this process
            _kill_group(proc)
            raise
        if result_path.exists():
            result = json.loads(result_path.read_text())
            if proc.returncode != 0 and result.get("status") == "ok":
                result["warning"] = f"worker exited with code {proc.returncode}"
            return result
        tail = (output or "")[-_TAIL:].strip()
        return _failure(
            job,
            "failed",
            f"calculation process exited with code {proc.returncode} and no result; "
            f"last output: {tail or '(none)'}",
            start,
        )


def _kill_group(proc: subprocess.Popen) -> None:
    try:
        os.killpg(proc.pid, signal.SIGKILL)
    except ProcessLookupError:
        pass
    proc.wait()


@contextlib.contextmanager
def sigterm_as_exit():
    """Within the block, SIGTERM raises ``SystemExit`` in the main thread (so a running
    calculation's process group is killed on the way out) instead of ending Python at once."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def _exit(signum, frame):
        raise SystemExit(128 + signum)

    previous = signal.signal(signal.SIGTERM, _exit)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)
