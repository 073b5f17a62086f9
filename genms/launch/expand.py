"""A command line with sweep overrides -> the list of sweep points.

``genms sweep train energy optim.lr=1e-3,3e-4 seed=0,1`` names a base command
(``genms train energy``) and overrides in Hydra's grammar. The overrides are parsed by Hydra's
own :class:`~hydra.core.override_parser.overrides_parser.OverridesParser` and expanded by the
basic sweeper's cartesian product (:meth:`BasicSweeper.split_arguments`), so every sweep form
that ``genms -m`` accepts (``a,b``, ``range(0,3)``, ``choice(...)``, quoted strings, globs of
config groups are the exception: they need the config) expands the same way here.

A point's identity is a hash of the base command and its sorted overrides: it does not depend
on the point's position in the sweep, so a sweep grown by one value resumes its old points.
Commands other than ``genms`` (e.g. ``python script.py``) are swept the same way: their
``key=value`` arguments are the overrides.
"""

from __future__ import annotations

import hashlib
import json
import re
from dataclasses import dataclass

from hydra._internal.core_plugins.basic_sweeper import BasicSweeper
from hydra.core.global_hydra import GlobalHydra
from hydra.core.override_parser.overrides_parser import OverridesParser
from hydra.errors import HydraException
from omegaconf import OmegaConf

from genms.cli import COMMANDS, UsageError, _is_override, compose, parse_argv


class SweepError(ValueError):
    """The sweep's command or overrides cannot be expanded (the message says why and what to do)."""


@dataclass(frozen=True)
class SweepPoint:
    """One point of a sweep: the full override list of one run of the base command."""

    index: int
    overrides: tuple[str, ...]
    params: tuple[tuple[str, str], ...]  # (key, value) of the swept keys only
    point_id: str
    name: str  # a readable, filesystem-safe folder name

    @property
    def params_dict(self) -> dict[str, str]:
        return dict(self.params)


@dataclass(frozen=True)
class SweepSpec:
    """A base command, its overrides (some swept), arguments passed unchanged, and the points."""

    command: tuple[str, ...]  # ("genms", "train", "energy") or ("python", "script.py")
    overrides: tuple[str, ...]
    extra: tuple[str, ...]
    points: tuple[SweepPoint, ...]
    swept_keys: tuple[str, ...]
    sweep_id: str

    @property
    def is_genms(self) -> bool:
        return self.command[:1] == ("genms",)

    @property
    def label(self) -> str:
        words = self.command[1:] if self.is_genms else self.command[:1]
        return _slug("-".join(words) or "sweep", 40)


def _slug(text: str, limit: int) -> str:
    """Safe in a path and in a Hydra override value (no '=', ',', quotes or brackets)."""
    s = re.sub(r"[^A-Za-z0-9._+-]+", "_", text).strip("_")
    return s[:limit] or "x"


def _digest(obj: object) -> str:
    return hashlib.sha1(json.dumps(obj, sort_keys=True).encode()).hexdigest()


def _is_genms_command(args: list[str]) -> bool:
    if not args:
        return False
    return any(group == args[0] for group, _ in COMMANDS)


def split_command(args: list[str]) -> tuple[tuple[str, ...], list[str], list[str]]:
    """argv of the swept command -> (base command, overrides, arguments passed unchanged)."""
    args = list(args)
    if not args:
        raise SweepError("no command to sweep: e.g. `genms sweep train energy optim.lr=1e-3,3e-4`")
    explicit = args[0] == "genms"
    if explicit:
        args = args[1:]
    if args and args[0] in ("-m", "--multirun"):
        raise SweepError("`genms sweep` expands the sweep itself: drop -m/--multirun")
    if explicit:
        if not _is_genms_command(args):
            raise SweepError(
                f"`genms {' '.join(args[:2])}` is not a genms command; see `genms --help`"
            )
    if _is_genms_command(args):
        if any(a in ("-m", "--multirun") for a in args):
            raise SweepError("`genms sweep` expands the sweep itself: drop -m/--multirun")
        if args[0] == "sweep":
            raise SweepError("a sweep of `genms sweep` is not supported: sweep the inner command")
        try:
            cmd, name, overrides, _ = parse_argv(args)
        except (UsageError, SystemExit) as exc:
            raise SweepError(str(exc)) from None
        if cmd.target.startswith("genms.launch."):
            raise SweepError(f"`genms {name}` launches other commands; sweep the command it runs")
        extra = [o for o in overrides if o.startswith(("hydra.", "--"))]
        overrides = [o for o in overrides if o not in extra]
        return ("genms", *name.split()), overrides, extra
    base = [a for a in args if not _is_override(a)]
    overrides = [a for a in args if _is_override(a)]
    if args[: len(base)] != base:
        raise SweepError(
            "put the command and its plain arguments first, then the key=value overrides"
        )
    return tuple(base), overrides, []


def expand_overrides(overrides: list[str]) -> tuple[list[list[str]], list[str]]:
    """Hydra overrides (some of them sweeps) -> (one override list per point, swept keys)."""
    try:
        parsed = OverridesParser.create().parse_overrides(list(overrides))
        batches = BasicSweeper.split_arguments(parsed, None)
    except HydraException as exc:
        raise SweepError(f"cannot expand the sweep overrides: {exc}") from None
    swept = [o.get_key_element() for o in parsed if o.is_sweep_override()]
    return [list(p) for p in batches[0]], swept


def build_spec(args: list[str]) -> SweepSpec:
    """The sweep of ``args`` (a command line after ``genms sweep``, without ``sweep.*`` options)."""
    command, overrides, extra = split_command(args)
    per_point, swept = expand_overrides(overrides)
    points = []
    for i, ovr in enumerate(per_point):
        values = {o.split("=", 1)[0]: o.split("=", 1)[1] for o in ovr}
        params = tuple((k, values[k]) for k in swept)
        pid = _digest([list(command), sorted(ovr), list(extra)])[:10]
        label = "_".join(f"{k.split('.')[-1]}-{v}" for k, v in params) or "point"
        points.append(SweepPoint(i, tuple(ovr), params, pid, f"{_slug(label, 60)}-{pid[:8]}"))
    ids = [p.point_id for p in points]
    if len(set(ids)) != len(ids):
        raise SweepError("the sweep repeats a point (a value listed twice?)")
    sweep_id = _digest([list(command), sorted(overrides), list(extra)])[:10]
    return SweepSpec(
        tuple(command), tuple(overrides), tuple(extra), tuple(points), tuple(swept), sweep_id
    )


#: Config keys a genms command may use for its output folder, in order of preference.
OUTPUT_KEYS = ("output_dir", "out_dir", "run_dir", "train.run_dir", "output.dir", "out")


def detect_output_key(command: tuple[str, ...]) -> str | None:
    """The key of a genms command's config naming its output folder (None when it has none)."""
    if command[:1] != ("genms",):
        return None
    key = (command[1], command[2] if len(command) > 2 else "")
    cmd = COMMANDS.get(key)
    if cmd is None:
        return None

    if GlobalHydra.instance().is_initialized():
        return None
    try:
        cfg = compose(cmd.config_name)
    except Exception:  # a command whose config does not compose has no detectable key
        return None
    for k in OUTPUT_KEYS:
        if (
            OmegaConf.select(cfg, k, default="__missing__", throw_on_resolution_failure=False)
            != "__missing__"
        ):
            return k
    return None
