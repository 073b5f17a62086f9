"""Every ``wandb sync`` command line in the docs and code uses options the installed ``wandb`` CLI
has."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
SOURCES = [
    *REPO.glob("*.md"),
    *(REPO / "docs").glob("*.md"),
    *(REPO / "genms").rglob("*.py"),
    *(REPO / "conf").rglob("*.yaml"),
]


def documented_sync_flags() -> dict[str, list[str]]:
    found: dict[str, list[str]] = {}
    for path in SOURCES:
        for line in path.read_text(encoding="utf-8").splitlines():
            for m in re.finditer(r"wandb sync((?:\s+[^\s`#]+)*)", line):
                for flag in re.findall(r"(?<!\S)(--?[A-Za-z][\w-]*)", m.group(1)):
                    found.setdefault(flag, []).append(str(path.relative_to(REPO)))
    return found


@pytest.mark.skipif(shutil.which("wandb") is None, reason="the wandb CLI is not installed")
def test_documented_wandb_sync_flags_exist_in_the_installed_cli():
    done = subprocess.run(
        ["wandb", "sync", "--help"],
        capture_output=True,
        text=True,
        timeout=120,
        env={**os.environ, "WANDB_MODE": "offline", "WANDB_SILENT": "true"},
    )
    assert done.returncode == 0, done.stderr
    options = set(re.findall(r"(?<![\w-])(--?[A-Za-z][\w-]*)", done.stdout))
    flags = documented_sync_flags()
    assert flags, "no wandb sync command line found in the docs"
    missing = {f: where for f, where in flags.items() if f not in options}
    assert not missing, (
        f"wandb sync has no {sorted(missing)} (used in {missing}); options: {sorted(options)}"
    )
