"""``genms slurm render``: a template of ``slurm/`` as a ready-to-submit sbatch script.

The templates are plain sbatch files (each can be submitted as it is, with the genms command as
its arguments). Rendering fills in what a given job needs::

    genms slurm render train_sweep command='train diffusion optim.lr=1e-4,3e-4 seed=0,1' gpus=4
    genms slurm render train_multinode nodes=4 gpus=8 time=72:00:00 -- train diffusion
    genms slurm render ray_cluster nodes=3 --submit -- sweep generate "a spinel" search.H=1,25

* resource options (``nodes``, ``gpus`` = GPUs per node, ``cpus`` = CPUs per task, ``array``,
  ``time``, ``mem``, ``partition``, ``account``, ``qos``, ``job_name``, ``output``,
  ``constraint``, ``ntasks_per_node``, and any other directive as ``sbatch.<flag>=value``)
  replace the template's ``#SBATCH`` lines or are added after them;
* the command (``command='...'`` or everything after ``--``) becomes the script's arguments
  (a ``set --`` line after the directives), exactly as ``sbatch <template> ARGS`` would pass
  them; a leading ``genms`` (and the template's own words, such as ``sweep``) is dropped;
* for a template running ``genms sweep``, ``--array`` defaults to one task per sweep point.

The script is printed; ``out=<file>`` writes it; ``--submit`` hands it to ``sbatch`` (and is
the only thing here that runs anything).
"""

from __future__ import annotations

import logging
import re
import shlex
import subprocess
from dataclasses import dataclass, field
from pathlib import Path

from genms.launch.expand import SweepError, build_spec
from genms.paths import REPO_ROOT

log = logging.getLogger(__name__)

SLURM_DIR = REPO_ROOT / "slurm"

#: render option -> sbatch long flag
FLAGS = {
    "array": "array", "nodes": "nodes", "gpus": "gpus-per-node", "cpus": "cpus-per-task",
    "ntasks_per_node": "ntasks-per-node", "time": "time", "mem": "mem", "partition": "partition",
    "account": "account", "qos": "qos", "job_name": "job-name", "output": "output",
    "constraint": "constraint",
}
_INT_OPTIONS = ("nodes", "gpus", "cpus", "ntasks_per_node")
_ARRAY_RE = re.compile(r"^\d+(-\d+)?(:\d+)?(,\d+(-\d+)?(:\d+)?)*(%\d+)?$")
_TIME_RE = re.compile(r"^(\d+-)?\d+(:\d{1,2}){0,2}$")
_DIRECTIVE_RE = re.compile(r"^#SBATCH\s+--([A-Za-z0-9-]+)(?:[=\s]+(.*))?$")

USAGE = """usage: genms slurm render <template> [key=value ...] [--submit] [-- <genms command ...>]

templates: {templates}
options: {options}, sbatch.<flag>=value, command='<genms command>', out=<file>"""


class RenderError(ValueError):
    """A template or render option is wrong (the message says which and how to fix it)."""


@dataclass(frozen=True)
class RenderRequest:
    template: str
    directives: dict[str, str] = field(default_factory=dict)  # sbatch flag -> value
    command: tuple[str, ...] | None = None
    out: str | None = None
    submit: bool = False


def available_templates() -> list[str]:
    return sorted(p.stem for p in SLURM_DIR.glob("*.sbatch"))


def usage() -> str:
    return USAGE.format(templates=", ".join(available_templates()) or "(none)",
                        options=", ".join(FLAGS))


def template_path(name: str) -> Path:
    """A template by name (``train_sweep``) or by path."""
    p = Path(name)
    if p.suffix == ".sbatch" and p.is_file():
        return p
    candidate = SLURM_DIR / f"{p.stem}.sbatch"
    if candidate.is_file():
        return candidate
    raise RenderError(f"no SLURM template {name!r}; available: {', '.join(available_templates())}")


def normalise_array(value: str) -> str:
    """``[0-3]``, ``0-3``, ``0,2,5``, ``0-15%4`` -> sbatch's ``--array`` syntax (checked)."""
    v = str(value).strip().strip("[]()'\"").replace(" ", "")
    if not _ARRAY_RE.match(v):
        raise RenderError(f"array={value!r} is not a SLURM array range (e.g. 0-3, 0,2,5 or 0-15%4)")
    return v


def parse_args(argv: list[str]) -> RenderRequest:
    """Raw arguments after ``genms slurm render`` -> :class:`RenderRequest`."""
    argv = list(argv)
    command: list[str] | None = None
    if "--" in argv:
        cut = argv.index("--")
        argv, command = argv[:cut], argv[cut + 1:]
    submit = "--submit" in argv
    argv = [a for a in argv if a != "--submit"]
    if not argv or argv[0] in ("-h", "--help", "help"):
        raise RenderError(usage())
    template, *pairs = argv
    directives: dict[str, str] = {}
    out = None
    for pair in pairs:
        if "=" not in pair:
            raise RenderError(f"unexpected argument {pair!r}: options are key=value\n\n{usage()}")
        key, value = pair.split("=", 1)
        if key == "command":
            if command is not None:
                raise RenderError("give the command either as command='...' or after --, not both")
            command = shlex.split(value)
        elif key == "out":
            out = value
        elif key == "submit":
            submit = value.lower() in ("1", "true", "yes")
        elif key.startswith("sbatch."):
            directives[key[len("sbatch."):]] = value
        elif key in FLAGS:
            directives[FLAGS[key]] = _check_option(key, value)
        else:
            raise RenderError(f"unknown option {key!r}\n\n{usage()}")
    return RenderRequest(
        template, directives, None if command is None else tuple(command), out, submit
    )


def _check_option(key: str, value: str) -> str:
    if key in _INT_OPTIONS:
        if not value.isdigit() or int(value) < 1:
            raise RenderError(f"{key}={value!r} must be a positive integer")
    elif key == "array":
        return normalise_array(value)
    elif key == "time" and not _TIME_RE.match(value):
        raise RenderError(f"time={value!r}: use minutes, HH:MM:SS or D-HH:MM:SS")
    return value


def _launch_words(lines: list[str]) -> tuple[int, list[str]]:
    """Index of the line holding ``"$@"`` and the genms words before it (``["sweep"]``)."""
    for i, line in enumerate(lines):
        if '"$@"' in line and not line.lstrip().startswith("#"):
            words = shlex.split(line.split('"$@"', 1)[0])
            after = words[words.index("genms") + 1:] if "genms" in words else []
            return i, after
    raise RenderError('the template has no command line with "$@" to fill in')


def _strip_prefix(command: list[str], words: list[str]) -> list[str]:
    cmd = list(command)
    if cmd[:1] == ["genms"]:
        cmd = cmd[1:]
    if "sweep" in words and any(a in ("-m", "--multirun") for a in cmd):
        log.info(
            "dropping -m: the template runs one sweep point per array task through `genms sweep`"
        )
        cmd = [a for a in cmd if a not in ("-m", "--multirun")]
    if words and cmd[: len(words)] == words:
        cmd = cmd[len(words):]
    return cmd


def _sweep_array(command: list[str]) -> str:
    if any(a.startswith("sweep.only=") for a in command):
        raise RenderError("the array sets sweep.only per task; drop sweep.only from the command")
    try:
        spec = build_spec([a for a in command if not a.startswith("sweep.")])
    except SweepError as exc:
        raise RenderError(f"cannot expand the sweep to size the array: {exc}") from None
    return f"0-{len(spec.points) - 1}"


def render(request: RenderRequest) -> str:
    """The template with the requested directives and command filled in."""
    path = template_path(request.template)
    lines = path.read_text().splitlines()
    directives = dict(request.directives)
    line_no, words = _launch_words(lines)
    if request.command is not None:
        command = _strip_prefix(list(request.command), words)
        if not command:
            raise RenderError("the command is empty")
        has_array = any((m := _DIRECTIVE_RE.match(ln)) and m.group(1) == "array" for ln in lines)
        if "sweep" in words and (has_array or "array" in directives):
            needed = _sweep_array(command)
            given = directives.setdefault("array", needed)
            top = max(int(n) for n in re.findall(r"\d+", given.split("%")[0]))
            if top > int(needed.split("-")[1]):
                log.warning(
                    "array=%s but the sweep has points %s: the extra tasks will fail", given, needed
                )
    pending = dict(directives)
    last_directive = 0
    for i, line in enumerate(lines):
        m = _DIRECTIVE_RE.match(line)
        if m:
            last_directive = i
            if m.group(1) in pending:
                lines[i] = f"#SBATCH --{m.group(1)}={pending.pop(m.group(1))}"
    added = [f"#SBATCH --{k}={v}" for k, v in pending.items()]
    if request.command is not None:
        # The job's arguments, as if given to `sbatch <template> ARGS`: the script's "$@".
        added += ["# the job's arguments (the script's \"$@\")", f"set -- {shlex.join(command)}"]
    lines[last_directive + 1:last_directive + 1] = added
    header = f"# rendered from {path.name} by `genms slurm render`"
    return "\n".join(lines[:1] + [header] + lines[1:]) + "\n"


def submit(script: str, out: str | None) -> str:
    """``sbatch`` the script (from its file when written, else from stdin); returns its output."""
    cmd = ["sbatch", out] if out else ["sbatch"]
    try:
        proc = subprocess.run(
            cmd, input=None if out else script, capture_output=True, text=True, check=False
        )
    except FileNotFoundError:
        raise RenderError("sbatch not found: --submit needs a SLURM login node") from None
    if proc.returncode != 0:
        raise RenderError(f"sbatch failed ({proc.returncode}): {proc.stderr.strip()}")
    return proc.stdout.strip()


def main(argv: list[str]) -> int:
    """Entry point of ``genms slurm render`` (the raw arguments after ``render``)."""
    try:
        request = parse_args(argv)
        script = render(request)
        if request.out:
            out = Path(request.out)
            out.parent.mkdir(parents=True, exist_ok=True)
            out.write_text(script)
            out.chmod(0o755)
        print(script, end="")  # noqa: T201 - the command's user-facing output
        if request.submit:
            print(submit(script, request.out))  # noqa: T201 - the command's user-facing output
    except RenderError as exc:
        raise SystemExit(f"genms slurm render: {exc}") from None
    return 0
