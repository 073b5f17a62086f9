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

import dataclasses
import importlib
import logging
import os
import re
import sys
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

import hydra
from hydra import compose as hydra_compose
from hydra import initialize_config_dir
from omegaconf import DictConfig, OmegaConf

from genms import configs
from genms.configs import ConfigError
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
    # the runner gets the raw argument list, no Hydra (commands wrapping commands)
    raw: bool = False
    schema: str = ""  # "module:Class": the typed config, registered as "<config_name>_schema"


# (group, verb) -> Command. A group with a single verb uses verb "".
COMMANDS: dict[tuple[str, str], Command] = {
    ("data", "prepare"): Command(
        "data",
        "genms.data.commands:prepare",
        ("dataset",),
        "build the cached .npz for a dataset (or 'all')",
    ),
    ("data", "download"): Command(
        "data",
        "genms.data.commands:download",
        ("dataset",),
        "fetch CDVAE CSVs and check their git blob SHAs",
    ),
    ("data", "union"): Command(
        "data", "genms.data.commands:union", (), "build the leak-free MP training union"
    ),
    ("train", "diffusion"): Command(
        "train_diffusion",
        "genms.diffusion.commands:train",
        (),
        "train the crystal denoiser (pi_lo)",
    ),
    ("train", "energy"): Command(
        "train_energy", "genms.energy.commands:train", (), "train the formation-energy GNN (R_lo)"
    ),
    ("sample", ""): Command(
        "sample",
        "genms.diffusion.commands:sample",
        ("formulae",),
        "sample structures for formulae, write CIFs",
        variadic=True,
    ),
    ("propose", ""): Command(
        "propose",
        "genms.language.commands:propose",
        ("request",),
        "propose ranked formulae for a request",
        schema="genms.language.commands:ProposeConfig",
    ),
    ("generate", ""): Command(
        "generate",
        "genms.search.commands:generate",
        ("request",),
        "the full search: request -> ranked structures",
        schema="genms.search.api:GenerateConfig",
    ),
    ("score", ""): Command(
        "score",
        "genms.energy.score:score",
        ("inputs",),
        "R_lo formation energy of CIF/POSCAR files (the energy GNN)",
        variadic=True,
        schema="genms.energy.score:ScoreConfig",
    ),
    ("validate", ""): Command(
        "validate",
        "genms.validate.commands:validate",
        ("inputs",),
        "MLIP pre-relaxation + DFT formation energies",
        variadic=True,
        schema="genms.validate.config:ValidateConfig",
    ),
    ("eval", "metrics"): Command(
        "eval_metrics",
        "genms.evaluate.commands:metrics",
        ("inputs",),
        "validity/uniqueness metrics of CIF/POSCAR files",
        variadic=True,
    ),
    ("eval", "csp"): Command(
        "eval_csp", "genms.benchmarks.csp:eval_csp", (), "CSP benchmark (match rate / RMSE)"
    ),
    ("eval", "energy"): Command(
        "eval_energy",
        "genms.benchmarks.energy:eval_energy",
        (),
        "formation-energy GNN benchmark",
        schema="genms.benchmarks.energy:EvalEnergyConfig",
    ),
    ("eval", "end-to-end"): Command(
        "eval_end_to_end",
        "genms.benchmarks.end_to_end:eval_end_to_end",
        (),
        "end-to-end family benchmark",
        schema="genms.benchmarks.end_to_end:EndToEndConfig",
    ),
    ("eval", "language"): Command(
        "eval_language",
        "genms.benchmarks.language:eval_language",
        (),
        "language-level benchmark",
        schema="genms.benchmarks.language:EvalLanguageConfig",
    ),
    ("eval", "dft"): Command(
        "eval_dft",
        "genms.benchmarks.dft:eval_dft",
        (),
        "DFT validation benchmark",
        schema="genms.benchmarks.dft:EvalDFTConfig",
    ),
    ("eval", "baselines"): Command(
        "eval_baselines",
        "genms.benchmarks.baselines.commands:eval_baselines",
        (),
        "Table 1 offline baselines (template substitution, PyXtal random)",
        schema="genms.benchmarks.baselines.commands:EvalBaselinesConfig",
    ),
    ("eval", "best-of-n"): Command(
        "eval_best_of_n",
        "genms.benchmarks.best_of_n:eval_best_of_n",
        (),
        "Figure 4: best-of-N vs a single sample on held-out compositions",
        schema="genms.benchmarks.best_of_n:BestOfNConfig",
    ),
    ("sweep", ""): Command(
        "sweep",
        "genms.launch.sweep:main",
        ("command",),
        "run a sweep's points in parallel (Ray), resumable",
        variadic=True,
        raw=True,
    ),
    ("slurm", "render"): Command(
        "slurm",
        "genms.launch.slurm:main",
        ("template",),
        "print the sbatch script for a template (--submit: sbatch it)",
        raw=True,
    ),
    ("experiment", ""): Command(
        "experiment",
        "genms.launch.experiment:main",
        ("name",),
        "regenerate one experiments/<name> result table",
        raw=True,
    ),
    ("report", "gather"): Command(
        "report_gather",
        "genms.tracking.gather:gather",
        ("source",),
        "collect runs (local JSON or W&B) into tables and plots",
        schema="genms.tracking.gather:GatherConfig",
    ),
}


#: Configs whose runner reads typed nodes one at a time: node -> "module:Class" (a command with a
#: ``schema`` is checked against it as a whole). Checked before the runner starts; node ``.``
#: is the top level, of which only the class's fields are checked. A target that is a mapping
#: (``ARCHS``) holds one class per value of the node's ``arch`` (its first: no ``arch``).
SECTIONS: dict[str, dict[str, str]] = {
    "data": {"data": "genms.data.config:DataConfig", "paths": "genms.paths:PathsConfig"},
    "train_diffusion": {
        ".": "genms.diffusion.config:TrainDiffusionOptions",
        "model": "genms.models.denoisers:ARCHS",
        "diffusion": "genms.diffusion.config:DiffusionConfig",
        "data": "genms.diffusion.config:DiffusionDataConfig",
        "train": "genms.train.config:TrainConfig",
        "optim": "genms.train.config:OptimConfig",
        "logger": "genms.train.config:LoggerConfig",
        "val_match": "genms.diffusion.config:ValMatchConfig",
        "paths": "genms.paths:PathsConfig",
    },
    "train_energy": {
        ".": "genms.energy.commands:TrainEnergyOptions",
        "data": "genms.energy.commands:EnergyDataConfig",
        "task": "genms.energy.task:EnergyTaskConfig",
        "train": "genms.train.config:TrainConfig",
        "optim": "genms.train.config:OptimConfig",
        "logger": "genms.train.config:LoggerConfig",
        "export": "genms.energy.commands:ExportConfig",
        "paths": "genms.paths:PathsConfig",
    },
    "sample": {
        ".": "genms.diffusion.commands:SampleOptions",
        "sampler": "genms.diffusion.config:SamplerConfig",
        "paths": "genms.paths:PathsConfig",
    },
    "eval_csp": {"eval": "genms.benchmarks.csp:CSPEvalConfig",
                 "paths": "genms.paths:PathsConfig"},
    "eval_metrics": {".": "genms.evaluate.commands:EvalMetricsConfig",
                     "paths": "genms.paths:PathsConfig"},
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
    lines += [
        "",
        "Any config value can be overridden as key=value; add -m to sweep (Hydra multirun).",
        "genms <command> --help: the command's options, config file and examples; --cfg job: the "
        "composed config.",
    ]
    return "\n".join(lines)


_KEY_LINE = re.compile(
    r"^(?P<indent> *)(?P<key>[A-Za-z_][\w-]*):(?P<value>[^#]*?)\s*(?:#\s*(?P<comment>.*))?$"
)


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


#: A group option's header line naming the only commands it is for (``# Only for: genms train
#: energy``): a preset of a group that several commands share but only one can use.
_ONLY_FOR = re.compile(r"^#\s*Only for:\s*(?P<names>.+?)\s*$")


def group_choices(group: str, cmd: Command) -> list[str]:
    """The options of a config group that fit ``cmd``: every option, less those whose header
    says they are only for other commands."""
    this = next(f"genms {g} {v}".strip() for (g, v), c in COMMANDS.items() if c is cmd)
    out = []
    for path in sorted((CONF_DIR / group).glob("*.yaml")):
        only: set[str] = set()
        for line in path.read_text().splitlines():
            if not line.startswith("#"):
                break
            m = _ONLY_FOR.match(line)
            if m:
                only |= {n.strip().strip("`") for n in m["names"].split(",")}
        if not only or this in only:
            out.append(path.stem)
    return out


#: Config groups of the pipeline (genms/pipeline.py) whose chosen file's top-level values are
#: listed among a command's main options (``search.H``); other groups are only named.
LISTED_GROUPS = ("search", "rhi", "sampler", "predictor")


def _file_options(
    path: Path, max_depth: int, prefix: str = ""
) -> tuple[list[tuple[str, str, str]], list[tuple[str, str]]]:
    """``(key, default, comment)`` of a config file's values down to ``max_depth`` (keys after
    ``prefix``), and the ``(group, default)`` items of its defaults list."""
    options: list[tuple[str, str, str]] = []
    defaults: list[tuple[str, str]] = []
    parents: list[str] = [prefix] if prefix else []
    base = len(parents)
    block = ""
    for line in path.read_text().splitlines():
        if not line.strip() or line.lstrip().startswith("#"):
            continue
        if block == "defaults" and line.lstrip().startswith("- "):
            item = line.split("#", 1)[0].strip()[2:]
            if ":" in item and not item.startswith("override"):
                group, default = (x.strip() for x in item.split(":", 1))
                defaults.append((group, default))
            continue
        m = _KEY_LINE.match(line)
        if not m:
            continue
        depth = len(m["indent"]) // 2
        if depth == 0:
            block = m["key"]
        if block in ("defaults", "hydra") or depth > max_depth:
            continue
        parents[base + depth :] = [m["key"]]
        value = m["value"].strip()
        if value or m["comment"]:
            options.append((".".join(parents), value, (m["comment"] or "").strip()))
    return options, defaults


def config_options(
    cmd: Command, max_depth: int = 1
) -> tuple[list[tuple[str, str, str]], list[str]]:
    """``(options, groups)`` of the command's primary config: ``(key, default, comment)`` for the
    top-level values and those one level down, then the top-level values of its default config
    groups (``search.H``), and ``group=default`` of its defaults list."""
    path = config_path(cmd)
    if not path.is_file():
        return [], []
    options, defaults = _file_options(path, max_depth)
    groups: list[str] = []
    for group, default in defaults:
        choices = group_choices(group, cmd)
        shown = len(choices) > 1 or (choices and default == "null")
        groups.append(f"{group}={default}" + (f" ({'|'.join(choices)})" if shown else ""))
        group_file = CONF_DIR / group / f"{default}.yaml"
        if group in LISTED_GROUPS and group_file.is_file():
            seen = {key for key, _, _ in options}
            options += [o for o in _file_options(group_file, 0, group)[0] if o[0] not in seen]
    return options, groups


def command_help(cmd: Command, name: str) -> str:
    """``genms <command> --help``: usage, what it does, its main options, config file and
    examples."""
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
    return (
        "=" in arg
        and head.replace(".", "")
        .replace("_", "")
        .replace("+", "")
        .replace("~", "")
        .replace("/", "")
        .replace("@", "")
        .isalnum()
    )


def quote_value(value: str) -> str:
    """Quote a free-text value for Hydra's override grammar, to be read back literally.

    ``${...}`` is escaped for OmegaConf (request text is never interpolated); in Hydra's
    quoted strings only backslashes before a quote or at the end need doubling.
    """
    escaped = configs.escape_interpolation(value)
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
HYDRA_VALUE_FLAGS = {
    "--cfg": ("job", "hydra", "all"),
    "-c": ("job", "hydra", "all"),
    "--info": ("all", "config", "defaults", "defaults-tree", "plugins", "searchpath"),
    "-i": ("all", "config", "defaults", "defaults-tree", "plugins", "searchpath"),
    "--package": None,
    "-p": None,
}
HYDRA_FLAGS = ("--resolve", "--hydra-help")


def group_help(group: str) -> str:
    lines = [
        f"usage: genms {group} <{'|'.join(v for (g, v) in COMMANDS if g == group)}> [args] "
        "[key=value ...]",
        "",
    ]
    for (g, verb), cmd in COMMANDS.items():
        if g == group:
            lines.append(f"  genms {group} {verb}".ljust(30) + cmd.help)
    lines += [
        "",
        f"genms {group} <command> --help: that command's options, config file and examples.",
    ]
    return "\n".join(lines)


def parse_argv(argv: list[str]) -> tuple[Command, str, list[str], bool]:
    """argv (without the program name) -> (command, display name, hydra overrides, multirun).

    Raises :class:`HelpRequested` for ``--help`` (anywhere) and :class:`UsageError` for a bad
    command line.
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
                hydra_flags.append(
                    a
                )  # --cfg / --info without a value: Hydra's own default or message
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
QUIET_LOGGERS = (
    "absl", "jax", "orbax", "flax", "matplotlib", "PIL", "h5py", "numexpr", "urllib3", "ray"
)


def quiet_library_logs() -> None:
    for name in QUIET_LOGGERS:
        logger = logging.getLogger(name)
        if logger.level in (logging.NOTSET, logging.INFO):
            logger.setLevel(logging.WARNING)


def load_target(target: str):
    module, func = target.split(":")
    return getattr(importlib.import_module(module), func)


def register_schema(cmd: Command) -> None:
    """Register the command's typed config with Hydra's ConfigStore (its YAML names it first)."""
    if cmd.schema:
        configs.register_schema(f"{cmd.config_name}_schema", load_target(cmd.schema))


def compose(config_name: str, overrides: list[str] | tuple[str, ...] = ()) -> DictConfig:
    """``conf/<config_name>.yaml`` composed with ``overrides`` outside a Hydra app."""
    for cmd in COMMANDS.values():
        if cmd.config_name == config_name:
            register_schema(cmd)
    with initialize_config_dir(config_dir=str(CONF_DIR), version_base="1.3"):
        return hydra_compose(config_name, overrides=list(overrides))


def config_problems(cmd: Command, cfg: DictConfig) -> list[str]:
    """Every bad value of a composed command config: its schema, or each typed node."""
    if cmd.schema:
        return configs.config_problems(load_target(cmd.schema), cfg)
    problems: list[str] = []
    for key, target in SECTIONS.get(cmd.config_name, {}).items():
        cls = load_target(target)
        if isinstance(cls, Mapping):  # one schema per architecture
            node = OmegaConf.select(cfg, key)
            if not isinstance(node, DictConfig):
                continue
            arch = node.get("arch") or next(iter(cls))
            if not isinstance(arch, str) or arch not in cls:
                problems.append(f"{key}.arch={arch!r} is not one of: {', '.join(cls)}")
                continue
            cls = cls[arch]
        if key == ".":
            names = [f.name for f in dataclasses.fields(cls)]
            node = {k: OmegaConf.to_container(cfg, resolve=False)[k] for k in names if k in cfg}
            problems += configs.config_problems(cls, node)
            continue
        node = OmegaConf.select(cfg, key)
        if node is not None:
            problems += configs.config_problems(cls, node, f"{key}.")
    return problems


def hydra_overrides(args: list[str]) -> list[str]:
    """``args`` without Hydra's flags (``--cfg job``, ``--resolve``): the config overrides."""
    out: list[str] = []
    rest = list(args)
    while rest:
        a = rest.pop(0)
        if a in HYDRA_VALUE_FLAGS:
            allowed = HYDRA_VALUE_FLAGS[a]
            if rest and (allowed is None or rest[0] in allowed):
                rest.pop(0)
        elif not (a in HYDRA_FLAGS or any(a.startswith(f + "=") for f in HYDRA_VALUE_FLAGS)):
            out.append(a)
    return out


def check_config(cmd: Command, name: str, overrides: list[str]) -> None:
    """Compose the command's config and check every value before any work starts: an override
    Hydra cannot apply, or any value out of its range, ends the command with one line per
    problem on stderr and exit code 2."""
    mine = [o for o in hydra_overrides(overrides) if not o.startswith("hydra.")]
    problems: list[str] = []
    try:
        cfg = compose(cmd.config_name, mine)
    except Exception as exc:  # an override Hydra cannot apply: find every one
        cfg, good, error = None, list(mine), exc
        while error is not None:
            text = str(error)
            named = next((o for o in good if o in text), None) or next(
                (o for o in good if f"'{o.split('=', 1)[0]}'" in text), None)
            if named is not None:  # the override the message names
                problems.append(configs.one_line(error))
                good.remove(named)
            else:  # try each override alone
                bad = []
                for o in good:
                    try:
                        compose(cmd.config_name, [o])
                    except Exception as alone:
                        bad.append(o)
                        problems.append(configs.one_line(alone))
                if not bad:  # they fail only together
                    problems.append(configs.one_line(error))
                    break
                good = [o for o in good if o not in bad]
            try:
                cfg, error = compose(cmd.config_name, good), None
            except Exception as again:
                error = again
    if cfg is not None:
        problems += config_problems(cmd, cfg)
    if problems:
        sys.stderr.write("".join(f"genms {name}: {p}\n" for p in problems))
        raise SystemExit(2)


def run_command(cmd: Command, name: str, overrides: list[str], multirun: bool = False):
    fn = load_target(cmd.target)
    register_schema(cmd)
    if not multirun:
        check_config(cmd, name, overrides)
    result: dict = {}

    @hydra.main(config_path=str(CONF_DIR), config_name=cmd.config_name, version_base="1.3")
    def _app(cfg: DictConfig):
        quiet_library_logs()  # after Hydra's logging set-up, which keeps these levels
        try:
            result["value"] = fn(cfg)
        except ConfigError as exc:  # bad config values: one line naming each, exit 2
            problems = exc.problems or [configs.one_line(exc)]
            sys.stderr.write("".join(f"genms {name}: {p}\n" for p in problems))
            raise SystemExit(2) from None
        except FileNotFoundError as exc:  # data not prepared, a model bundle or input file
            # missing: one line naming it (and the command that builds it), no traceback
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


def show(text: str) -> int:
    """Print asked-for help on stdout (exit status 0), also when the reader stops early
    (``genms --help | head``)."""
    try:
        print(text, flush=True)  # noqa: T201 - the help asked for
    except BrokenPipeError:  # the pipe closed: the rest goes nowhere, without a traceback
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
    return 0


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
                return show(str(exc.code))
        return int(load_target(raw[0].target)(raw[1]) or 0)
    try:
        cmd, name, overrides, multirun = parse_argv(argv)
    except HelpRequested as exc:
        return show(str(exc))
    except UsageError as exc:
        sys.stderr.write(f"{exc}\n")
        return 2
    if not CONF_DIR.is_dir():
        raise SystemExit(
            f"genms: config folder {CONF_DIR} not found; install with `pip install -e .`"
        )
    run_command(cmd, name, overrides, multirun)
    return 0


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
