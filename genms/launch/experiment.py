"""``genms experiment <name>``: regenerate one result folder of ``experiments/``.

An experiment folder holds ``experiment.yaml``::

    title: Table 2 — DFT formation energy against the branching factors
    table: table2_branching          # builder in genms.benchmarks.tables
    steps:                           # genms commands, run in order
      - name: search
        run: [sweep, eval, end-to-end, "search.H=1,25", "search.L=1,100", "sweep.dir={out}/sweep"]
      - name: dft
        for_each: "{out}/sweep/points/*"      # one run per matching folder, as {item}
        run: [validate, "{item}/end_to_end.json", "out_dir={item}/dft"]

plus ``paper.csv`` (the paper's numbers) and a ``README.md`` whose block between
``<!-- results:start -->`` and ``<!-- results:end -->`` this command rewrites with our table beside
the paper's, the hardware and the wall time.

``{out}`` is the run folder (``out=...``, default ``runs/experiments/<name>``), ``{repo}`` the
repository root, and ``{<param>}`` a value of the spec's ``params`` (defaults there, overridden
on the command line: ``genms experiment figure4_best_of_n n_compositions=100 device=cpu``). Each
step's output goes to ``{out}/logs/<step>.log``; finished steps are
recorded in ``{out}/steps.jsonl`` and skipped when the experiment is run again (``force=true``
reruns them; the sweeps inside resume by themselves). Arguments after ``--`` are appended to every
step, or to one step when written ``<step>:<arg>`` (``-- genms:search.L=16``). ``steps=[a,b]`` runs
only those steps; ``table_only=true`` only
rebuilds the table from what the steps left. The table, its values and pictures of the top
structures of the run folders are recorded as a W&B run (offline) in ``{out}/tracking``
(``wandb=false`` skips it).
"""

from __future__ import annotations

import glob
import logging
import os
import platform
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

from omegaconf import OmegaConf

from genms.benchmarks.tables import BUILDERS
from genms.io import atomic_write_json, atomic_write_text
from genms.paths import REPO_ROOT
from genms.tracking.reports import ReportConfig, SweepPointInfo, log_finished_run
from genms.tracking.sweep_log import SweepLog

log = logging.getLogger(__name__)

EXPERIMENTS_DIR = REPO_ROOT / "experiments"
START, END = "<!-- results:start -->", "<!-- results:end -->"


class ExperimentError(ValueError):
    """A bad experiment name, spec or option (the message says what to do)."""


@dataclass(frozen=True)
class Step:
    name: str
    run: tuple[str, ...]
    for_each: str | None = None


@dataclass(frozen=True)
class Experiment:
    name: str
    folder: Path
    title: str
    table: str
    steps: tuple[Step, ...]
    # {name} in step arguments; key=value on the command line
    params: dict = field(default_factory=dict)


@dataclass(frozen=True)
class RunOptions:
    out: Path
    only: tuple[str, ...] = ()
    force: bool = False
    table_only: bool = False
    extra: tuple[str, ...] = field(default_factory=tuple)
    params: dict = field(default_factory=dict)
    wandb: bool = True


def available() -> list[str]:
    return sorted(p.parent.name for p in EXPERIMENTS_DIR.glob("*/experiment.yaml"))


def load_experiment(name: str) -> Experiment:
    folder = Path(name) if Path(name).is_dir() else EXPERIMENTS_DIR / name
    spec_file = folder / "experiment.yaml"
    if not spec_file.is_file():
        raise ExperimentError(f"no experiment {name!r}; available: {', '.join(available())}")
    raw = OmegaConf.to_container(OmegaConf.load(spec_file), resolve=False)
    try:
        steps = tuple(
            Step(s["name"], tuple(str(a) for a in s["run"]), s.get("for_each"))
            for s in raw.get("steps", [])
        )
        return Experiment(
            folder.name, folder, raw["title"], raw["table"], steps, dict(raw.get("params") or {})
        )
    except (KeyError, TypeError) as exc:
        raise ExperimentError(
            f"{spec_file}: each step needs a name and a run list; title and table are required "
            f"({exc})"
        ) from None


def parse_args(argv: list[str]) -> tuple[str, RunOptions]:
    argv = list(argv)
    extra: list[str] = []
    if "--" in argv:
        cut = argv.index("--")
        argv, extra = argv[:cut], argv[cut + 1:]
    if not argv or argv[0] in ("-h", "--help", "help"):
        raise ExperimentError(
            "usage: genms experiment <name> [<param>=value ...] [out=<dir>] [steps=[a,b]] "
            "[force=true] [table_only=true] [-- <args for every step>]\n"
            f"experiments: {', '.join(available())}"
        )
    name, *pairs = argv
    exp = load_experiment(name)
    opts: dict = {"out": Path("runs") / "experiments" / exp.name}
    params = {k: str(v) for k, v in exp.params.items()}
    for pair in pairs:
        key, _, value = pair.partition("=")
        if key == "out":
            opts["out"] = Path(value)
        elif key == "steps":
            opts["only"] = tuple(v for v in value.strip("[]").split(",") if v)
        elif key in ("force", "table_only", "wandb"):
            opts[key] = value.lower() in ("1", "true", "yes")
        elif key in params:
            params[key] = value
        else:
            known = ", ".join(
                f"{k}=" for k in [*exp.params, "out", "steps", "force", "table_only", "wandb"]
            )
            raise ExperimentError(
                f"unknown option {pair!r} for {exp.name}: {known} (step arguments go after --)"
            )
    return name, RunOptions(
        opts["out"].resolve(),
        opts.get("only", ()),
        opts.get("force", False),
        opts.get("table_only", False),
        tuple(extra),
        params,
        opts.get("wandb", True),
    )


def _expand(arg: str, **values: str) -> str:
    for k, v in values.items():
        arg = arg.replace("{" + k + "}", v)
    return arg


def step_commands(
    step: Step, out: Path, extra: tuple[str, ...], params: dict | None = None
) -> list[list[str]]:
    """The genms command lines of a step (one per ``for_each`` match)."""
    base = {**(params or {}), "out": str(out), "repo": str(REPO_ROOT)}
    # "<step>:<arg>" goes to that step only; other extra arguments go to every step.
    extra = tuple(a.split(":", 1)[1] if a.startswith(f"{step.name}:") else a for a in extra
                  if ":" not in a.split("=", 1)[0] or a.startswith(f"{step.name}:"))
    if step.for_each is None:
        return [[_expand(a, **base) for a in step.run] + list(extra)]
    items = sorted(glob.glob(_expand(step.for_each, **base)))
    return [[_expand(a, item=item, **base) for a in step.run] + list(extra) for item in items]


def run_steps(exp: Experiment, opts: RunOptions) -> list[dict]:
    record = SweepLog(opts.out / "steps.jsonl")
    done = record.finished_ids()
    rows = []
    for step in exp.steps:
        if opts.only and step.name not in opts.only:
            continue
        if step.name in done and not opts.force:
            log.info("step %s already finished (force=true reruns it)", step.name)
            continue
        commands = step_commands(step, opts.out, opts.extra, opts.params)
        if not commands:
            log.warning("step %s: nothing matches %s", step.name, step.for_each)
        log_path = opts.out / "logs" / f"{step.name}.log"
        log_path.parent.mkdir(parents=True, exist_ok=True)
        started, status = time.time(), "ok"
        with open(log_path, "a") as fh:
            for cmd in commands:
                log.info("[%s] genms %s", step.name, " ".join(cmd))
                fh.write(f"$ genms {' '.join(cmd)}\n")
                fh.flush()
                code = subprocess.call(
                    [sys.executable, "-m", "genms.cli", *cmd], stdout=fh, stderr=subprocess.STDOUT
                )
                if code != 0:
                    status = "failed"
                    log.warning("[%s] exit %d; see %s", step.name, code, log_path)
                    break
        row = {"point": step.name, "status": status, "wall_s": round(time.time() - started, 1),
               "commands": [" ".join(c) for c in commands], "hardware": hardware()}
        record.append(row)
        rows.append(row)
        if status != "ok":
            raise ExperimentError(f"step {step.name} failed; see {log_path} (rerun resumes)")
    return rows


def hardware() -> str:
    """CPU and accelerators of this machine, in words."""
    parts = [f"{platform.processor() or platform.machine()}, {os.cpu_count()} CPU cores"]
    try:
        out = (
            subprocess.run(
                ["nvidia-smi", "--query-gpu=name", "--format=csv,noheader"],
                capture_output=True,
                text=True,
                timeout=10,
                check=False,
            )
            .stdout.strip()
            .splitlines()
        )
        if out:
            parts.append(f"{len(out)} x {out[0]}")
    except (OSError, subprocess.TimeoutExpired):
        pass
    return "; ".join(parts)


def total_wall(out: Path) -> float:
    return sum(float(r.get("wall_s") or 0) for r in SweepLog(out / "steps.jsonl").latest().values())


def step_hardware(out: Path) -> str:
    """Where the finished steps ran (each step's record), else this machine."""
    rows = [r for r in SweepLog(out / "steps.jsonl").latest().values() if r.get("status") == "ok"]
    places = {r["point"]: r["hardware"] for r in rows if r.get("hardware")}
    if not places:
        return hardware()
    if len(set(places.values())) == 1:
        return next(iter(places.values()))
    return "; ".join(f"{step}: {hw}" for step, hw in places.items())


def _shown(path: Path) -> Path:
    """``path`` relative to the working directory when it lies below it."""
    return path.relative_to(Path.cwd()) if path.is_relative_to(Path.cwd()) else path


def update_readme(folder: Path, block: str) -> None:
    readme = folder / "README.md"
    text = readme.read_text() if readme.is_file() else ""
    if START in text and END in text:
        head, rest = text.split(START, 1)
        tail = rest.split(END, 1)[1]
        text = f"{head}{START}\n{block}\n{END}{tail}"
    else:
        text = f"{text.rstrip()}\n\n{START}\n{block}\n{END}\n"
    atomic_write_text(readme, text)


def build_table(exp: Experiment, opts: RunOptions, command: str) -> str:
    if exp.table not in BUILDERS:
        raise ExperimentError(
            f"{exp.folder}/experiment.yaml: unknown table {exp.table!r}; known: {sorted(BUILDERS)}"
        )
    result = BUILDERS[exp.table](opts.out, exp.folder)
    (opts.out / "results.md").write_text(result.markdown + "\n")
    atomic_write_json(opts.out / "results.json", result.values)
    wall = total_wall(opts.out)
    lines = [f"Regenerated by `{command}` on {time.strftime('%Y-%m-%d')}.", "",
             result.markdown, ""]
    lines += [f"- {n}" for n in result.notes]
    finished = SweepLog(opts.out / "steps.jsonl").finished_ids()
    missing = [s.name for s in exp.steps if s.name not in finished]
    if missing:
        lines.append(f"- Steps not run yet (their cells say `not yet run`): {', '.join(missing)}.")
    lines += [
        f"- Hardware: {step_hardware(opts.out)}.",
        f"- Wall time of the steps: {wall / 60:.1f} min.",
        f"- Raw results: `{_shown(opts.out)}`.",
    ]
    block = "\n".join(lines)
    update_readme(exp.folder, block)
    if opts.wandb:
        log_finished_run(
            opts.out,
            exp.name,
            result.values,
            {"params": opts.params, "command": command},
            SweepPointInfo(),
            ReportConfig(experiment=exp.name),
            {"results": result.rows},
        )
    return block


def main(argv: list[str]) -> int:
    """Entry point of ``genms experiment`` (raw arguments after ``experiment``)."""
    try:
        name, opts = parse_args(argv)
        exp = load_experiment(name)
        atomic_write_json(opts.out / "params.json", opts.params)
        if not opts.table_only:
            run_steps(exp, opts)
        block = build_table(exp, opts, "genms experiment " + " ".join(argv))
    except ExperimentError as exc:
        raise SystemExit(f"genms experiment: {exc}") from None
    print(f"# {exp.title}\n\n{block}")  # noqa: T201 - the command's user-facing output
    return 0
