"""The ``genms`` command: subcommands built on Hydra.

Every subcommand is a Hydra app with its own primary config in ``conf/``; positional
arguments are turned into config overrides, and everything after them is passed to Hydra
unchanged, so any value can be overridden (``train.steps=100``) and swept with ``-m``::

    genms data prepare mp_20
    genms train diffusion debug=tiny
    genms sample "SrTiO3" n=8
    genms propose "a novel chloride perovskite"
    genms generate "a novel chloride perovskite with low formation energy"
    genms eval csp
    genms -m train energy optim.lr=1e-3,3e-4        # a multirun sweep

The command table maps each subcommand to ``module:function`` so heavy libraries (JAX, Ray)
load only for the commands that need them.
"""

from __future__ import annotations

import importlib
import logging
import re
import sys
from dataclasses import dataclass
from pathlib import Path

from genms.paths import REPO_ROOT

CONF_DIR = REPO_ROOT / "conf"


@dataclass(frozen=True)
class Command:
    """A subcommand: its Hydra config, the override each positional argument fills, its runner."""

    config_name: str
    target: str  # "module:function", called with the composed DictConfig
    positionals: tuple[str, ...] = ()
    help: str = ""
    variadic: bool = False  # the last positional collects every remaining non-override arg
    raw: bool = False  # the runner gets the raw argument list, no Hydra (commands wrapping commands)


# (group, verb) -> Command. A group with a single verb uses verb "".
COMMANDS: dict[tuple[str, str], Command] = {
    ("data", "prepare"): Command("data", "genms.data.commands:prepare", ("dataset",), "build the cached .npz for a dataset (or 'all')"),
    ("data", "download"): Command("data", "genms.data.commands:download", ("dataset",), "fetch CDVAE CSVs and check their git blob SHAs"),
    ("data", "union"): Command("data", "genms.data.commands:union", (), "build the leak-free MP training union"),
    ("train", "diffusion"): Command("train_diffusion", "genms.diffusion.commands:train", (), "train the crystal denoiser (pi_lo)"),
    ("train", "energy"): Command("train_energy", "genms.energy.commands:train", (), "train the formation-energy GNN (R_lo)"),
    ("sample", ""): Command("sample", "genms.diffusion.commands:sample", ("formulae",), "sample structures for formulae, write CIFs", variadic=True),
    ("propose", ""): Command("propose", "genms.language.commands:propose", ("request",), "propose ranked formulae for a request"),
    ("generate", ""): Command("generate", "genms.search.commands:generate", ("request",), "the full search: request -> ranked structures"),
    ("score", ""): Command("score", "genms.energy.score:score", ("inputs",), "R_lo formation energy of CIF/POSCAR files (the energy GNN)", variadic=True),
    ("validate", ""): Command("validate", "genms.validate.commands:validate", ("inputs",), "MLIP pre-relaxation + DFT formation energies", variadic=True),
    ("eval", "metrics"): Command("eval_metrics", "genms.evaluate.commands:metrics", ("inputs",), "validity/uniqueness metrics of CIF/POSCAR files", variadic=True),
    ("eval", "csp"): Command("eval_csp", "genms.diffusion.commands:eval_csp", (), "CSP benchmark (match rate / RMSE)"),
    ("eval", "energy"): Command("eval_energy", "genms.energy.commands:eval_energy", (), "formation-energy GNN benchmark"),
    ("eval", "end-to-end"): Command("eval_end_to_end", "genms.search.commands:eval_end_to_end", (), "end-to-end family benchmark"),
    ("eval", "language"): Command("eval_language", "genms.language.commands:eval_language", (), "language-level benchmark"),
    ("eval", "dft"): Command("eval_dft", "genms.validate.commands:eval_dft", (), "DFT validation benchmark"),
    ("eval", "baselines"): Command("eval_baselines", "genms.baselines.commands:eval_baselines", (), "Table 1 offline baselines (template substitution, PyXtal random)"),
    ("eval", "best-of-n"): Command("eval_best_of_n", "genms.studies.best_of_n:eval_best_of_n", (), "Figure 4: best-of-N vs a single sample on held-out compositions"),
    ("sweep", ""): Command("sweep", "genms.launch.sweep:main", ("command",), "run a sweep's points in parallel (Ray), resumable", variadic=True, raw=True),
    ("slurm", "render"): Command("slurm", "genms.launch.slurm:main", ("template",), "print the sbatch script for a template (--submit: sbatch it)", raw=True),
    ("experiment", ""): Command("experiment", "genms.launch.experiment:main", ("name",), "regenerate one experiments/<name> result table", raw=True),
    ("report", "gather"): Command("report_gather", "genms.tracking.gather:gather", ("source",), "collect runs (local JSON or W&B) into tables and plots"),
}


class UsageError(SystemExit):
    """A bad command line: :func:`main` prints the message and the usage, exit status 2."""

    def __init__(self, message: str) -> None:
        super().__init__(2)
        self.message = f"genms: {message}\n\n{usage()}"

    def __str__(self) -> str:
        return self.message


def usage() -> str:
    lines = ["usage: genms [-m] <command> [args] [key=value ...]", "", "commands:"]
    for (group, verb), cmd in COMMANDS.items():
        name = f"{group} {verb}".strip()
        args = " ".join(f"<{p}>" + ("..." if cmd.variadic and i == len(cmd.positionals) - 1 else "")
                        for i, p in enumerate(cmd.positionals))
        lines.append(f"  genms {name} {args}".rstrip().ljust(44) + cmd.help)
    lines += ["", "Any config value can be overridden as key=value; add -m to sweep (Hydra multirun).",
              "genms <command> --help: the command's options, config file and examples; --cfg job: the composed config."]
    return "\n".join(lines)


_KEY_LINE = re.compile(r"^(?P<indent> *)(?P<key>[A-Za-z_][\w-]*):(?P<value>[^#]*?)\s*(?:#\s*(?P<comment>.*))?$")


def config_path(cmd: Command) -> Path:
    return CONF_DIR / f"{cmd.config_name}.yaml"


def config_examples(cmd: Command, name: str) -> list[str]:
    """The ``#   genms <name> ...`` example lines of the command's config header."""
    path = config_path(cmd)
    if not path.is_file():
        return []
    out = []
    for line in path.read_text().splitlines():
        if not line.startswith("#"):
            break
        m = re.match(r"#\s{2,}(genms .*)", line)  # indented: an example (the first line is a title)
        if m and (m[1] == f"genms {name}" or m[1].startswith(f"genms {name} ")):
            out.append(m[1].strip())
    return out


def _group_choices(group: str, cmd: Command) -> list[str]:
    """The options of a config group that fit ``cmd`` (a preset whose header names other commands only is left out)."""
    names = {f"genms {g} {v}".strip() for (g, v) in COMMANDS}
    this = next(f"genms {g} {v}".strip() for (g, v), c in COMMANDS.items() if c is cmd)
    out = []
    for path in sorted((CONF_DIR / group).glob("*.yaml")):
        header = " ".join(ln for ln in path.read_text().splitlines()[:6] if ln.startswith("#"))
        named = {n for n in names if re.search(re.escape(n) + r"\b", header)}
        if not named or this in named:
            out.append(path.stem)
    return out


def config_options(cmd: Command, max_depth: int = 1) -> tuple[list[tuple[str, str, str]], list[str]]:
    """``(options, groups)`` of the command's primary config: ``(key, default, comment)`` for the
    top-level values and those one level down (``search.H``), and ``group=default`` of its defaults list."""
    path = config_path(cmd)
    if not path.is_file():
        return [], []
    options: list[tuple[str, str, str]] = []
    groups: list[str] = []
    parents: list[str] = []
    block = ""
    for line in path.read_text().splitlines():
        if not line.strip() or line.lstrip().startswith("#"):
            continue
        if block == "defaults" and line.lstrip().startswith("- "):
            item = line.split("#", 1)[0].strip()[2:]
            if ":" in item and not item.startswith("override"):
                group, default = (x.strip() for x in item.split(":", 1))
                choices = _group_choices(group, cmd)
                groups.append(f"{group}={default}" + (f" ({'|'.join(choices)})" if len(choices) > 1 else ""))
            continue
        m = _KEY_LINE.match(line)
        if not m:
            continue
        depth = len(m["indent"]) // 2
        if depth == 0:
            block = m["key"]
        if block in ("defaults", "hydra") or depth > max_depth:
            continue
        parents[depth:] = [m["key"]]
        value = m["value"].strip()
        if value or m["comment"]:
            options.append((".".join(parents), value, (m["comment"] or "").strip()))
    return options, groups


def command_help(cmd: Command, name: str) -> str:
    """``genms <command> --help``: usage, what it does, its main options, config file and examples."""
    args = " ".join(f"<{p}>" + ("..." if cmd.variadic and i == len(cmd.positionals) - 1 else "")
                    for i, p in enumerate(cmd.positionals))
    lines = [f"usage: genms {name} {args} [key=value ...]".replace("  ", " "), "", cmd.help]
    if cmd.raw:
        return "\n".join(lines)
    try:
        shown = config_path(cmd).relative_to(REPO_ROOT)
    except ValueError:
        shown = config_path(cmd)
    options, groups = config_options(cmd)
    if options:
        lines += ["", "main options (key=value; any key of the config can be set):"]
        width = min(max(len(f"{k}={v}") for k, v, _ in options) + 2, 40)
        for key, value, comment in options:
            text = f"{key}={value}" if value else f"{key}.*"
            lines.append(f"  {text.ljust(width - 2)}  {comment}".rstrip())
    if groups:
        lines += ["", "config groups: " + ", ".join(groups)]
    lines += ["", f"config file: {shown}  (print the composed config: genms {name} --cfg job)"]
    examples = config_examples(cmd, name)
    if examples:
        lines += ["", "examples:", *(f"  {e}" for e in examples)]
    lines += ["", "Add -m before the command to sweep values (genms -m " + name + " key=a,b)."]
    return "\n".join(lines)


def _is_override(arg: str) -> bool:
    head = arg.split("=", 1)[0]
    return "=" in arg and head.replace(".", "").replace("_", "").replace("+", "").replace("~", "").replace("/", "").replace("@", "").isalnum()


def quote_value(value: str) -> str:
    """Quote a free-text value for Hydra's override grammar, to be read back literally.

    ``${...}`` is escaped for OmegaConf (request text is never interpolated); in Hydra's
    quoted strings only backslashes before a quote or at the end need doubling.
    """
    from genms.configs import escape_interpolation

    escaped = escape_interpolation(value)
    escaped = re.sub(r"(\\*)'", lambda m: "\\" * (2 * len(m.group(1))) + "\\'", escaped)
    escaped = re.sub(r"(\\+)\Z", lambda m: m.group(1) * 2, escaped)
    return f"'{escaped}'"


class HelpRequested(SystemExit):
    """``--help``: :func:`main` prints the text to stdout, exit status 0."""

    def __init__(self, text: str) -> None:
        super().__init__(0)
        self.text = text

    def __str__(self) -> str:
        return self.text


HELP_FLAGS = ("-h", "--help")
#: Hydra flags that take a value, given as the next argument (``--cfg job``) or with ``=``.
HYDRA_VALUE_FLAGS = {"--cfg": ("job", "hydra", "all"), "-c": ("job", "hydra", "all"),
                     "--info": ("all", "config", "defaults", "defaults-tree", "plugins", "searchpath"),
                     "-i": ("all", "config", "defaults", "defaults-tree", "plugins", "searchpath"),
                     "--package": None, "-p": None}
HYDRA_FLAGS = ("--resolve", "--hydra-help")


def group_help(group: str) -> str:
    lines = [f"usage: genms {group} <{'|'.join(v for (g, v) in COMMANDS if g == group)}> [args] [key=value ...]", ""]
    for (g, verb), cmd in COMMANDS.items():
        if g == group:
            lines.append(f"  genms {group} {verb}".ljust(30) + cmd.help)
    lines += ["", f"genms {group} <command> --help: that command's options, config file and examples."]
    return "\n".join(lines)


def parse_argv(argv: list[str]) -> tuple[Command, str, list[str], bool]:
    """argv (without the program name) -> (command, display name, hydra overrides, multirun).

    Raises :class:`HelpRequested` for ``--help`` (anywhere) and :class:`UsageError` for a bad command line.
    """
    multirun = False
    wants_help = False
    hydra_flags: list[str] = []
    hydra_overrides: list[str] = []
    args: list[str] = []
    rest = list(argv)
    while rest:
        a = rest.pop(0)
        if a in ("-m", "--multirun"):
            multirun = True
        elif a in HELP_FLAGS:
            wants_help = True
        elif a in HYDRA_VALUE_FLAGS:
            allowed = HYDRA_VALUE_FLAGS[a]
            if rest and (allowed is None or rest[0] in allowed):
                hydra_flags += [a, rest.pop(0)]
            elif allowed is None:
                raise UsageError(f"{a} needs a value")
            else:
                hydra_flags.append(a)  # --cfg / --info without a value: Hydra's own default or message
        elif a in HYDRA_FLAGS or any(a.startswith(f + "=") for f in HYDRA_VALUE_FLAGS):
            hydra_flags.append(a)
        elif a.startswith("hydra."):
            hydra_overrides.append(a)
        else:
            args.append(a)
    if args and args[0] == "help":
        wants_help = True
        args.pop(0)
    if not args:
        if wants_help:
            raise HelpRequested(usage())
        raise UsageError("no command given")
    group = args.pop(0)
    verb = ""
    if (group, "") not in COMMANDS:
        if not args or (group, args[0]) not in COMMANDS:
            verbs = [v for (g, v) in COMMANDS if g == group]
            if verbs and wants_help:
                raise HelpRequested(group_help(group))
            if verbs:
                raise UsageError(f"'{group}' needs one of: {', '.join(verbs)}")
            raise UsageError(f"unknown command '{group}'")
        verb = args.pop(0)
    cmd = COMMANDS[(group, verb)]
    name = f"{group} {verb}".strip()
    if wants_help:
        raise HelpRequested(command_help(cmd, name))
    free = [a for a in args if not _is_override(a)]
    overrides = [a for a in args if _is_override(a)]
    values: list[str] = []
    for i, pname in enumerate(cmd.positionals):
        last = i == len(cmd.positionals) - 1
        if last and cmd.variadic:
            values.append(f"{pname}=[" + ",".join(quote_value(v) for v in free) + "]")
            free = []
        elif free:
            values.append(f"{pname}={quote_value(free.pop(0))}")
    if free:
        raise UsageError(f"unexpected argument(s) {free!r} for 'genms {name}'")
    return cmd, name, values + overrides + hydra_overrides + hydra_flags, multirun


#: Libraries whose INFO logs (checkpoint internals, backend probing) drown a command's own lines:
#: WARNING and above only, unless raised on purpose (``hydra.verbose=absl`` shows them at DEBUG).
QUIET_LOGGERS = ("absl", "jax", "orbax", "flax", "matplotlib", "PIL", "h5py", "numexpr", "urllib3", "ray")


def quiet_library_logs() -> None:
    for name in QUIET_LOGGERS:
        logger = logging.getLogger(name)
        if logger.level in (logging.NOTSET, logging.INFO):
            logger.setLevel(logging.WARNING)


def load_target(target: str):
    module, func = target.split(":")
    return getattr(importlib.import_module(module), func)


def run_command(cmd: Command, name: str, overrides: list[str], multirun: bool = False):
    import hydra
    from omegaconf import DictConfig

    from genms.configs import ConfigError

    fn = load_target(cmd.target)
    result: dict = {}

    @hydra.main(config_path=str(CONF_DIR), config_name=cmd.config_name, version_base="1.3")
    def _app(cfg: DictConfig):
        quiet_library_logs()  # after Hydra's logging set-up, which keeps these levels
        try:
            result["value"] = fn(cfg)
        except ConfigError as exc:  # a bad config value: one line naming it, exit 2
            lines = str(exc).splitlines()
            key = next((ln.split("full_key:", 1)[1].strip() for ln in lines if "full_key:" in ln), "")
            sys.stderr.write(f"genms {name}: {lines[0]}" + (f" (key {key})" if key and key not in lines[0] else "")
                             + "\n")
            raise SystemExit(2) from None
        except FileNotFoundError as exc:  # missing prepared data: one line with the command that builds it
            from genms.data.prepare import DataNotPreparedError

            if not isinstance(exc, DataNotPreparedError):
                raise
            sys.stderr.write(f"genms {name}: {exc}\n")
            raise SystemExit(2) from None
        return result["value"]

    saved = sys.argv
    sys.argv = [f"genms {name}", *(["--multirun"] if multirun else []), *overrides]
    try:
        _app()
    finally:
        sys.argv = saved
    return result.get("value")


def raw_command(argv: list[str]) -> tuple[Command, list[str]] | None:
    """A ``raw`` command at the start of ``argv`` and the arguments after its name."""
    if argv:
        verb = argv[1] if len(argv) > 1 else ""
        for key, rest in (((argv[0], verb), argv[2:]), ((argv[0], ""), argv[1:])):
            cmd = COMMANDS.get(key)
            if cmd is not None and cmd.raw:
                return cmd, rest
    return None


def main(argv: list[str] | None = None) -> int:
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    quiet_library_logs()
    argv = list(sys.argv[1:] if argv is None else argv)
    raw = raw_command(argv)
    if raw is not None:
        if raw[1][:1] and raw[1][0] in (*HELP_FLAGS, "help"):  # its usage, on stdout, exit 0
            try:
                return int(load_target(raw[0].target)(["--help"]) or 0)
            except SystemExit as exc:
                if not isinstance(exc.code, str):
                    raise
                print(exc.code)  # noqa: T201 - the usage asked for
                return 0
        return int(load_target(raw[0].target)(raw[1]) or 0)
    try:
        cmd, name, overrides, multirun = parse_argv(argv)
    except HelpRequested as exc:
        print(exc)  # noqa: T201 - the help asked for
        return 0
    except UsageError as exc:
        sys.stderr.write(f"{exc}\n")
        return 2
    if not CONF_DIR.is_dir():
        raise SystemExit(f"genms: config folder {CONF_DIR} not found; install with `pip install -e .`")
    run_command(cmd, name, overrides, multirun)
    return 0


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
