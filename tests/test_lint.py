"""The code follows the project's ruff rules (pyproject.toml): imports at the top of each module,
the optional dependencies imported only where used, lines within 100 characters."""

import importlib.util
import shutil
import subprocess
import sys

import pytest

from genms.paths import REPO_ROOT


def test_ruff_finds_nothing():
    if importlib.util.find_spec("ruff") is not None:  # a dev dependency: pip install -e ".[dev]"
        ruff = [sys.executable, "-m", "ruff"]
    elif shutil.which("ruff"):
        ruff = [shutil.which("ruff")]
    else:
        pytest.skip("ruff is not installed (pip install -e '.[dev]')")
    proc = subprocess.run([*ruff, "check", "--no-cache", "genms", "tests", "scripts"],
                          cwd=REPO_ROOT, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-1000:]
