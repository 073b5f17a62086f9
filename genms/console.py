"""What a command prints and how it ends: the console, a failure with an exit code, and the
Hydra run it belongs to (its folder and the overrides it was started with)."""

from __future__ import annotations

import shlex
import sys
import tempfile
from pathlib import Path
from typing import NoReturn

from hydra.core.hydra_config import HydraConfig
from rich.console import Console
from rich.markup import escape


def make_console(width: int = 140) -> Console:
    """A console for a command's output; piped output (logs, CI) gets a fixed ``width`` so
    tables are not truncated."""
    return Console(highlight=False, width=None if sys.stdout.isatty() else width)


def fail(out: Console, message: str, code: int) -> NoReturn:
    """Print ``message`` (as typed: never read as markup) and end the command with exit code
    ``code``."""
    out.print(f"[bold red]genms:[/] {escape(message)}", soft_wrap=True)
    raise SystemExit(code)


def exit_with(message: str, code: int = 2) -> NoReturn:
    """Write ``message`` to stderr as one line and end the command with exit code ``code``."""
    sys.stderr.write(" ".join(message.split()) + "\n")
    sys.stderr.flush()
    raise SystemExit(code)


def writable_dir(path: Path) -> str | None:
    """Create ``path`` and check that a file can be written in it; the reason when not."""
    try:
        path.mkdir(parents=True, exist_ok=True)
        with tempfile.TemporaryFile(dir=path):
            pass
    except OSError as exc:
        return exc.strerror or type(exc).__name__
    return None


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


def typed_command() -> str:
    """The command as typed (the CLI puts ``genms <cmd>`` and the overrides in ``sys.argv``)."""
    return " ".join([sys.argv[0]] + [shlex.quote(a) for a in sys.argv[1:]])
