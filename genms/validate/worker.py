"""Entry point of one calculation in its own process: ``python -m genms.validate.worker JOB
RESULT``.

Run serially, or under ``mpiexec -n N`` with ``GPAW_MPI_BACKEND=cgpaw`` (GPAW then
parallelises over k-points, domains and bands). Every rank computes; rank 0 alone writes
the result file (atomically), so the launcher finds either a complete result or none.
"""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path

from genms.io import atomic_write_json
from genms.validate.dft import run_job


def _rank() -> int:
    if os.environ.get("GPAW_MPI_BACKEND") in ("cgpaw", "mpi4py"):
        from gpaw.mpi import world  # noqa: PLC0415 - optional dependency

        return int(world.rank)
    return 0


def main(argv: list[str] | None = None) -> int:
    args = list(sys.argv[1:] if argv is None else argv)
    if len(args) != 2:
        sys.stderr.write("usage: python -m genms.validate.worker JOB.json RESULT.json\n")
        return 2
    job_path, result_path = Path(args[0]), Path(args[1])
    job = json.loads(job_path.read_text())

    result = run_job(job)
    if _rank() == 0:
        atomic_write_json(result_path, result, indent=None)
    return 0


if __name__ == "__main__":
    sys.exit(main())
