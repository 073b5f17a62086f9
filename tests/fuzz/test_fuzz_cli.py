"""Hostile requests and overrides across every command: exit code 2 with a one-line message, or
success; never a traceback; bounded time and memory per case; no file lost or overwritten.

The cases are generated deterministically (:func:`cases`) and run in batches, each batch in one
subprocess (``tests/fuzz/runner.py``) whose address space is bounded with ``RLIMIT_AS``.
"""

from __future__ import annotations

import hashlib
import json
import os
import random
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from genms.paths import REPO_ROOT

SEED = 14
MEMORY_LIMIT = 6 << 30  # bytes of address space of a batch (JAX reserves much of it)
# One xdist worker runs every test of this module, and the fixture that runs all the cases is
# session-scoped: it runs once, even when the worker runs other modules' tests in between.
pytestmark = pytest.mark.xdist_group("fuzz")

CASE_SECONDS = 60  # the runner's per-case alarm
CASE_MEMORY_MB = 1500  # peak resident growth allowed to a case

BAD_NUMBERS = ["0", "-1", "nan", "inf", "-inf", "1e308", "99999999999999999999", "abc", "''",
               "null", "[1,2]", "{a:1}", "1.5", "-0.0", "1e-400", "0x10"]

HOSTILE_TEXT = [
    "", " ", "\t\n", "NaCl999999999", "Na999999999999999999999Cl", "(NaCl500)3", "((((NaCl)9)9)9)9",
    "a perovskite like NaCl999999999", "a chalcogenide with atom ratio 1:1:99999999999",
    "atom ratio 0:0:0", "atom ratio 1:2:3:4:5:6:7:8:9:10", "give me 99999999 perovskites",
    "give me 0 spinels", "give me -3 spinels", "AB99999999X3", "${HOME}", "${oc.env:HOME}",
    "\\${HOME}", "a perovskite [/]", "[bold red]perovskite", "a perovskite\x00with nul",
    "a perovskite \x1b[31m red", "'; rm -rf / #", "$(reboot)", "`id`", "../../etc/passwd",
    "a perovskite " * 400, "x" * 25_000, "a novel oxide with no oxygen", "an oxide without O",
    "a perovskite and a spinel and a garnet", "Xx2O3", "Uuo", "Og118", "H" * 200,
    "a novel chloride perovskite", "SrTiO3", "NaCl", "a spinel like MgAl2O4",
    "a perovskite with Fe, without Fe", "émail ünïcode 🧪 perovskite", "\u202eetiksvorep a",
    "NaCl NaCl NaCl", "1:1:3", "ABX3", "a stable chalcogenide with atom ratio 1:1:2",
]


def _formula_bombs(rng: random.Random, n: int) -> list[str]:
    out = []
    elements = ["Na", "Cl", "O", "Fe", "Sr", "Ti", "Cs", "Pb", "I"]
    for _ in range(n):
        k = rng.randint(1, 4)
        parts = [f"{rng.choice(elements)}{rng.choice(['', '1001', '999999999', '5000', '1e5'])}"
                 for _ in range(k)]
        text = "".join(parts)
        if rng.random() < 0.3:
            text = f"({text}){rng.choice(['300', '999999', '2'])}"
        out.append(text)
    return out


def cases(tmp: Path) -> list[list[str]]:
    """Every fuzz case as an argv for ``genms`` (deterministic for a given ``tmp``)."""
    rng = random.Random(SEED)
    out: list[list[str]] = []

    def hydra(i: int) -> str:
        return f"hydra.run.dir={tmp / 'hydra' / str(i)}"

    shipped = "proposer.reference.source=shipped"
    # propose: hostile requests, then hostile overrides on a request that would work
    for text in HOSTILE_TEXT + _formula_bombs(rng, 20):
        out.append(["propose", text, shipped, "n=2"])
    propose_keys = ["n", "seed", "proposer.offline.max_combinations", "proposer.offline.pool_size",
                    "proposer.offline.max_z", "proposer.offline.temperature",
                    "proposer.offline.max_template_elements", "search.L", "nosuch.key"]
    for key in propose_keys:
        for value in rng.sample(BAD_NUMBERS, 3):
            out.append(["propose", "a spinel", shipped, f"{key}={value}", "n=2"])
    out.append(["propose", "a novel chloride perovskite", shipped,
                "proposer.offline.max_combinations=0"])
    # the LLM proposer's settings: values that are always out of range, so no server is called
    for override in ["proposer.llm.temperature=nan", "proposer.llm.temperature=-1",
                     "proposer.llm.max_tokens=0", "proposer.llm.timeout_s=inf",
                     "proposer.llm.max_retries=1e308", "proposer.retrieval.wikipedia_timeout_s=0"]:
        out.append(["propose", "a spinel", shipped, "proposer=llm", "proposer.llm.model=fuzz",
                    override, "n=2"])
    # generate (the models are fakes: a tiny search)
    small = ["search.H=4", "search.W=2", "search.L=2", "report=false"]
    for i, text in enumerate(HOSTILE_TEXT[:22] + _formula_bombs(rng, 6)):
        out.append(["generate", text, *small, f"out_dir={tmp / 'gen' / str(i)}"])
    generate_keys = ["search.L", "search.W", "search.H", "search.max_atoms", "search.top_k",
                     "search.filters.e_form_min", "search.filters.min_distance_ang",
                     "search.lambda_hi", "search.formula_units", "executor.num_workers",
                     "proposer.offline.max_combinations", "seed"]
    for i, key in enumerate(generate_keys):
        for j, value in enumerate(rng.sample(BAD_NUMBERS, 2)):
            out.append(["generate", "a novel perovskite", *small, f"{key}={value}",
                        f"out_dir={tmp / 'genk' / f'{i}_{j}'}"])
    out.append(["generate", "a novel perovskite", *small, f"out_dir={tmp / 'keep' / 'a.txt'}"])
    out.append(["generate", "a novel perovskite", *small, "out_dir=/proc/1/x"])
    # sample (no bundle: a valid formula ends at the missing bundle, exit 2)
    nobundle = f"sampler.bundle={tmp / 'no_bundle'}"
    for text in ["NaCl999999999", "(NaCl500)3", "Xx", "", "${HOME}", "NaCl[/]", "Na-1Cl",
                 *_formula_bombs(rng, 6)]:
        out.append(["sample", text, nobundle, f"out_dir={tmp / 'samples'}"])
    for key in ["n", "seed", "formula_units", "sampler.max_batch", "sampler.steps"]:
        for value in rng.sample(BAD_NUMBERS, 3):
            out.append(["sample", "NaCl", nobundle, f"{key}={value}", f"out_dir={tmp / 'samples'}"])
    # validate: unreadable, binary, missing and hostile inputs
    out.append(["validate", str(tmp / "keep" / "binary.cif"), f"out_dir={tmp / 'val'}"])
    out.append(["validate", str(tmp / "missing.cif"), f"out_dir={tmp / 'val'}"])
    out.append(["validate", "${HOME}", f"out_dir={tmp / 'val'}"])
    out.append(["validate", f"out_dir={tmp / 'val'}"])
    for key in ["max_atoms", "top", "mlip.fmax", "mlip.steps", "launch.threads", "launch.nice"]:
        for value in rng.sample(BAD_NUMBERS, 2):
            out.append(["validate", str(tmp / "keep" / "binary.cif"), f"{key}={value}",
                        f"out_dir={tmp / 'val'}"])
    # data prepare: unknown datasets, empty sources, bad settings
    data = [f"paths.data_dir={tmp / 'empty'}", f"paths.cache_dir={tmp / 'cache'}"]
    for name in ["nope", "../../etc/passwd", "${HOME}", "mp_20", "cif_dir", "all"]:
        out.append(["data", "prepare", name, *data, f"data.cif_dir={tmp / 'empty'}"])
    for key in ["data.workers", "data.chunksize", "data.max_atoms", "data.union_symprec",
                "data.download_timeout_s"]:
        for value in rng.sample(BAD_NUMBERS, 2):
            out.append(["data", "prepare", "cif_dir", *data, f"{key}={value}"])
    # train (tiny): each case also sets train.keep=0, so it always ends before any data loads
    for command, base in (("diffusion", "debug=diffusion_tiny"), ("energy", "task_name=fuzz")):
        for key in ["train.steps", "train.batch_size", "train.ema_decay", "train.seed",
                    "optim.lr", "optim.b1", "optim.eps", "optim.grad_clip", "optim.warmup_steps"]:
            value = rng.choice(BAD_NUMBERS)
            out.append(["train", command, base, "train.keep=0", f"{key}={value}",
                        f"train.run_dir={tmp / 'runs' / command}",
                        f"export.path={tmp / 'bundles' / command}"])
    # model shapes (and the options of conf/train_*.yaml that no other node holds)
    for command, base, override in (
            ("diffusion", "debug=diffusion_v2_tiny", "model.width=0"),
            ("diffusion", "debug=diffusion_v2_tiny", "model.width=30"),  # not a multiple of heads
            ("diffusion", "debug=diffusion_v2_tiny", "model.dropout=1.0"),
            ("diffusion", "debug=diffusion_v2_tiny", "model.r_max=-inf"),
            ("diffusion", "debug=diffusion_tiny", "model.head_dim=nan"),
            ("diffusion", "debug=diffusion_tiny", "val_match.n=-1"),
            ("energy", "task_name=fuzz", "task.model.cutoff=nan"),
            ("energy", "task_name=fuzz", "task.ensemble_size=0"),
            ("energy", "task_name=fuzz", "time_budget_minutes=-inf")):
        out.append(["train", command, base, "train.keep=0", override,
                    f"train.run_dir={tmp / 'runs' / command}",
                    f"export.path={tmp / 'bundles' / command}"])
    return [[*argv, hydra(i)] for i, argv in enumerate(out)]


def _tree(root: Path) -> dict[str, str]:
    return {str(p.relative_to(root)): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(root.rglob("*")) if p.is_file()}


def _run_batch(argvs: list[list[str]], work: Path, name: str) -> list[dict]:
    cases_path, results_path = work / f"{name}.cases.json", work / f"{name}.results.json"
    cases_path.write_text(json.dumps([{"argv": a} for a in argvs]))
    code = textwrap.dedent(f"""
        import resource, runpy, sys
        resource.setrlimit(resource.RLIMIT_AS, ({MEMORY_LIMIT}, {MEMORY_LIMIT}))
        sys.argv = ["runner", {str(cases_path)!r}, {str(results_path)!r}]
        runpy.run_module("tests.fuzz.runner", run_name="__main__")
    """)
    env = {**os.environ, "PYTHONPATH": str(REPO_ROOT), "HYDRA_FULL_ERROR": "0",
           "JAX_PLATFORMS": "cpu"}
    proc = subprocess.run([sys.executable, "-c", code], cwd=work, env=env, capture_output=True,
                          text=True, timeout=CASE_SECONDS * len(argvs) + 120)
    results = json.loads(results_path.read_text()) if results_path.exists() else []
    assert proc.returncode == 0 and len(results) == len(argvs), (
        f"the batch ended early (exit {proc.returncode}) after {len(results)} of {len(argvs)} "
        f"cases:\n{proc.stderr[-3000:]}")
    return results


def _problem(result: dict) -> str | None:
    """Why a case's outcome breaks the contract, or None."""
    code, out, err = result["code"], result["stdout"], result["stderr"]
    text = out + err
    if "Traceback" in text or code in ("crash", "timeout"):
        return f"{code}: {text[-1500:]}"
    if code == 0:
        return None
    lines = [ln for ln in text.splitlines() if ln.strip()]
    if code != 2:
        return f"exit code {code}: {text[-800:]}"
    if not lines or not lines[-1].lstrip().startswith("genms"):
        return f"exit 2 without a final 'genms ...' line: {text[-800:]}"
    if "HYDRA_FULL_ERROR" in text or "full_key:" in text:
        return f"a multi-line Hydra/OmegaConf error: {text[-800:]}"
    return None


@pytest.fixture(scope="session")
def fuzz_results(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("fuzz")
    keep = tmp / "keep"  # files that no case may remove or change
    keep.mkdir()
    (keep / "a.txt").write_text("do not overwrite\n")
    (keep / "binary.cif").write_bytes(bytes(range(256)) * 4)
    (keep / "note.cif").write_text("data_x\n_cell_length_a 4\n")
    (tmp / "empty").mkdir()
    before = _tree(keep)
    argvs = cases(tmp)
    groups: dict[str, list[list[str]]] = {}
    for argv in argvs:
        groups.setdefault("train" if argv[0] == "train" else "other", []).append(argv)
    results = [r for name, batch in groups.items() for r in _run_batch(batch, tmp, name)]
    return argvs, results, before, _tree(keep)


def test_there_are_at_least_200_cases(fuzz_results):
    argvs, results, _, _ = fuzz_results
    assert len(argvs) >= 200 and len(results) == len(argvs)
    assert {a[0] for a in argvs} >= {"propose", "generate", "sample", "validate", "data", "train"}


def test_every_case_succeeds_or_ends_with_one_line_and_exit_2(fuzz_results):
    _, results, _, _ = fuzz_results
    bad = [(r["argv"][:4], why) for r in results if (why := _problem(r)) is not None]
    report = "\n\n".join(f"{argv!r}\n{why}" for argv, why in bad[:10])
    assert not bad, f"{report}\n({len(bad)} cases)"


def test_every_case_is_bounded_in_time_and_memory(fuzz_results):
    _, results, _, _ = fuzz_results
    for r in results:
        assert r["seconds"] < CASE_SECONDS, (r["argv"][:4], r["seconds"])
        growth = r["peak_mb"] - r["rss_before_mb"]
        assert growth < CASE_MEMORY_MB, (r["argv"][:4], growth)


def test_no_file_is_lost_or_overwritten(fuzz_results):
    _, _, before, after = fuzz_results
    assert after == before
