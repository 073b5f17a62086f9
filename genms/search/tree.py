"""The forward tree search of GenMS (Algorithm 1 and §2.2 of the paper), as pure Python.

    request ──π_hi──> H formulae ──R_hi──> pruned, ranked ──top W──> L structures each (π_lo)
        ──checks──> structurally / compositionally valid ──R_lo──> in the GNN's trusted range
        ──> ranked by  λ_hi·R_hi + λ_lo·R_lo,  R_lo = -E_form (eV/atom)

Best-first (the paper) expands the W best formulae with L structures each. Breadth-first
spreads the same W·L structures over every formula that survives R_hi, for more diverse
compositions. Every component is injected (a proposer, an R_hi scorer, worker specs for the
sampler and the energy model, an executor), so tests run the real search on trivial fakes.

Determinism: the proposer gets the search seed; every sampler call is seeded from the seed and
the chunk of formulae it samples; checks and energies are deterministic; ties in the ranking
are broken by energy and then by id. The same seed gives the same result — also when the run
is resumed from its journal or spread over Ray workers.
"""

from __future__ import annotations

import functools
import hashlib
import logging
import time
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from typing import Any, Protocol

from genms.crystal.composition import FormulaError, parse_formula, reduced_formula
from genms.interfaces import (
    EnergyPrediction,
    EnergyPredictor,
    FormulaCandidate,
    FormulaProposer,
    FormulaScorer,
    Request,
    StructureSampler,
)
from genms.parallel.executor import Executor, MapSpec, SerialExecutor, TaskFailed, WorkerSpec
from genms.parallel.journal import Journal
from genms.progress import listening
from genms.search.candidates import (
    KEPT,
    NO_FORMULA,
    NO_FORMULA_PASSED,
    NO_VALID_STRUCTURE,
    REJECTIONS,
    Candidate,
    FormulaNode,
    SearchResult,
)
from genms.search.config import SearchConfig
from genms.search.stages import (
    SampleJob,
    StructureCheck,
    build_energy_worker,
    build_sampling_worker,
    check_structure,
    decode_check,
    decode_energies,
    decode_samples,
    encode_check,
    encode_energies,
    encode_samples,
    stable_seed,
)

log = logging.getLogger(__name__)


class Progress(Protocol):
    """Progress of the stages (``propose``, ``sample``, ``check``, ``energy``)."""

    def start(self, stage: str, total: int) -> None: ...
    def advance(self, stage: str, n: int = 1) -> None: ...
    def finish(self, stage: str) -> None: ...


class NullProgress:
    def start(self, stage: str, total: int) -> None:
        pass

    def advance(self, stage: str, n: int = 1) -> None:
        pass

    def finish(self, stage: str) -> None:
        pass


def _constant(obj: Any) -> Any:
    return obj


def sampler_worker(sampler: StructureSampler | None = None,
                   factory: Callable[[], StructureSampler] | None = None) -> WorkerSpec:
    """A :class:`WorkerSpec` for π_lo from a loaded sampler or a (picklable) factory."""
    factory = factory or functools.partial(_constant, sampler)
    return WorkerSpec("sampler", functools.partial(build_sampling_worker, factory), uses_gpu=True)


def energy_worker(predictor: EnergyPredictor | None = None,
                  factory: Callable[[], EnergyPredictor] | None = None) -> WorkerSpec:
    """A :class:`WorkerSpec` for R_lo from a loaded predictor or a (picklable) factory."""
    factory = factory or functools.partial(_constant, predictor)
    return WorkerSpec("energy", functools.partial(build_energy_worker, factory), uses_gpu=True)


def _reduced(formula: str) -> str | None:
    try:
        return reduced_formula(formula)
    except FormulaError:
        return None


def _atoms_per_formula_unit(formula: str) -> int:
    reduced, _ = parse_formula(formula).get_reduced_composition_and_factor()
    return int(round(reduced.num_atoms))


def _split(total: int, parts: int) -> list[int]:
    """``total`` items over ``parts`` slots as evenly as possible, larger shares first."""
    return [total // parts + (1 if i < total % parts else 0) for i in range(parts)]


@dataclass
class ForwardTreeSearch:
    """One configured search; :meth:`run` it once per request."""

    proposer: FormulaProposer
    scorer: FormulaScorer
    sampler: WorkerSpec
    energy: WorkerSpec
    config: SearchConfig = field(default_factory=SearchConfig)
    executor: Executor = field(default_factory=SerialExecutor)
    journal: Journal | None = None
    progress: Progress = field(default_factory=NullProgress)

    def _spec(
        self,
        stage: str,
        keys: Sequence[str],
        encode=None,
        decode=None,
        advance=None,
        counted: list[int] | None = None,
    ) -> MapSpec:
        """``counted[0]``: units of the running task already shown by :meth:`_inner_progress`."""
        kwargs: dict[str, Any] = {}
        if encode is not None:
            kwargs.update(encode=encode, decode=decode)
        counted = counted if counted is not None else [0]

        def on_result(r: Any) -> None:
            n = advance(r) if advance else 1
            self.progress.advance(stage, max(n - counted[0], 0))
            counted[0] = 0

        return MapSpec(
            stage=stage, keys=list(keys), journal=self.journal, on_result=on_result, **kwargs
        )

    def _inner_progress(self, stage: str, counted: list[int]):
        """A :mod:`genms.progress` listener: a worker's per-batch reports (and notes such as
        "compiling ...") advance ``stage`` before the worker call returns (in-process executors)."""
        note = getattr(self.progress, "note", None)

        def listener(sub: str, done: int, total: int, text: str) -> None:
            if sub == "compile" and note is not None and done < total:
                note(stage, f"compiling {text} ({done + 1}/{total})")
            if sub != stage:
                return
            if done > counted[0]:
                self.progress.advance(stage, done - counted[0])
                counted[0] = done
            if note is not None and text:
                note(stage, text)

        return listening(listener)

    # -- level 1: formulae ---------------------------------------------------------------
    def propose(self, request: Request, seed: int) -> list[FormulaCandidate]:
        """H formulae from π_hi, de-duplicated by reduced formula (journaled)."""
        key = f"H={self.config.H}|seed={seed}"
        if self.journal is not None and self.journal.has("propose", key):
            raw = self.journal.get("propose", key)
            return [
                FormulaCandidate(d["formula"], d["score"], tuple(d["reasons"]), d["source"])
                for d in raw
            ]
        proposals = list(self.proposer.propose(request, n=self.config.H, seed=seed))
        seen: set[str] = set()
        unique: list[FormulaCandidate] = []
        for cand in proposals:
            reduced = _reduced(cand.formula)
            name = reduced or cand.formula.strip()
            if name in seen:
                continue
            seen.add(name)
            unique.append(replace(cand, formula=name))
        unique = unique[: self.config.H]
        if self.journal is not None:
            self.journal.append(
                "propose",
                key,
                [
                    {
                        "formula": c.formula,
                        "score": c.score,
                        "reasons": list(c.reasons),
                        "source": c.source,
                    }
                    for c in unique
                ],
            )
        return unique

    def rank_formulae(
        self, request: Request, proposals: list[FormulaCandidate]
    ) -> list[FormulaNode]:
        """R_hi: score, prune, rank (survivors first, best first)."""
        scores = self.scorer.score(request, proposals)
        if len(scores) != len(proposals):
            raise ValueError(f"R_hi returned {len(scores)} scores for {len(proposals)} formulae")
        nodes = [
            FormulaNode(formula=p.formula, proposer_score=float(p.score), source=p.source,
                        r_hi=float(s.total), passed=bool(s.passed),
                        reasons=tuple(p.reasons) + tuple(s.reasons), checks=dict(s.checks),
                        failures=tuple(s.failures))
            for p, s in zip(proposals, scores, strict=True)
        ]
        order = sorted(range(len(nodes)), key=lambda i: (not nodes[i].passed, -nodes[i].r_hi,
                                                         -nodes[i].proposer_score, i))
        ranked, rank = [], 0
        for i in order:
            node = nodes[i]
            if node.passed:
                rank += 1
                node = replace(node, rank=rank)
            ranked.append(node)
        return ranked

    def allot(self, nodes: list[FormulaNode]) -> list[FormulaNode]:
        """Choose the formulae to expand and how many structures each gets."""
        cfg = self.config
        survivors = [n for n in nodes if n.passed]
        if cfg.strategy == "best_first":
            shares = {n.formula: cfg.L for n in survivors[: cfg.W]}
        else:  # breadth_first: the W·L budget over every survivor
            shares = dict(
                zip(
                    (n.formula for n in survivors),
                    _split(cfg.W * cfg.L, len(survivors)),
                    strict=True,
                )
            )
        return [
            replace(n, expanded=shares.get(n.formula, 0) > 0, n_requested=shares.get(n.formula, 0))
            for n in nodes
        ]

    # -- level 2: structures -------------------------------------------------------------
    def plan_jobs(
        self, nodes: list[FormulaNode], seed: int
    ) -> tuple[list[SampleJob], dict[str, str]]:
        """Sampler calls: formulae grouped by (Z, count) in chunks; notes for unsampleable ones."""
        cfg = self.config
        groups: dict[tuple[int | None, int], list[str]] = {}
        notes: dict[str, str] = {}
        for node in nodes:
            if not node.expanded:
                continue
            if not cfg.formula_units:
                groups.setdefault((None, node.n_requested), []).append(node.formula)
                continue
            per_fu = _atoms_per_formula_unit(node.formula)
            zs = [
                z for z in cfg.formula_units if cfg.max_atoms is None or z * per_fu <= cfg.max_atoms
            ]
            if not zs:
                notes[node.formula] = (
                    f"every Z in search.formula_units={list(cfg.formula_units)} gives "
                    f"more than search.max_atoms={cfg.max_atoms} atoms"
                )
                continue
            for z, n in zip(zs, _split(node.n_requested, len(zs)), strict=True):
                if n > 0:
                    groups.setdefault((z, n), []).append(node.formula)
        jobs = []
        for (z, n), formulae in groups.items():
            for start in range(0, len(formulae), cfg.sample_chunk):
                chunk = tuple(formulae[start : start + cfg.sample_chunk])
                job = SampleJob(chunk, n, z, 0)
                jobs.append(replace(job, seed=stable_seed(seed, job.key)))
        return jobs, notes

    def sample(
        self, jobs: list[SampleJob], r_hi: dict[str, float]
    ) -> tuple[list[Candidate], dict[str, str]]:
        total = sum(len(j.formulae) * j.n_per_formula for j in jobs)
        self.progress.start("sample", total)
        counted = [0]
        spec = self._spec(
            "sample",
            [j.key for j in jobs],
            encode_samples,
            decode_samples,
            advance=lambda r: 0 if isinstance(r, TaskFailed) else sum(map(len, r)),
            counted=counted,
        )
        with self._inner_progress("sample", counted):
            results = self.executor.map_worker(self.sampler, "sample", jobs, spec)
        self.progress.finish("sample")
        candidates: list[Candidate] = []
        notes: dict[str, str] = {}
        counters: Counter[str] = Counter()
        for job, result in zip(jobs, results, strict=True):
            if isinstance(result, TaskFailed):
                for f in job.formulae:
                    notes[f] = f"π_lo failed: {result.error}"
                continue
            for formula, structures in zip(job.formulae, result, strict=True):
                for crystal in structures:
                    cid = f"{formula}#{counters[formula]:03d}"
                    counters[formula] += 1
                    candidates.append(
                        Candidate(cid, formula, crystal, r_hi[formula], job.formula_units or 0)
                    )
        return candidates, notes

    def check(self, candidates: list[Candidate]) -> list[Candidate]:
        f = self.config.filters
        fn = functools.partial(check_structure, min_distance_ang=f.min_distance_ang,
                               min_volume_ang3=f.min_volume_ang3)
        self.progress.start("check", len(candidates))
        spec = self._spec("check", [c.id for c in candidates], encode_check, decode_check)
        checks = self.executor.map(fn, [(c.crystal, c.formula) for c in candidates], spec)
        self.progress.finish("check")
        out = []
        for cand, chk in zip(candidates, checks, strict=True):
            if isinstance(chk, TaskFailed):  # the check itself crashed: treat as invalid
                chk = StructureCheck(float("nan"), cand.crystal.volume, False, None, False, 0)
            status = "unchecked"
            if f.structural and not chk.structural_valid:
                status = "invalid_structure"
            elif (
                f.structural
                and f.min_contact_fraction is not None
                and not chk.contact_ratio >= f.min_contact_fraction
            ):
                status = "short_contact"  # NaN (no contact could be measured) fails too
            elif f.composition and not chk.composition_matches:
                status = "wrong_composition"
            elif f.composition and chk.composition_valid is False:
                status = "invalid_composition"
            out.append(
                replace(
                    cand,
                    min_distance=chk.min_distance,
                    volume=chk.volume,
                    contact_ratio=chk.contact_ratio,
                    contact=chk.contact,
                    structural_valid=chk.structural_valid,
                    composition_valid=chk.composition_valid,
                    composition_matches=chk.composition_matches,
                    formula_units=chk.formula_units or cand.formula_units,
                    status=status,
                )
            )
        return out

    def predict(self, candidates: list[Candidate]) -> list[Candidate]:
        cfg = self.config
        todo = [i for i, c in enumerate(candidates) if c.status == "unchecked"]
        batches = [todo[s : s + cfg.energy_batch] for s in range(0, len(todo), cfg.energy_batch)]
        keys = [
            f"{len(b)}:"
            + hashlib.sha256("|".join(candidates[i].id for i in b).encode()).hexdigest()[:16]
            for b in batches
        ]
        self.progress.start("energy", len(todo))
        counted = [0]
        spec = self._spec("energy", keys, encode_energies, decode_energies,
                          advance=lambda r: 0 if isinstance(r, TaskFailed) else len(r.e_form),
                          counted=counted)
        with self._inner_progress("energy", counted):
            results = self.executor.map_worker(
                self.energy,
                "predict",
                [tuple(candidates[i].crystal for i in b) for b in batches],
                spec,
            )
        self.progress.finish("energy")
        out = list(candidates)
        for batch, result in zip(batches, results, strict=True):
            for j, i in enumerate(batch):
                out[i] = self._score(candidates[i], result, j)
        return out

    def _score(self, cand: Candidate, result: EnergyPrediction | TaskFailed, j: int) -> Candidate:
        cfg, f = self.config, self.config.filters
        if isinstance(result, TaskFailed):
            return replace(cand, status="energy_failed")
        e = float(result.e_form[j])
        std = None if result.std is None else float(result.std[j])
        in_range = bool(result.in_range[j]) and e == e  # NaN is never trusted
        status = KEPT
        if f.trusted_range and not in_range:
            status = "out_of_range"
        elif (f.e_form_min is not None and e < f.e_form_min) or (
            f.e_form_max is not None and e > f.e_form_max
        ):
            status = "out_of_range"
        elif f.max_std_ev_per_atom is not None and std is not None and std > f.max_std_ev_per_atom:
            status = "uncertain"
        r_lo = -e
        return replace(cand, e_form=e, e_form_std=std, in_range=bool(in_range), r_lo=r_lo,
                       score=cfg.lambda_hi * cand.r_hi + cfg.lambda_lo * r_lo, status=status)

    @staticmethod
    def rank(candidates: list[Candidate]) -> list[Candidate]:
        kept = sorted(
            (c for c in candidates if c.status == KEPT), key=lambda c: (-c.score, c.e_form, c.id)
        )
        ranks = {c.id: r for r, c in enumerate(kept, start=1)}
        return [replace(c, rank=ranks.get(c.id)) for c in candidates]

    # -- the whole search ----------------------------------------------------------------
    def run(self, request: Request, seed: int, request_text: str = "") -> SearchResult:
        """Search for ``request`` (as parsed by the language level); never raises on no result."""
        timings: dict[str, float] = {}
        clock = time.perf_counter()
        result = SearchResult(request_text, request, [], [], seed=seed)

        def lap(name: str) -> None:
            nonlocal clock
            now = time.perf_counter()
            timings[name] = round(now - clock, 4)
            clock = now

        self.progress.start("propose", 1)
        proposals = self.propose(request, seed)
        self.progress.advance("propose")
        self.progress.finish("propose")
        if not proposals:
            lap("propose")
            return replace(result, timings=timings).with_outcome(
                NO_FORMULA, "π_hi proposed no formula for this request: relax its constraints "
                "(elements, ratio, novelty) or use another proposer")
        nodes = self.allot(self.rank_formulae(request, proposals))
        lap("propose")
        result = replace(result, formulae=nodes, timings=timings)
        if not any(n.passed for n in nodes):
            return result.with_outcome(NO_FORMULA_PASSED, _no_survivor_message(nodes))

        jobs, notes = self.plan_jobs(nodes, seed)
        r_hi = {n.formula: n.r_hi for n in nodes}
        candidates, sample_notes = self.sample(jobs, r_hi)
        notes.update(sample_notes)
        lap("sample")
        candidates = self.check(candidates)
        lap("check")
        candidates = self.rank(self.predict(candidates))
        lap("energy")
        nodes = _node_stats(nodes, candidates, notes)
        result = replace(result, formulae=nodes, candidates=candidates, timings=timings)
        if not any(c.kept for c in candidates):
            return result.with_outcome(NO_VALID_STRUCTURE, _no_structure_message(candidates, notes))
        n_kept = sum(c.kept for c in candidates)
        dropped = Counter(c.status for c in candidates if not c.kept)
        why = ", ".join(_count_phrase(s, k) for s, k in dropped.most_common())
        return result.with_outcome(
            "ok",
            f"{n_kept} of {len(candidates)} structures passed the filters "
            f"from {sum(n.expanded for n in nodes)} formulae"
            + (f" (dropped: {why})" if why else ""),
        )


def _node_stats(
    nodes: list[FormulaNode], candidates: list[Candidate], notes: dict[str, str]
) -> list[FormulaNode]:
    by_formula: dict[str, list[Candidate]] = {}
    for c in candidates:
        by_formula.setdefault(c.formula, []).append(c)
    out = []
    for n in nodes:
        cs = by_formula.get(n.formula, [])
        kept = [c.e_form for c in cs if c.kept]
        out.append(
            replace(
                n,
                n_sampled=len(cs),
                n_kept=len(kept),
                best_e_form=min(kept) if kept else None,
                note=notes.get(n.formula, n.note),
            )
        )
    return out


def _no_survivor_message(nodes: list[FormulaNode]) -> str:
    reasons = Counter(r for n in nodes for r in (n.failures or n.reasons))
    common = "; ".join(f"{r} ({k}×)" for r, k in reasons.most_common(3))
    return (f"none of the {len(nodes)} proposed formulae passed R_hi"
            + (f" — most common reasons: {common}" if common else "")
            + ". Relax the request (ratio, elements, novelty) or ask for more formulae (search.H)")


#: Statuses that read as a noun ("3 short contacts"); the others read as adjectives
#: ("2 uncertain", "1 out of range").
_NOUN_STATUSES = ("invalid_structure", "short_contact", "wrong_composition", "invalid_composition")


def _count_phrase(status: str, count: int) -> str:
    """``1 invalid structure``, ``2 invalid structures``, ``3 out of range``."""
    text = status.replace("_", " ")
    return f"{count} {text}{'s' if count != 1 and status in _NOUN_STATUSES else ''}"


def _no_structure_message(candidates: list[Candidate], notes: dict[str, str]) -> str:
    if not candidates:
        failures = sorted(set(notes.values()))
        return "π_lo produced no structure" + (f": {failures[0]}" if failures else "")
    counts = Counter(c.status for c in candidates)
    parts = ", ".join(f"{k} {s} ({REJECTIONS.get(s, s)})" for s, k in counts.most_common())
    return (
        f"none of the {len(candidates)} sampled structures passed the filters: {parts}. "
        "Sample more (search.L, search.W), try other formulae (search.H) or relax search.filters"
    )
