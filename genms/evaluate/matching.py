"""CSP match rate and normalised RMSE, exactly as DiffCSP's ``RecEval`` / ``RecEvalBatch``.

* Matcher: pymatgen ``StructureMatcher(stol=0.5, ltol=0.3, angle_tol=10)``; the RMS of a pair
  is ``get_rms_dist(pred, gt)[0]``, already normalised by ``(V / N)^(1/3)``. A pair that does not
  match, raises, or runs past the per-pair time limit has no RMS.
* **1 sample** (:func:`match_one_sample`): prediction ``i`` is compared with ground truth ``i``
  only when *both* are valid (structural and composition validity, :mod:`.validity`); a
  ground truth failing SMACT therefore counts as a miss (DiffCSP's rule, kept for comparability).
* **k samples** (:func:`match_k_samples`): only each prediction's validity is checked; an
  item's RMS is the minimum over its valid, matching candidates.
* Match rate = matched items / all items; RMSE = mean RMS over matched items.

Some pairs make ``StructureMatcher`` search for a very long time; each comparison runs under
a wall-clock limit (``timeout_s``, via ``SIGALRM`` in the worker's main thread). A timeout is
a non-match and is counted in ``n_timeouts``.
"""

from __future__ import annotations

import contextlib
import logging
import math
import signal
import threading
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from functools import lru_cache

from pymatgen.analysis.structure_matcher import StructureMatcher
from pymatgen.core import Structure

from genms.configs import ranged
from genms.evaluate.parallel import parallel_map
from genms.evaluate.validity import (
    DEFAULT_VALIDITY,
    CrystalLike,
    ValidityConfig,
    build_structure,
    check_many,
)

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class MatchConfig:
    """StructureMatcher tolerances (CDVAE/DiffCSP/CrystaLLM values) and the per-pair time limit."""

    stol: float = ranged(0.5, 0, 10, lo_open=True)
    ltol: float = ranged(0.3, 0, 10, lo_open=True)
    angle_tol: float = ranged(10.0, 0, 180, lo_open=True)
    timeout_s: float = ranged(60.0, None, 86_400)  # per comparison; <= 0 disables the limit


#: The CDVAE/DiffCSP/CrystaLLM tolerances with a 60 s limit per comparison.
DEFAULT_MATCH = MatchConfig()


class PairTimeout(BaseException):
    """Raised inside a comparison that ran past its time limit.

    A ``BaseException`` so that no ``except Exception`` inside pymatgen can swallow it.
    """


_warned_no_timer = False


@contextlib.contextmanager
def time_limit(seconds: float | None) -> Iterator[None]:
    """Raise :class:`PairTimeout` in the block after ``seconds`` of wall time.

    Uses ``SIGALRM``, so it only works in a process's main thread (pool workers run tasks
    there); elsewhere, or with ``seconds <= 0``, the block runs without a limit.
    """
    global _warned_no_timer
    usable = (
        seconds is not None
        and seconds > 0
        and hasattr(signal, "setitimer")
        and threading.current_thread() is threading.main_thread()
    )
    if not usable:
        if seconds and seconds > 0 and not _warned_no_timer:
            log.warning(
                "per-pair time limit unavailable outside the main thread; running without it"
            )
            _warned_no_timer = True
        yield
        return

    def _raise(signum, frame):  # noqa: ARG001
        raise PairTimeout()

    previous = signal.signal(signal.SIGALRM, _raise)
    signal.setitimer(signal.ITIMER_REAL, float(seconds))
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)


@lru_cache(maxsize=8)
def structure_matcher(
    stol: float = 0.5, ltol: float = 0.3, angle_tol: float = 10.0
) -> StructureMatcher:
    return StructureMatcher(stol=stol, ltol=ltol, angle_tol=angle_tol)


@dataclass(frozen=True)
class PairResult:
    """One comparison: the normalised RMS (None = no match), and why it may be missing."""

    rms: float | None = None
    timed_out: bool = False
    error: str = ""

    @property
    def matched(self) -> bool:
        return self.rms is not None


def rms_distance(pred: Structure, gt: Structure, config: MatchConfig = DEFAULT_MATCH) -> PairResult:
    """``StructureMatcher.get_rms_dist(pred, gt)[0]`` under the time limit."""
    matcher = structure_matcher(config.stol, config.ltol, config.angle_tol)
    try:
        with time_limit(config.timeout_s):
            out = matcher.get_rms_dist(pred, gt)
    except PairTimeout:
        return PairResult(None, timed_out=True)
    except Exception as exc:  # DiffCSP counts any failure as a non-match
        return PairResult(None, error=f"{type(exc).__name__}: {exc}")
    return PairResult(None if out is None else float(out[0]))


def match_pair(
    pred: CrystalLike, gt: CrystalLike, config: MatchConfig = DEFAULT_MATCH
) -> PairResult:
    """Build both structures (as :func:`.validity.build_structure` does) and compare them."""
    s_pred, _, why_pred = build_structure(pred)
    s_gt, _, why_gt = build_structure(gt)
    if s_pred is None or s_gt is None:
        return PairResult(None, error=f"not constructed: {why_pred or why_gt}")
    return rms_distance(s_pred, s_gt, config)


class _PairTask:
    """Picklable ``match_pair`` with a fixed config, over ``(pred, gt)`` tuples."""

    def __init__(self, config: MatchConfig) -> None:
        self.config = config

    def __call__(self, pair: tuple[CrystalLike, CrystalLike]) -> PairResult:
        return match_pair(pair[0], pair[1], self.config)


@dataclass(frozen=True)
class ItemMatch:
    """Result for one test item: per-candidate validity, RMS and timeouts."""

    index: int
    gt_valid: bool | None  # None: not checked (k-sample rule)
    pred_valid: tuple[bool, ...]
    rms: tuple[float | None, ...]
    timed_out: tuple[bool, ...]

    @property
    def best(self) -> int | None:
        """Index of the candidate with the smallest RMS (None when nothing matched)."""
        found = [(r, j) for j, r in enumerate(self.rms) if r is not None]
        return min(found)[1] if found else None

    @property
    def matched(self) -> bool:
        return self.best is not None

    @property
    def best_rms(self) -> float | None:
        b = self.best
        return None if b is None else self.rms[b]

    def to_dict(self) -> dict:
        return {
            "index": self.index,
            "matched": self.matched,
            "rms": self.best_rms,
            "best_candidate": self.best,
            "gt_valid": self.gt_valid,
            "pred_valid": list(self.pred_valid),
            "candidate_rms": list(self.rms),
            "timed_out": list(self.timed_out),
        }


@dataclass(frozen=True)
class CSPMetrics:
    """Match rate / RMSE over a test set, with per-item results."""

    mode: str  # "1-sample" or "k-sample"
    n_items: int
    n_matched: int
    match_rate: float
    rmse: float | None  # None when nothing matched
    n_compared: int  # pairs passed to StructureMatcher
    n_timeouts: int
    n_errors: int
    max_candidates: int
    items: tuple[ItemMatch, ...] = field(default=(), repr=False)

    def summary(self) -> dict:
        return {
            "mode": self.mode,
            "n_items": self.n_items,
            "max_candidates": self.max_candidates,
            "n_matched": self.n_matched,
            "match_rate": self.match_rate,
            "rmse": self.rmse,
            "n_compared": self.n_compared,
            "n_timeouts": self.n_timeouts,
            "n_errors": self.n_errors,
        }

    def to_dict(self, include_items: bool = True) -> dict:
        d = self.summary()
        if include_items:
            d["items"] = [it.to_dict() for it in self.items]
        return d


def _evaluate(
    candidates: Sequence[Sequence[CrystalLike]],
    gts: Sequence[CrystalLike],
    gate_on_gt: bool,
    config: MatchConfig,
    validity_config: ValidityConfig,
    n_workers: int | None,
    progress: bool,
    pred_valid: Sequence[Sequence[bool]] | None,
    gt_valid: Sequence[bool] | None,
) -> CSPMetrics:
    if len(candidates) != len(gts):
        raise ValueError(
            f"{len(candidates)} prediction entries for {len(gts)} ground-truth structures; "
            "pass one entry (or one list of candidates) per test item"
        )
    if pred_valid is None:
        flat = [c for cands in candidates for c in cands]
        flags = iter(
            v.valid
            for v in check_many(flat, validity_config, n_workers, progress, "validity (pred)")
        )
        pred_valid = [[next(flags) for _ in cands] for cands in candidates]
    elif [len(v) for v in pred_valid] != [len(c) for c in candidates]:
        raise ValueError("pred_valid must have one flag per candidate")
    if gate_on_gt and gt_valid is None:
        gt_valid = [
            v.valid for v in check_many(gts, validity_config, n_workers, progress, "validity (gt)")
        ]

    pairs, where = [], []
    for i, (cands, gt) in enumerate(zip(candidates, gts, strict=True)):
        for j, cand in enumerate(cands):
            if pred_valid[i][j] and (not gate_on_gt or gt_valid[i]):  # type: ignore[index]
                pairs.append((cand, gt))
                where.append((i, j))

    results = parallel_map(
        _PairTask(config), pairs, n_workers, "StructureMatcher", progress=progress
    )

    rms = [[None] * len(c) for c in candidates]
    timeouts = [[False] * len(c) for c in candidates]
    n_errors = 0
    for (i, j), r in zip(where, results, strict=True):
        rms[i][j] = r.rms
        timeouts[i][j] = r.timed_out
        n_errors += bool(r.error)
    items = tuple(
        ItemMatch(
            index=i,
            gt_valid=(bool(gt_valid[i]) if gate_on_gt else None),  # type: ignore[index]
            pred_valid=tuple(bool(v) for v in pred_valid[i]),
            rms=tuple(rms[i]),
            timed_out=tuple(timeouts[i]),
        )
        for i in range(len(gts))
    )
    matched = [it.best_rms for it in items if it.matched]
    n_timeouts = sum(sum(t) for t in timeouts)
    if n_timeouts:
        log.warning("%d StructureMatcher comparisons hit the %.0f s limit (counted as non-matches)",
                    n_timeouts, config.timeout_s)
    return CSPMetrics(
        mode="1-sample" if gate_on_gt else "k-sample",
        n_items=len(items),
        n_matched=len(matched),
        match_rate=len(matched) / len(items) if items else 0.0,
        rmse=(math.fsum(matched) / len(matched)) if matched else None,  # type: ignore[arg-type]
        n_compared=len(pairs),
        n_timeouts=n_timeouts,
        n_errors=n_errors,
        max_candidates=max((len(c) for c in candidates), default=0),
        items=items,
    )


def match_one_sample(
    preds: Sequence[CrystalLike],
    gts: Sequence[CrystalLike],
    config: MatchConfig = DEFAULT_MATCH,
    validity_config: ValidityConfig = DEFAULT_VALIDITY,
    n_workers: int | None = 1,
    progress: bool = True,
    pred_valid: Sequence[bool] | None = None,
    gt_valid: Sequence[bool] | None = None,
) -> CSPMetrics:
    """DiffCSP ``RecEval``: ``preds[i]`` vs ``gts[i]``, compared only when both are valid.

    ``pred_valid`` / ``gt_valid`` skip the validity computation when already known.
    """
    return _evaluate(
        [[p] for p in preds], gts, True, config, validity_config, n_workers, progress,
        None if pred_valid is None else [[bool(v)] for v in pred_valid], gt_valid,
    )


def match_k_samples(
    candidates: Sequence[Sequence[CrystalLike]],
    gts: Sequence[CrystalLike],
    config: MatchConfig = DEFAULT_MATCH,
    validity_config: ValidityConfig = DEFAULT_VALIDITY,
    n_workers: int | None = 1,
    progress: bool = True,
    pred_valid: Sequence[Sequence[bool]] | None = None,
) -> CSPMetrics:
    """DiffCSP ``RecEvalBatch``: ``candidates[i]`` holds the k predictions for ``gts[i]``.

    Only the predictions' validity is checked; an item's RMS is the minimum over its valid,
    matching candidates. (DiffCSP stores samples as ``[k][n_items]``; here it is per item.)
    """
    return _evaluate(
        candidates, gts, False, config, validity_config, n_workers, progress, pred_valid, None
    )
