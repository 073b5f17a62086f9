"""The batch runner: references first, then every structure as its own task, journaled.

Output folder layout::

    results.jsonl      one line per finished structure (the run journal; appended as each
                       task finishes, fsync-ed; a torn last line is dropped on resume)
    references.json    the elemental reference energies used (DFT and MLIP), with sources
    summary.json       counts, means, MAE, timings (rewritten at the end of every run)
    structures/        relaxed structures (<id>_mlip.cif, <id>_dft.cif)
    logs/              one GPAW text log per calculation

A rerun on the same folder skips structures already in ``results.jsonl`` (failed ones too,
unless ``retry_failed=true``), and refuses to mix results of other DFT/MLIP settings.
Tasks go through the project's executor seam (:mod:`genms.parallel.executor`): serial by
default, or one Ray task per structure (``executor=ray``; each task runs one calculation,
serial or ``mpiexec -n launch.mpi_ranks``; ``executor.num_cpus`` bounds how many run at once).
"""

from __future__ import annotations

import dataclasses
import json
import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path

from genms.io import atomic_write_json
from genms.parallel.build import build_executor
from genms.parallel.executor import Executor, MapSpec, TaskFailed
from genms.parallel.journal import Journal
from genms.validate import mlip
from genms.validate.config import ValidateConfig
from genms.validate.references import (
    ReferenceCache,
    cache_root,
    compute_dft_reference,
    compute_mlip_reference,
    dft_namespace,
    mlip_namespace,
)
from genms.validate.tasks import FAILED, StructureTask, TaskContext, unique_ids, validate_structure

log = logging.getLogger(__name__)

STAGE = "structure"


@dataclass
class ValidationRun:
    """What a batch produced: one record per task (in task order), references, output folder."""

    records: list[dict]
    references: dict
    out_dir: Path
    n_resumed: int = 0
    n_run: int = 0
    summary: dict = field(default_factory=dict)


def _executor(cfg: ValidateConfig) -> Executor:
    # One structure (or one element) per remote task, whatever the CPU-stage batching default.
    return build_executor(dataclasses.replace(cfg.executor, cpu_batch=1))


def _reference_energies(kind: str, elements: Sequence[str], cfg: ValidateConfig, executor: Executor,
                        out_dir: Path) -> dict[str, dict]:
    """Cached or freshly computed reference records for ``elements`` (``kind``: dft | mlip)."""
    if kind == "dft":
        caches = {
            el: ReferenceCache(cache_root(cfg.references), dft_namespace(cfg, el))
            for el in elements
        }
        log_dir = str(out_dir / "logs") if cfg.launch.keep_logs else None
        if log_dir:
            Path(log_dir).mkdir(parents=True, exist_ok=True)
        fn: Callable = partial(compute_dft_reference, cfg=cfg, log_dir=log_dir)
    else:
        shared = ReferenceCache(cache_root(cfg.references), mlip_namespace(cfg.mlip, cfg.references,
                                                                               cfg.dft.molecule_box_ang))
        caches = {el: shared for el in elements}
        fn = partial(
            compute_mlip_reference,
            cfg=cfg.mlip,
            refs=cfg.references,
            box_ang=cfg.dft.molecule_box_ang,
        )
    records = {el: caches[el].get(el) for el in elements}
    missing = sorted(el for el, r in records.items() if r is None)
    if missing:
        log.info("computing %s references for %s (cache %s)", kind.upper(), ", ".join(missing),
                 caches[missing[0]].dir.parent)

        def store(rec) -> None:
            if isinstance(rec, TaskFailed):
                return
            if rec.get("energy_per_atom") is not None:
                caches[rec["element"]].put(rec["element"], rec)
            log.info(
                "  %s reference %s: %s (%s s)",
                kind,
                rec["element"],
                f"{rec['energy_per_atom']:.4f} eV/atom"
                if rec.get("energy_per_atom") is not None
                else f"{rec['status']}: {rec.get('error')}",
                rec.get("wall_s"),
            )

        results = executor.map(
            fn, missing, MapSpec(stage=f"ref-{kind}", keys=missing, on_result=store)
        )
        for el, rec in zip(missing, results, strict=True):
            records[el] = (
                {"element": el, "status": "failed", "error": rec.error, "energy_per_atom": None}
                if isinstance(rec, TaskFailed)
                else rec
            )
    return records


def _pending(
    tasks: list[StructureTask], journal: Journal, retry_failed: bool
) -> list[StructureTask]:
    out = []
    for t in tasks:
        done = journal.get(STAGE, t.id)
        if done is None or (retry_failed and done.get("status") in FAILED):
            out.append(t)
    return out


def run_validation(tasks: Sequence[StructureTask], cfg: ValidateConfig, out_dir: str | Path,
                   on_record: Callable[[dict], None] | None = None) -> ValidationRun:
    """Validate ``tasks`` into ``out_dir`` (resuming what is there); returns every record."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    tasks = unique_ids(list(tasks))
    journal = Journal(out / "results.jsonl", fingerprint=cfg.fingerprint())
    pending = _pending(tasks, journal, cfg.retry_failed)
    n_resumed = len(tasks) - len(pending)
    if n_resumed:
        log.info(
            "%d of %d structures already finished in %s; running %d",
            n_resumed,
            len(tasks),
            out,
            len(pending),
        )
    use_mlip = cfg.mlip.enabled and mlip.available()
    if cfg.mlip.enabled and not use_mlip:
        if cfg.mlip.required:
            mlip.require()
        log.warning(
            "chgnet is not installed: skipping the MLIP pre-relaxation (mlip.enabled=false hides "
            "this)"
        )
    # References of every task (cached, so cheap for finished ones): references.json and the
    # benchmark report then list all elements the results depend on.
    elements = sorted({el for t in tasks for el in t.elements})
    references: dict = {"dft": {}, "mlip": {}}
    executor = _executor(cfg)
    try:
        if elements and cfg.protocol != "none":
            references["dft"] = _reference_energies("dft", elements, cfg, executor, out)
        if elements and use_mlip:
            references["mlip"] = _reference_energies("mlip", elements, cfg, executor, out)
        ctx = TaskContext(
            cfg=cfg,
            out_dir=str(out),
            mu_dft={el: r.get("energy_per_atom") for el, r in references["dft"].items()},
            mu_mlip={el: r.get("energy_per_atom") for el, r in references["mlip"].items()},
            ref_errors={
                (kind, el): r.get("error")
                for kind in ("dft", "mlip")
                for el, r in references[kind].items()
                if r.get("energy_per_atom") is None
            },
            mlip_available=use_mlip,
        )

        def record(result) -> None:
            rec = ({"id": result.key, "status": "failed", "error": result.error}
                   if isinstance(result, TaskFailed) else result)
            journal.append(STAGE, rec["id"], rec)
            log.info(
                "%s %s: %s%s",
                rec["id"],
                rec.get("formula") or "",
                rec["status"],
                f" E_f(DFT) {rec['e_form_dft']:.3f} eV/atom"
                if rec.get("e_form_dft") is not None
                else "",
            )
            if on_record is not None:
                on_record(rec)

        if pending:
            executor.map(partial(validate_structure, ctx=ctx), pending,
                         MapSpec(stage=STAGE, keys=[t.id for t in pending], on_result=record))
    finally:
        executor.close()
    if any(references.values()):
        atomic_write_json(
            out / "references.json", _merge_references(out / "references.json", references)
        )
    records = [
        journal.get(STAGE, t.id) or {"id": t.id, "status": "failed", "error": "no result"}
        for t in tasks
    ]
    return ValidationRun(records=records, references=references, out_dir=out, n_resumed=n_resumed,
                         n_run=len(pending))


def _merge_references(path: Path, new: dict) -> dict:
    """references.json keeps every element used by any run of this folder."""
    old: dict = {}
    if path.exists():
        try:
            old = json.loads(path.read_text())
        except json.JSONDecodeError:
            old = {}
    return {kind: {**old.get(kind, {}), **new.get(kind, {})} for kind in ("dft", "mlip")}
