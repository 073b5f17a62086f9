"""``genms sweep``: run the points of a sweep in parallel with Ray (or serially), resumably.

::

    genms sweep train energy optim.lr=1e-3,3e-4 seed=0,1 sweep.workers=2
    genms sweep generate "a chloride perovskite" search.H=1,25 search.L=1,100
    genms sweep python my_script.py x=1,2,3 sweep.executor=serial

The words before the overrides name the command (any ``genms`` command, or any other program
whose ``key=value`` arguments are swept). Options of the sweep itself are ``sweep.<key>=...``
(:class:`SweepConfig`, defaults in ``conf/sweep.yaml``); everything else belongs to the command.

Each point runs as its own sub-process in its own folder ``<sweep dir>/points/<name>``
(``stdout.log``, ``stderr.log``, and for genms commands ``hydra.run.dir`` and the command's
output key point there). On Ray each point is one task asking for ``cpus_per_point`` CPUs and
``gpus_per_point`` GPUs, on a private local Ray (``workers`` CPUs) or on a running cluster
(``sweep.address=auto`` or ``host:port``). A line per point goes to ``<sweep dir>/sweep.jsonl``
the moment it finishes; a rerun skips the points already ``ok``. ``sweep.only=<index>`` runs one
point in this process — what a SLURM array task does (``slurm/train_sweep.sbatch``).

Every point's environment names its sweep (``GENMS_SWEEP_NAME``, ``GENMS_SWEEP_POINT``,
``GENMS_SWEEP_PARAMS``, ``GENMS_SWEEP_POINT_DIR``), which :mod:`genms.tracking.reports` turns
into W&B groups and tags.
"""

from __future__ import annotations

import ctypes
import functools
import json
import logging
import os
import signal
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

from hydra.errors import HydraException
from rich.table import Table

from genms.cli import compose, quote_value
from genms.configs import ConfigError, ranged, to_dataclass
from genms.console import make_console
from genms.io import atomic_write_json
from genms.launch.expand import SweepError, SweepPoint, SweepSpec, build_spec, detect_output_key
from genms.parallel.executor import ExecutorConfig
from genms.parallel.ray_executor import RayExecutor
from genms.tracking.reports import ReportConfig, SweepPointInfo, log_finished_run
from genms.tracking.sweep_log import STATUS_OK, SweepLog, read_point_result

log = logging.getLogger(__name__)

DEFAULT_RESULT_FILES = ("run.json", "result.json", "results.json", "summary.json",
                        "metrics.json", "metrics.jsonl")


@dataclass(frozen=True)
class SweepConfig:
    """``sweep.*`` options of ``genms sweep``.

    Attributes:
      dir: the sweep's folder (``null``: ``runs/sweeps/<command>-<hash of the sweep>``, so the
        same command line resumes the same folder).
      name: the sweep's name (W&B group of its runs); ``null``: derived from the command.
      executor: ``ray`` or ``serial``.
      workers: CPUs of a private local Ray (``null``: all of this machine's).
      address: join a running Ray cluster instead (``auto`` or ``host:port``; ``null`` with
        ``RAY_ADDRESS`` set, as in ``slurm/ray_cluster.sbatch``: that cluster).
      cpus_per_point / gpus_per_point: Ray resources each point asks for.
      max_retries: Ray re-runs of a point whose worker died.
      retry_failed: rerun points recorded as failed (``ok`` points are always skipped).
      only: run only the point with this index, in this process (SLURM array tasks).
      dry_run: print the points and exit.
      output_key: override receiving each point's folder (``auto``: found in the command's
        config; ``null``: none; external commands get it only when named here).
      timeout_s: per-point time limit (``null``: none).
      result_files: files (in the point folder, up to 3 levels deep) whose content becomes the
        point's ``result``; the first found wins.
      wandb / wandb_mode: record every finished point as a W&B run (group: the sweep's name; tags:
        its swept values; its numeric result as metrics, its top structures as pictures), offline
        by default, in ``<point dir>/tracking``.
    """

    dir: str | None = None
    name: str | None = None
    executor: str = "ray"
    workers: int | None = ranged(None, 1, 100_000)
    address: str | None = None
    cpus_per_point: float = ranged(1.0, 0, 1024)
    gpus_per_point: float = ranged(0.0, 0, 64)
    max_retries: int = ranged(1, 0, 100)
    retry_failed: bool = True
    only: int | None = ranged(None, 0, 10**7)
    dry_run: bool = False
    output_key: str | None = "auto"
    timeout_s: float | None = ranged(None, 0, 10**7, lo_open=True)
    wandb: bool = False
    wandb_mode: str = "offline"
    result_files: list[str] = field(default_factory=lambda: list(DEFAULT_RESULT_FILES))


@dataclass(frozen=True)
class PointTask:
    """Everything a worker needs to run one point (picklable; no genms state)."""

    index: int
    point_id: str
    name: str
    argv: tuple[str, ...]
    dir: str
    env: tuple[tuple[str, str], ...]
    cwd: str
    timeout_s: float | None
    result_files: tuple[str, ...]
    overrides: tuple[str, ...]
    params: tuple[tuple[str, str], ...]


def _die_with_parent() -> None:  # pragma: no cover - runs in the child between fork and exec
    """Linux: the point's process gets SIGTERM when the worker that started it dies."""
    try:
        ctypes.CDLL("libc.so.6").prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG
    except (OSError, AttributeError):
        pass


def _resolve_argv(argv: tuple[str, ...]) -> list[str]:
    if argv[:1] == ("genms",):
        return [sys.executable, "-m", "genms.cli", *argv[1:]]
    return list(argv)


def _tail(path: Path, n_chars: int = 2000) -> str:
    try:
        return path.read_text(encoding="utf-8", errors="replace")[-n_chars:]
    except OSError:
        return ""


def run_point(task: PointTask) -> dict:
    """Run one point as a sub-process; return its record (never raises for a failing run)."""
    point_dir = Path(task.dir)
    point_dir.mkdir(parents=True, exist_ok=True)
    env = os.environ.copy()
    env.update(dict(task.env))
    if "HOME" in env and not Path(env["HOME"]).is_dir():
        env.pop("HOME")
    cwd = task.cwd if Path(task.cwd).is_dir() else str(point_dir)
    started = time.time()
    status, returncode, error = STATUS_OK, None, ""
    stdout, stderr = point_dir / "stdout.log", point_dir / "stderr.log"
    try:
        with open(stdout, "w") as out, open(stderr, "w") as err:
            proc = subprocess.Popen(
                _resolve_argv(task.argv),
                stdout=out,
                stderr=err,
                env=env,
                cwd=cwd,
                preexec_fn=_die_with_parent if os.name == "posix" else None,
            )
            try:
                returncode = proc.wait(timeout=task.timeout_s)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
                status, error = "timeout", f"killed after {task.timeout_s} s"
            except BaseException:
                proc.kill()
                proc.wait()
                raise
    except OSError as exc:
        status, error = "failed", f"could not start {task.argv[0]!r}: {exc}"
    if status == STATUS_OK and returncode != 0:
        status, error = "failed", _tail(stderr) or f"exit code {returncode}"
    result, result_file = read_point_result(point_dir, task.result_files)
    return {
        "point": task.point_id, "index": task.index, "name": task.name, "status": status,
        "returncode": returncode, "wall_s": round(time.time() - started, 3),
        "started": started, "finished": time.time(), "dir": task.dir,
        "overrides": list(task.overrides), "params": dict(task.params),
        "result": result, "result_file": result_file, "error": error[-2000:],
    }


# -- building the tasks -----------------------------------------------------------------------
def sweep_dir(spec: SweepSpec, cfg: SweepConfig) -> Path:
    if cfg.dir:
        return Path(cfg.dir).expanduser().resolve()
    return (Path("runs") / "sweeps" / f"{spec.label}-{spec.sweep_id[:8]}").resolve()


def make_tasks(spec: SweepSpec, cfg: SweepConfig, root: Path, name: str) -> list[PointTask]:
    output_key = cfg.output_key
    if output_key == "auto":
        output_key = detect_output_key(spec.command)
    fixed_keys = {o.split("=", 1)[0].lstrip("+~") for o in spec.overrides}
    if output_key and output_key in fixed_keys:
        log.warning("%s is set per point by the sweep (each point gets its own folder)", output_key)
    tasks = []
    for p in spec.points:
        pdir = root / "points" / p.name
        ovr = [o for o in p.overrides if o.split("=", 1)[0].lstrip("+~") != output_key]
        extra = list(spec.extra)
        if output_key:
            extra.append(f"{output_key}={quote_value(str(pdir)) if spec.is_genms else pdir}")
        if spec.is_genms:
            extra.append(f"hydra.run.dir={quote_value(str(pdir))}")
        env = {
            "GENMS_SWEEP_NAME": name, "GENMS_SWEEP_DIR": str(root), "GENMS_SWEEP_POINT": p.point_id,
            "GENMS_SWEEP_INDEX": str(p.index), "GENMS_SWEEP_PARAMS": json.dumps(p.params_dict),
            "GENMS_SWEEP_POINT_DIR": str(pdir), "PYTHONUNBUFFERED": "1",
        }
        if os.environ.get("HOME"):
            env["HOME"] = os.environ["HOME"]
        tasks.append(
            PointTask(
                p.index,
                p.point_id,
                p.name,
                (*spec.command, *ovr, *extra),
                str(pdir),
                tuple(env.items()),
                os.getcwd(),
                cfg.timeout_s,
                tuple(cfg.result_files),
                p.overrides,
                p.params,
            )
        )
    return tasks


def describe(spec: SweepSpec, name: str, root: Path) -> dict:
    return {
        "name": name, "sweep_id": spec.sweep_id, "command": list(spec.command),
        "overrides": list(spec.overrides), "extra": list(spec.extra),
        "swept_keys": list(spec.swept_keys), "dir": str(root),
        "points": [{"index": p.index, "point": p.point_id, "name": p.name,
                    "overrides": list(p.overrides), "params": p.params_dict} for p in spec.points],
    }


# -- running ----------------------------------------------------------------------------------
def _report(row: dict, done: int, total: int) -> None:
    params = " ".join(f"{k}={v}" for k, v in row["params"].items()) or row["name"]
    level = logging.INFO if row["status"] == STATUS_OK else logging.WARNING
    last = (row.get("error") or "").strip().splitlines()[-1:] or [""]
    log.log(level, "[%d/%d] %s %s (%.1f s)%s", done, total, row["status"], params, row["wall_s"],
            "" if row["status"] == STATUS_OK else f": {last[0]} (logs: {row['dir']})")


def track_point(row: dict, cfg: SweepConfig, name: str) -> None:
    """W&B record of a finished point (``sweep.wandb=true``); never fails the sweep."""
    if not cfg.wandb or row["status"] != STATUS_OK:
        return

    point = SweepPointInfo(
        name, row["point"], row["index"], {k: str(v) for k, v in row["params"].items()}
    )
    try:
        log_finished_run(
            row["dir"],
            name,
            row.get("result"),
            {"overrides": row["overrides"]},
            point,
            ReportConfig(mode=cfg.wandb_mode),
        )
    except Exception as exc:  # noqa: BLE001 - tracking never stops a sweep
        log.warning("W&B record of point %s failed: %s", row["index"], exc)


def run_serial(
    tasks: list[PointTask], record: SweepLog, write: bool = True, on_row=None
) -> list[dict]:
    rows = []
    for n, task in enumerate(tasks, 1):
        row = run_point(task)
        if write:
            record.append(row)
        if on_row is not None:
            on_row(row)
        _report(row, n, len(tasks))
        rows.append(row)
    return rows


def run_ray(tasks: list[PointTask], record: SweepLog, cfg: SweepConfig, on_row=None) -> list[dict]:
    """Every task on Ray; rows recorded in completion order as each finishes."""
    # slurm/ray_cluster.sbatch sets it
    address = cfg.address or os.environ.get("RAY_ADDRESS") or None
    workers = cfg.workers if cfg.workers else (None if address else os.cpu_count())
    executor = RayExecutor(ExecutorConfig(name="ray", address=address, num_cpus=workers,
                                          max_retries=cfg.max_retries))
    ray = executor.ray
    rows: list[dict] = []
    refs: dict = {}
    try:
        remote = ray.remote(run_point).options(
            num_cpus=cfg.cpus_per_point, num_gpus=cfg.gpus_per_point, max_retries=cfg.max_retries
        )
        refs = {remote.remote(t): t for t in tasks}
        while refs:
            done, _ = ray.wait(list(refs), num_returns=1)
            for ref in done:
                task = refs.pop(ref)
                try:
                    row = ray.get(ref)
                except ray.exceptions.RayError as exc:
                    first = str(exc).splitlines()[0] if str(exc) else ""
                    row = {"point": task.point_id, "index": task.index, "name": task.name,
                           "status": "failed", "returncode": None, "wall_s": 0.0,
                           "dir": task.dir, "overrides": list(task.overrides),
                           "params": dict(task.params), "result": None, "result_file": None,
                           "error": f"{type(exc).__name__}: {first}"}
                record.append(row)
                rows.append(row)
                _report(row, len(rows), len(tasks))
                if on_row is not None:
                    on_row(row)
    finally:
        for ref in refs:
            ray.cancel(ref, force=True)
        executor.close()
    return rows


def run_sweep(spec: SweepSpec, cfg: SweepConfig) -> tuple[Path, list[dict], int]:
    """Run the sweep's unfinished points. Returns (sweep dir, rows of this run, number skipped)."""
    if cfg.executor not in ("ray", "serial"):
        raise SweepError(f"sweep.executor must be ray or serial, got {cfg.executor!r}")
    root = sweep_dir(spec, cfg)
    name = cfg.name or spec.label
    record = SweepLog(root / "sweep.jsonl")
    tasks = make_tasks(spec, cfg, root, name)
    if cfg.only is not None:
        if not 0 <= cfg.only < len(tasks):
            raise SweepError(f"sweep.only={cfg.only} but the sweep has points 0..{len(tasks) - 1}")
        tasks = [tasks[cfg.only]]
    atomic_write_json(root / "sweep.json", describe(spec, name, root))
    finished = record.finished_ids(include_failed=not cfg.retry_failed)
    pending = [t for t in tasks if t.point_id not in finished]
    skipped = len(tasks) - len(pending)
    if skipped:
        log.info("%d of %d points already finished in %s; running %d", skipped, len(tasks),
                 record.path, len(pending))
    if not pending:
        return root, [], skipped
    local = not (cfg.address or os.environ.get("RAY_ADDRESS"))
    serial = cfg.executor == "serial" or cfg.only is not None or (len(pending) == 1 and local)
    # In a multi-node SLURM task every rank runs the point; only rank 0 records it.
    write = os.environ.get("SLURM_PROCID", "0") == "0"
    on_row = functools.partial(track_point, cfg=cfg, name=name) if cfg.wandb and write else None
    rows = (
        run_serial(pending, record, write, on_row)
        if serial
        else run_ray(pending, record, cfg, on_row)
    )
    return root, rows, skipped


# -- the command ------------------------------------------------------------------------------
USAGE = """usage: genms sweep <command> [args] key=a,b,c ... [sweep.<option>=value ...]

Runs every point of the sweep as its own process (Ray: in parallel), records each in
<sweep dir>/sweep.jsonl as it finishes and skips finished points when rerun.
  genms sweep train energy optim.lr=1e-3,3e-4 seed=0,1 sweep.workers=2
  genms sweep generate "a spinel" search.H=1,25 sweep.address=auto
options: sweep.dir sweep.name sweep.executor=ray|serial sweep.workers sweep.address
  sweep.cpus_per_point sweep.gpus_per_point sweep.only=<index> sweep.dry_run=true
  sweep.retry_failed sweep.timeout_s sweep.output_key sweep.max_retries"""


def load_config(options: list[str]) -> SweepConfig:
    """``sweep.*`` arguments -> :class:`SweepConfig` (Hydra grammar, defaults from
    conf/sweep.yaml)."""
    try:
        cfg = compose("sweep", options)
        return to_dataclass(SweepConfig, cfg.sweep)
    except (HydraException, ConfigError) as exc:
        raise SweepError(f"bad sweep option: {exc}\n\n{USAGE}") from None


def _print_points(spec: SweepSpec, root: Path) -> None:
    table = Table(title=f"{len(spec.points)} points of `{' '.join(spec.command)}` ({root})")
    table.add_column("index", justify="right")
    table.add_column("point")
    for key in spec.swept_keys:
        table.add_column(key)
    for p in spec.points:
        table.add_row(str(p.index), p.point_id, *[v for _, v in p.params])
    make_console().print(table)


def _print_summary(root: Path, points: tuple[SweepPoint, ...]) -> int:
    latest = SweepLog(root / "sweep.jsonl").latest()
    table = Table(title=f"sweep {root}")
    for col in ("index", "params", "status", "wall s", "result"):
        table.add_column(col)
    n_bad = 0
    for p in points:
        row = latest.get(p.point_id)
        status = row["status"] if row else "not run"
        n_bad += status != STATUS_OK
        params = " ".join(f"{k}={v}" for k, v in p.params) or p.name
        res = (row or {}).get("result_file") or ""
        table.add_row(str(p.index), params, status, f"{(row or {}).get('wall_s', 0):.1f}", res)
    make_console().print(table)
    return n_bad


def main(argv: list[str]) -> int:
    """Entry point of ``genms sweep`` (receives the raw arguments after ``sweep``)."""
    if not argv or argv[0] in ("-h", "--help", "help"):
        print(USAGE)  # noqa: T201 - the command's user-facing output
        return 0
    options = [a for a in argv if a.startswith("sweep.")]
    command = [a for a in argv if not a.startswith("sweep.")]
    try:
        cfg = load_config(options)
        spec = build_spec(command)
        root = sweep_dir(spec, cfg)
        if cfg.dry_run:
            _print_points(spec, root)
            return 0
        root, rows, skipped = run_sweep(spec, cfg)
    except SweepError as exc:
        raise SystemExit(f"genms sweep: {exc}") from None
    points = spec.points if cfg.only is None else (spec.points[cfg.only],)
    n_bad = _print_summary(root, points)
    print(f"sweep record: {root / 'sweep.jsonl'} ({len(rows)} run now, {skipped} resumed); "  # noqa: T201 - the command's user-facing output
          f"gather with `genms report gather {root}`")
    return 1 if n_bad else 0
