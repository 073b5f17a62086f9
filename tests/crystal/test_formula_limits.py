"""Formulae above the size limits fail fast, with one line naming the limit (bounded
memory/time)."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap

import pytest

from genms.crystal.composition import (
    MAX_CELL_ATOMS,
    MAX_ELEMENT_COUNT,
    MAX_FORMULA_ATOMS,
    FormulaLimitError,
    atomic_numbers_for,
    parse_formula,
)
from genms.language.request import RequestError, parse_request
from genms.paths import REPO_ROOT

MEMORY_LIMIT = 3 << 30  # bytes of address space for a command
TIME_LIMIT = 120  # seconds


def run_limited(argv: list[str], cwd) -> subprocess.CompletedProcess:
    """``genms <argv>`` in a subprocess with its address space and time bounded."""
    code = textwrap.dedent(f"""
        import resource, sys
        resource.setrlimit(resource.RLIMIT_AS, ({MEMORY_LIMIT}, {MEMORY_LIMIT}))
        from genms.cli import main
        sys.exit(main({argv!r}))
    """)
    env = {**os.environ, "PYTHONPATH": str(REPO_ROOT), "HYDRA_FULL_ERROR": "0"}
    return subprocess.run([sys.executable, "-c", code], cwd=cwd, env=env, capture_output=True,
                          text=True, timeout=TIME_LIMIT)


@pytest.mark.parametrize("formula", ["NaCl999999999", "Na1001Cl", "(NaCl500)3", "Na600Cl600",
                                     "NaCl" + "9" * 40])
def test_formula_above_a_limit_is_refused(formula):
    with pytest.raises(FormulaLimitError, match="at most"):
        parse_formula(formula)


def test_formula_at_the_limit_is_read():
    assert parse_formula(f"Na{MAX_FORMULA_ATOMS // 2}Cl{MAX_FORMULA_ATOMS // 2}").num_atoms == 1000
    assert parse_formula(f"Na{MAX_ELEMENT_COUNT - 1}Cl").num_atoms == MAX_ELEMENT_COUNT


def test_cell_above_the_limit_is_refused():
    with pytest.raises(FormulaLimitError, match=f"at most {MAX_CELL_ATOMS} atoms per cell"):
        atomic_numbers_for("NaCl", MAX_CELL_ATOMS)


@pytest.mark.parametrize("text, fragment", [
    ("a perovskite like NaCl999999999", "at most 1000 atoms of one element"),
    ("NaCl999999999", "at most 1000 atoms of one element"),
    ("a chalcogenide with atom ratio 1:1:99999999999", "at most 1000 atoms per formula"),
])
def test_request_with_a_huge_formula_names_the_limit(text, fragment):
    with pytest.raises(RequestError, match=fragment):
        parse_request(text)


@pytest.mark.parametrize("argv", [
    ["propose", "NaCl999999999"],
    ["generate", "NaCl999999999"],
    ["sample", "NaCl999999999"],
    ["sample", "NaCl", "formula_units=999999999"],
])
def test_commands_fail_fast_on_a_huge_formula(tmp_path, argv):
    proc = run_limited([*argv, f"hydra.run.dir={tmp_path / 'run'}", f"out_dir={tmp_path / 'out'}"]
                       if argv[0] != "propose" else [*argv, f"hydra.run.dir={tmp_path / 'run'}"],
                       tmp_path)
    out = proc.stdout + proc.stderr
    assert proc.returncode == 2, out
    assert "at most" in out and "Traceback" not in out and "MemoryError" not in out
