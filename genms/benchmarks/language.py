"""``genms eval language``: the paper's Table 3 quantities and per-family statistics.

On the prompt set in ``experiments/language/prompts.yaml`` (``n`` formulae per prompt and seed):

* Table 3 ("effect of language"): the fraction of proposed formulae that contain a requested
  element; that are made of metals only, when asked and when not; that are absent from a
  user-provided list (known family members listed in the prompt), when asked and when not;
  and that are absent from the Materials Project reference, when asked and when not;
* per family: the fraction of proposed formulae that are valid formulae, SMACT charge neutral,
  ratio compliant, novel against the reference, and pass every hard R_hi check; how many
  distinct formulae the prompts gave over all seeds; how many distinct novel, charge-neutral
  formulae the offline proposer can give at all ("capacity"); seconds per proposal call.

Writes ``benchmarks/results/language.json`` and prints the markdown rows of
``docs/benchmarks/language.md``.

Runs as ``genms eval language`` (conf/eval_language.yaml, :class:`EvalLanguageConfig`).
"""

from __future__ import annotations

import logging
import platform
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import yaml
from omegaconf import DictConfig

from genms.configs import ranged, typed
from genms.crystal.composition import (
    canonical_formula,
    formula_elements,
    formula_ratio,
    normalise_ratio,
    smact_valid,
)
from genms.data.known import KnownCompounds
from genms.data.reference import ReferenceFormulae
from genms.io import atomic_write_json
from genms.language.commands import USER_ERRORS
from genms.language.elements import class_members
from genms.language.families import FAMILIES
from genms.language.proposer import ProposerConfig, as_config, build_proposer, build_reference
from genms.language.request import parse_request
from genms.language.retrieval import family_examples
from genms.language.rhi import RHi
from genms.paths import REPO_ROOT, PathsConfig

log = logging.getLogger(__name__)

#: The paper's Table 3 (genms-paper.md §4).
PAPER_TABLE3 = {
    "element_constraint": {"not_asking": None, "asking": 1.00},
    "metal_only": {"not_asking": 0.25, "asking": 1.00},
    "unique_custom_list": {"not_asking": 0.24, "asking": 0.88},
    "unique_mp": {"not_asking": 0.16, "asking": 0.96},
}


@dataclass(frozen=True)
class BenchmarkConfig:
    prompts: str = "experiments/language/prompts.yaml"
    output: str = "benchmarks/results/language.json"
    n: int = ranged(20, 1, 10_000)  # formulae per prompt and seed
    seeds: list[int] = ranged([0, 1, 2], 0, 2**32 - 1)
    capacity: bool = True  # enumerate every admissible formula per family (offline proposer only)
    families: list[str] = field(default_factory=list)  # [] = every family of the prompt set
    # Rediscovery: hide half of the known members of a family from the reference, ask for novel
    # members, count how many proposals are hidden known compounds (vs a uniform pick).
    rediscovery_families: list[str] = field(
        default_factory=lambda: ["perovskite", "pyrochlore", "spinel"]
    )
    rediscovery_n: int = ranged(50, 1, 10_000)


def _resolve(path: str) -> Path:
    """A prompt-set path: as given when it exists, else relative to the repository."""
    p = Path(path).expanduser()
    if p.is_absolute() or p.exists():
        return p
    return REPO_ROOT / p


def _fraction(values: list[bool]) -> float | None:
    return round(sum(values) / len(values), 4) if values else None


class _Runner:
    def __init__(self, proposer, reference, n: int, seeds: list[int]) -> None:
        self.proposer = proposer
        self.reference = reference
        self.n = n
        self.seeds = seeds
        self.calls = 0
        self.seconds = 0.0

    def per_seed(self, text: str) -> list[list[tuple[str, str | None]]]:
        """For each seed, the proposals as (formula, reduced formula or None)."""
        request = parse_request(text)
        out = []
        for seed in self.seeds:
            t = time.perf_counter()
            cands = self.proposer.propose(request, self.n, seed)
            self.seconds += time.perf_counter() - t
            self.calls += 1
            out.append([(c.formula, canonical_formula(c.formula)) for c in cands])
        return out

    def formulae(self, text: str) -> list[tuple[str, str | None]]:
        """(formula, reduced formula or None) over all seeds."""
        return [pair for chunk in self.per_seed(text) for pair in chunk]

    def fraction(self, texts: list[str], test) -> tuple[float | None, int]:
        values = [test(red) for t in texts for _, red in self.formulae(t) if red is not None]
        return _fraction(values), len(values)


def _table3(run: _Runner, spec: dict, known) -> dict:
    out: dict = {}
    vals = []
    for item in spec.get("element_constraint", []):
        vals += [
            item["element"] in formula_elements(r) for _, r in run.formulae(item["request"]) if r
        ]
    out["element_constraint"] = {
        "asking": _fraction(vals),
        "not_asking": None,
        "n_formulae": len(vals),
    }
    vals = []
    for item in spec.get("element_exclusion", []):
        banned = class_members(item["class"]) if "class" in item else {item["element"]}
        vals += [
            not (formula_elements(r) & set(banned)) for _, r in run.formulae(item["request"]) if r
        ]
    out["element_exclusion"] = {
        "asking": _fraction(vals),
        "not_asking": None,
        "n_formulae": len(vals),
    }
    metals = class_members("metal")
    metal = spec.get("metal_only", {})
    is_metal = lambda r: formula_elements(r) <= metals  # noqa: E731
    a, na = run.fraction(metal.get("asking", []), is_metal)
    b, nb = run.fraction(metal.get("not_asking", []), is_metal)
    out["metal_only"] = {"asking": a, "not_asking": b, "n_formulae": na + nb}
    custom = spec.get("unique_custom_list", {})
    asked, not_asked = [], []
    for fam in custom.get("families", []):
        rows = family_examples(fam, known, check_sites=True)
        members = sorted({r.formula for r in rows})
        step = max(1, len(members) // max(1, custom.get("list_size", 40)))
        listed = members[::step][: custom.get("list_size", 40)]
        keys = {canonical_formula(f) for f in listed}
        text_a = custom["asking"].format(family=fam, list=", ".join(listed))
        text_n = custom["not_asking"].format(family=fam)
        asked += [r not in keys for _, r in run.formulae(text_a) if r]
        not_asked += [r not in keys for _, r in run.formulae(text_n) if r]
    out["unique_custom_list"] = {"asking": _fraction(asked), "not_asking": _fraction(not_asked),
                                 "n_formulae": len(asked) + len(not_asked)}
    mp = spec.get("unique_mp", {})
    novel = lambda r: not run.reference.in_datasets(r)  # noqa: E731
    a, na = run.fraction(mp.get("asking", []), novel)
    b, nb = run.fraction(mp.get("not_asking", []), novel)
    out["unique_mp"] = {"asking": a, "not_asking": b, "n_formulae": na + nb}
    return out


def _family_stats(run: _Runner, family: str, texts: list[str], capacity: bool) -> dict:
    ratios = {normalise_ratio(r) for r in FAMILIES[family].ratios}
    rhi = RHi(run.reference)
    rows, passed, distinct = [], [], set()
    for text in texts:
        request = parse_request(text)
        for chunk in run.per_seed(text):
            passed += [s.passed for s in rhi.score(request, [f for f, _ in chunk])]
            for _, red in chunk:
                rows.append(red)
                if red:
                    distinct.add(red)
    valid = [r for r in rows if r]
    stats = {
        "requests": texts,
        "n_formulae": len(rows),
        "valid": _fraction([r is not None for r in rows]),
        "charge_neutral": _fraction([smact_valid(r) for r in valid]),
        "ratio_compliant": _fraction([formula_ratio(r) in ratios for r in valid]),
        "novel": _fraction([not run.reference.in_datasets(r) for r in valid]),
        "passes_rhi": _fraction(passed),
        "distinct": len(distinct),
    }
    if capacity and hasattr(run.proposer, "enumerate"):
        request = parse_request(texts[0])
        proposals = run.proposer.enumerate(request)
        stats["capacity"] = sum(run.proposer.acceptable(p, request)[0] for p in proposals)
        stats["capacity_request"] = texts[0]
    return stats


def _rediscovery(pcfg, reference, family: str, n: int, seeds: list[int]) -> dict:
    """Hold out half of the family's known members; how many do novel proposals rediscover?"""
    members = sorted(
        {r.formula for r in family_examples(family, reference.known, by_spacegroup=False)}
    )
    rng = np.random.default_rng(0)
    hidden = (
        set(rng.choice(members, size=len(members) // 2, replace=False).tolist())
        if members
        else set()
    )
    kept = KnownCompounds(
        [r for r in reference.known.rows if r.formula not in hidden], "rediscovery"
    )
    examples = KnownCompounds(
        [r for r in reference.examples.rows if r.formula not in hidden], "rediscovery"
    )
    ref = ReferenceFormulae(kept, reference.user, examples=examples)
    proposer = build_proposer(pcfg, ref)
    request = parse_request(f"a novel {family}")
    hits = []
    for seed in seeds:
        hits += [canonical_formula(c.formula) in hidden for c in proposer.propose(request, n, seed)]
    out = {"known_members": len(members), "hidden": len(hidden), "n_proposed": len(hits),
           "rediscovered": _fraction(hits)}
    if hasattr(proposer, "enumerate"):
        admissible = [p for p in proposer.enumerate(request) if proposer.acceptable(p, request)[0]]
        out["uniform_baseline"] = _fraction(
            [canonical_formula(p.formula) in hidden for p in admissible]
        )
        out["admissible"] = len(admissible)
    return out


def markdown_rows(report: dict) -> str:
    t3 = report["table3"]
    lines = [
        "| | element constraint | metal only | unique (custom list) | unique (Materials Project) |",
        "|---|---|---|---|---|",
    ]

    def cell(key: str, which: str) -> str:
        v = t3[key][which]
        return "N/A" if v is None else f"{v:.2f}"

    for which, name in (("not_asking", "not asking"), ("asking", "asking")):
        lines.append(
            f"| {name} | {cell('element_constraint', which)} | {cell('metal_only', which)} | "
            f"{cell('unique_custom_list', which)} | {cell('unique_mp', which)} |"
        )
    lines += [
        "",
        "| family | formulae | valid | charge neutral | ratio | novel | passes R_hi | distinct | "
        "capacity |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for fam, s in report["families"].items():
        lines.append(
            f"| {fam} | {s['n_formulae']} | {s['valid']:.2f} | {s['charge_neutral']:.2f} | "
            f"{s['ratio_compliant']:.2f} | {s['novel']:.2f} | {s['passes_rhi']:.2f} | "
            f"{s['distinct']} | {s.get('capacity', '')} |"
        )
    if report.get("rediscovery"):
        lines += [
            "",
            "| family | known members | hidden | proposed | rediscovered | uniform pick |",
            "|---|---|---|---|---|---|",
        ]
        for fam, r in report["rediscovery"].items():
            base = r.get("uniform_baseline")
            lines.append(f"| {fam} | {r['known_members']} | {r['hidden']} | {r['n_proposed']} | "
                         f"{r['rediscovered']:.2f} | {'' if base is None else f'{base:.2f}'} |")
    return "\n".join(lines)


def run_benchmark(cfg: BenchmarkConfig, proposer_cfg: ProposerConfig, paths: PathsConfig) -> dict:
    """Run the prompt set, write ``cfg.output`` and return the report."""
    start = time.perf_counter()
    spec = yaml.safe_load(_resolve(cfg.prompts).read_text())
    pcfg = as_config(proposer_cfg)
    reference = build_reference(pcfg, paths.data_dir, paths.cache_dir)
    proposer = build_proposer(pcfg, reference)
    run = _Runner(proposer, reference, cfg.n, list(cfg.seeds))
    report: dict = {"proposer": pcfg.backend, "prompt_set": cfg.prompts, "n_per_prompt": cfg.n,
                    "seeds": list(cfg.seeds), "reference": reference.describe()}
    report["table3"] = _table3(run, spec, reference.known)
    report["paper_table3"] = PAPER_TABLE3
    families = cfg.families or list(spec.get("families", {}))
    report["families"] = {}
    for fam in families:
        texts = spec["families"][fam]
        report["families"][fam] = _family_stats(run, fam, texts, cfg.capacity)
        log.info(
            "%s: %s", fam, {k: v for k, v in report["families"][fam].items() if k != "requests"}
        )
    report["rediscovery"] = {
        fam: _rediscovery(pcfg, reference, fam, cfg.rediscovery_n, list(cfg.seeds))
        for fam in cfg.rediscovery_families
    }
    report["timing"] = {
        "propose_calls": run.calls,
        "seconds_per_call": round(run.seconds / max(run.calls, 1), 3),
        "total_s": round(time.perf_counter() - start, 1),
    }
    report["machine"] = {
        "python": platform.python_version(),
        "processor": platform.processor() or platform.machine(),
    }
    report["command"] = "genms eval language"
    out = Path(cfg.output).expanduser()  # relative to the working directory
    atomic_write_json(out, report)
    print(markdown_rows(report))  # noqa: T201 - the command's user-facing output
    print(f"wrote {out}")  # noqa: T201
    return report


@dataclass(frozen=True)
class EvalLanguageConfig:
    """``genms eval language`` (conf/eval_language.yaml): the prompt-set benchmark and π_hi."""

    benchmark: BenchmarkConfig = field(default_factory=BenchmarkConfig)
    proposer: ProposerConfig = field(default_factory=ProposerConfig)
    paths: PathsConfig = field(default_factory=PathsConfig)


def eval_language(cfg: DictConfig) -> dict:
    """Runner of ``genms eval language``: the Table 3 quantities and per-family statistics."""
    try:
        lcfg = typed(EvalLanguageConfig, cfg)
        return run_benchmark(lcfg.benchmark, lcfg.proposer, lcfg.paths)
    except USER_ERRORS as exc:
        raise SystemExit(f"genms eval language: {exc}") from None
