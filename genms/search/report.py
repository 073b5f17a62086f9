"""The run folder of a search: every candidate, the top structures, the config and a report.

``write_run(result, out_dir, config, top_k)`` writes (all files atomically):

* ``cifs/NN_<formula>.cif`` — the answer's structures, numbered as shown, symmetrised at
  ``symprec`` (see :mod:`genms.search.answer`);
* ``candidates.csv`` / ``candidates.json`` — every sampled structure with every score and its
  status (the JSON also holds the structures);
* ``formulae.csv`` / ``formulae.json`` — every proposed formula with its R_hi checks;
* ``config.yaml`` — the resolved config; ``versions.json`` — package versions, devices, git SHA;
* ``summary.json`` — outcome, message, counts and timings;
* ``report.md`` and ``report.html`` with ``images/`` — pictures of every answer structure, the
  energy distribution, what the filters dropped and why, and every formula's reasons.
"""

from __future__ import annotations

import json
import logging
import math
import platform
import subprocess
from importlib import metadata
from pathlib import Path
from typing import Any

import jax
import pandas as pd
from omegaconf import OmegaConf

from genms.configs import escape_container
from genms.io import atomic_write_text
from genms.paths import REPO_ROOT
from genms.search.answer import (
    _novelty,
    atoms_text,
    build_answer,
    dropped_summary,
    formula_reasons,
    novelty_note,
)
from genms.search.candidates import REJECTIONS, SearchResult, ranked_first
from genms.search.html import html_report
from genms.search.pictures import draw_crystal, draw_energy_distribution

log = logging.getLogger(__name__)

_PACKAGES = (
    "genms",
    "jax",
    "jaxlib",
    "flax",
    "optax",
    "orbax-checkpoint",
    "jraph",
    "numpy",
    "pymatgen",
    "smact",
    "ase",
    "spglib",
    "hydra-core",
    "ray",
    "matplotlib",
)


def _json(obj: Any) -> str:
    def clean(x: Any) -> Any:
        if isinstance(x, float) and not math.isfinite(x):
            return None
        if isinstance(x, dict):
            return {str(k): clean(v) for k, v in x.items()}
        if isinstance(x, list | tuple):
            return [clean(v) for v in x]
        return x

    return json.dumps(clean(obj), indent=2, default=str) + "\n"


def versions() -> dict:
    """Python, package versions, JAX devices and the git commit of the checkout."""
    out: dict[str, Any] = {"python": platform.python_version(), "platform": platform.platform()}
    for name in _PACKAGES:
        try:
            out[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            out[name] = None
    try:
        out["devices"] = [str(d) for d in jax.devices()]
    except Exception as exc:  # a broken accelerator setup must not stop the report
        out["devices"] = f"unavailable: {exc}"
    try:
        sha = subprocess.run(
            ["git", "rev-parse", "HEAD"],
            cwd=REPO_ROOT,
            capture_output=True,
            text=True,
            timeout=5,
            check=False,
        ).stdout.strip()
        out["git_sha"] = sha or None
    except (OSError, subprocess.SubprocessError):
        out["git_sha"] = None
    return out


def _csv(records: list[dict]) -> str:
    return pd.DataFrame(records).to_csv(index=False)


def _fmt(x: float | None, digits: int = 3) -> str:
    return (
        "—" if x is None or (isinstance(x, float) and not math.isfinite(x)) else f"{x:.{digits}f}"
    )


def write_run(
    result: SearchResult,
    out_dir: str | Path,
    config: dict | None = None,
    top_k: int = 10,
    pictures: bool = True,
    distinct: bool = True,
    symprec: float = 0.1,
    reference: Any | None = None,
) -> dict[str, Path]:
    """Write the run folder; returns the main paths (``report``, ``report_html``,
    ``candidates_csv``,
    ``cifs``...). ``reference`` (the language level's reference formulae) words the novelty
    claims."""
    out = Path(out_dir)
    paths: dict[str, Path] = {}
    rows = build_answer(result, top_k, distinct, symprec, reference)
    cif_paths = [atomic_write_text(out / "cifs" / row.cif_name, row.symmetry.cif) for row in rows]
    paths["cifs"] = out / "cifs"
    answer_of = {row.candidate.id: row for row in rows}
    ordered = ranked_first(result.candidates)
    novelty = {row.formula: row.novelty for row in rows}
    records = []
    for c in ordered:
        rec = c.to_record(with_structure=True)
        row = answer_of.get(c.id)
        rec["answer_position"] = row.position if row else None
        rec["novelty"] = novelty.get(c.formula) or _novelty_text(c.formula, result, reference)
        records.append(rec)
    flat = [
        {k: v for k, v in r.items() if k not in ("structure", "lattice_params")} for r in records
    ]
    paths["candidates_csv"] = atomic_write_text(out / "candidates.csv", _csv(flat))
    paths["candidates_json"] = atomic_write_text(out / "candidates.json", _json(records))
    formula_records = [n.to_record() for n in result.formulae]
    paths["formulae_csv"] = atomic_write_text(out / "formulae.csv", _csv(formula_records))
    paths["formulae_json"] = atomic_write_text(out / "formulae.json", _json(formula_records))
    if config is not None:
        # config is resolved already: its strings are escaped so that loading the file back
        # reads them literally
        paths["config"] = atomic_write_text(
            out / "config.yaml", OmegaConf.to_yaml(OmegaConf.create(escape_container(config)))
        )
    paths["versions"] = atomic_write_text(out / "versions.json", _json(versions()))
    summary = {
        "request": result.request_text,
        "parsed_request": str(result.request),
        "status": result.status,
        "message": result.message,
        "seed": result.seed,
        "n_formulae": len(result.formulae),
        "n_expanded": sum(n.expanded for n in result.formulae),
        "n_candidates": len(result.candidates),
        "status_counts": result.status_counts(),
        "timings_s": result.timings,
        "reference": _reference_summary(reference),
        "symmetry": {
            "symprec_ang": symprec,
            "angle_tolerance_deg": rows[0].symmetry.angle_tolerance if rows else None,
            "cifs": "symmetrised (refined conventional cell); space_group is that of the CIF",
        },
        "top": [
            {
                "position": row.position,
                "rank": row.candidate.rank,
                "id": row.candidate.id,
                "formula": row.formula,
                "space_group": row.symmetry.label,
                "score": row.candidate.score,
                "e_form_ev_per_atom": row.candidate.e_form,
                "novelty": row.novelty,
                "shortest_contact": row.candidate.contact,
                "cif": str(p.relative_to(out)),
            }
            for row, p in zip(rows, cif_paths, strict=True)
        ],
        "dropped": dropped_summary(result),
    }
    paths["summary"] = atomic_write_text(out / "summary.json", _json(summary))
    images = draw_pictures(result, out, rows) if pictures else {}
    note = novelty_note(reference)
    paths["report"] = atomic_write_text(
        out / "report.md", markdown_report(result, rows, images, note, distinct)
    )
    paths["report_html"] = atomic_write_text(
        out / "report.html", html_report(result, rows, images, note, distinct)
    )
    return paths


def _reference_summary(reference: Any | None) -> dict | None:
    if reference is None:
        return None
    return {
        "n_formulae": len(reference),
        "sources": reference.source_names(),
        "claim": reference.novelty_claim(),
        "note": (
            "novelty is checked against these formulae only, not the full Materials Project or "
            "ICSD"
        ),
    }


def _novelty_text(formula: str, result: SearchResult, reference: Any | None) -> str:
    text, _ = _novelty(formula, result, reference)
    return text


def draw_pictures(result: SearchResult, out: Path, rows: list) -> dict[str, Path]:
    """Pictures of every answer structure and the energy histogram: ``{stem or 'energy': path}``."""
    images: dict[str, Path] = {}
    for row in rows:
        c = row.candidate
        drawn = row.symmetry.structure if row.symmetry.structure is not None else c.crystal
        images[row.stem] = draw_crystal(
            drawn,
            out / "images" / f"{row.stem}.png",
            f"{row.position}. {row.display}   {row.symmetry.label}",
        )
    energies = [c for c in result.candidates if c.e_form is not None]
    if energies:
        images["energy"] = draw_energy_distribution(
            [c.e_form for c in energies if c.kept],
            [c.e_form for c in energies if not c.kept],
            [row.candidate.e_form for row in rows],
            out / "images" / "energy_distribution.png",
        )
    return images


def markdown_report(
    result: SearchResult, rows: list, images: dict[str, Path], novelty_note: str, distinct: bool
) -> str:
    lines = [f"# GenMS search: {result.request_text}", ""]
    lines += [
        "```",
        str(result.request),
        "```",
        "",
        f"- **Outcome:** `{result.status}` — {result.message}",
        f"- **Seed:** {result.seed}",
        "- **Timings (s):** " + ", ".join(f"{k} {v:.2f}" for k, v in result.timings.items()),
        f"- **Novelty:** {novelty_note}",
        "",
    ]
    if rows:
        sym = rows[0].symmetry
        lines += ["## Top structures", ""]
        if distinct:
            lines += [
                "Near-copies of a better structure of the same formula are left out here; rows are "
                "numbered as shown (`rank` in `candidates.csv` counts every kept structure).",
                "",
            ]
        lines += [
            f"CIFs are symmetrised with spglib (symprec {sym.symprec:g} Å, angle tolerance "
            f"{sym.angle_tolerance:g}°, refined conventional cell); the space group column is "
            "that of the CIF.",
            "",
            "| # | formula | space group | atoms | E_f (eV/atom) | R_hi | score | shortest "
            "contact | reference | CIF |",
            "|---:|---|---|---:|---:|---:|---:|---|---|---|",
        ]
        for row in rows:
            c = row.candidate
            lines.append(
                f"| {row.position} | {row.display} | {row.symmetry.label} | {atoms_text(row)} | "
                f"{_fmt(c.e_form)} | "
                f"{_fmt(c.r_hi, 2)} | {_fmt(c.score)} | {c.contact or '—'} | {row.novelty} | "
                f"[{row.cif_name}](cifs/{row.cif_name}) |"
            )
        lines.append("")
        drawn = [row for row in rows if row.stem in images]
        for start in range(0, len(drawn), 4):  # a grid of four pictures per row
            chunk = drawn[start : start + 4]
            lines += [
                "| " + " | ".join(f"{r.position}. {r.display}" for r in chunk) + " |",
                "|" + "---|" * len(chunk),
                "| "
                + " | ".join(f"![{r.display}](images/{images[r.stem].name})" for r in chunk)
                + " |",
                "",
            ]
    if "energy" in images:
        lines += [
            "## Energy distribution",
            "",
            f"![energy distribution](images/{images['energy'].name})",
            "",
        ]
    counts = result.status_counts()
    if counts:
        lines += ["## Filters", "", "| status | structures | meaning |", "|---|---:|---|"]
        for status, k in sorted(counts.items(), key=lambda kv: -kv[1]):
            lines.append(f"| {status} | {k} | {REJECTIONS.get(status, 'passed every filter')} |")
        lines.append("")
        dropped = dropped_summary(result)
        if dropped:
            lines += [
                "### Dropped structures",
                "",
                "| status | id | formula | why |",
                "|---|---|---|---|",
            ]
            for status, info in dropped.items():
                for ex in info["examples"]:
                    lines.append(f"| {status} | {ex['id']} | {ex['formula']} | {ex['reason']} |")
                if info["count"] > len(info["examples"]):
                    lines.append(
                        f"| {status} | … | | {info['count'] - len(info['examples'])} more in "
                        "`candidates.csv` |"
                    )
            lines.append("")
    if result.formulae:
        lines += [
            "## Formulae (π_hi proposals ranked by R_hi)",
            "",
            "| rank | formula | R_hi | expanded | sampled | kept | best E_f | reasons |",
            "|---:|---|---:|---|---:|---:|---:|---|",
        ]
        for n in result.formulae:
            lines.append(
                f"| {n.rank or '—'} | {n.formula} | {_fmt(n.r_hi, 2)} | "
                f"{'yes' if n.expanded else 'no'} | "
                f"{n.n_sampled} | {n.n_kept} | {_fmt(n.best_e_form)} | "
                f"{'; '.join(formula_reasons(n))} |"
            )
        lines.append("")
    lines += [
        "Files: `report.html` (this report with pictures), `candidates.csv`/`.json` (every "
        "structure, every "
        "score), `formulae.csv`/`.json`, `cifs/`, `config.yaml`, `versions.json`, `summary.json`.",
        "",
    ]
    return "\n".join(lines)
