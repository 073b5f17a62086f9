"""What a command prints and how it ends: the console, a failure with an exit code, and the
Hydra run it belongs to (its folder and the overrides it was started with)."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import NoReturn

from hydra.core.hydra_config import HydraConfig
from rich.console import Console


def make_console(width: int = 140) -> Console:
    """A console for a command's output; piped output (logs, CI) gets a fixed ``width`` so
    tables are not truncated."""
    return Console(highlight=False, width=None if sys.stdout.isatty() else width)


def fail(out: Console, message: str, code: int) -> NoReturn:
    """Print ``message`` and end the command with exit code ``code``."""
    out.print(f"[bold red]genms:[/] {message}")
    raise SystemExit(code)


def run_dir(value: str | None = None) -> Path:
    """``value`` when given, else the running Hydra app's output folder."""
    if value:
        return Path(value).expanduser()
    return Path(HydraConfig.get().runtime.output_dir)


def command_line(command: str) -> str:
    """``command`` followed by the overrides of the running Hydra app (none outside one)."""
    try:
        overrides = list(HydraConfig.get().overrides.task)
    except ValueError:  # not under Hydra
        overrides = []
    return " ".join([command, *overrides])
