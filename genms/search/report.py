"""The run folder of a search: every candidate, the top structures, the config and a report.

``write_run(result, out_dir, config, top_k)`` writes (all files atomically):

* ``cifs/NN_<formula>.cif`` — the top structures (P1 CIFs);
* ``candidates.csv`` / ``candidates.json`` — every sampled structure with every score and its
  status (the JSON also holds the structures);
* ``formulae.csv`` / ``formulae.json`` — every proposed formula with its R_hi checks;
* ``config.yaml`` — the resolved config; ``versions.json`` — package versions, devices, git SHA;
* ``summary.json`` — outcome, message, counts and timings;
* ``report.md`` with ``images/`` — pictures of the top structures and of the energy distribution.
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
from pymatgen.symmetry.analyzer import SpacegroupAnalyzer

from genms.configs import escape_container
from genms.crystal.convert import to_cif
from genms.io import atomic_write_text
from genms.paths import REPO_ROOT
from genms.search.candidates import REJECTIONS, Candidate, SearchResult, ranked_first
from genms.search.pictures import draw_crystal, draw_energy_distribution

log = logging.getLogger(__name__)

_PACKAGES = ("genms", "jax", "jaxlib", "flax", "optax", "orbax-checkpoint", "jraph", "numpy",
             "pymatgen", "smact", "ase", "spglib", "hydra-core", "ray", "matplotlib")


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
        sha = subprocess.run(["git", "rev-parse", "HEAD"], cwd=REPO_ROOT, capture_output=True,
                             text=True, timeout=5, check=False).stdout.strip()
        out["git_sha"] = sha or None
    except (OSError, subprocess.SubprocessError):
        out["git_sha"] = None
    return out


def space_group(candidate: Candidate, symprec: float = 0.1) -> str:
    """International symbol and number (``Pm-3m (221)``), or ``?`` when spglib fails."""
    try:
        sga = SpacegroupAnalyzer(candidate.structure, symprec=symprec)
        return f"{sga.get_space_group_symbol()} ({sga.get_space_group_number()})"
    except Exception:  # spglib gives up on some distorted cells
        return "?"


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
) -> dict[str, Path]:
    """Write the run folder; returns the main paths (``report``, ``candidates_csv``,
    ``cifs``...)."""
    out = Path(out_dir)
    paths: dict[str, Path] = {}
    top = result.top(top_k, distinct)
    cif_paths = []
    for c in top:
        cif_paths.append(
            atomic_write_text(out / "cifs" / f"{c.rank:02d}_{c.formula}.cif", to_cif(c.crystal))
        )
    paths["cifs"] = out / "cifs"
    ordered = ranked_first(result.candidates)
    paths["candidates_csv"] = atomic_write_text(
        out / "candidates.csv", _csv([c.to_record() for c in ordered])
    )
    paths["candidates_json"] = atomic_write_text(
        out / "candidates.json", _json([c.to_record(with_structure=True) for c in ordered])
    )
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
        "top": [
            {
                "rank": c.rank,
                "id": c.id,
                "formula": c.formula,
                "score": c.score,
                "e_form_ev_per_atom": c.e_form,
                "cif": str(p.relative_to(out)),
            }
            for c, p in zip(top, cif_paths, strict=True)
        ],
    }
    paths["summary"] = atomic_write_text(out / "summary.json", _json(summary))
    paths["report"] = _write_markdown(result, out, top, cif_paths, pictures, distinct)
    return paths


def _write_markdown(result: SearchResult, out: Path, top: list[Candidate], cif_paths: list[Path],
                    pictures: bool, distinct: bool) -> Path:
    lines = [f"# GenMS search: {result.request_text}", ""]
    lines += [
        "```",
        str(result.request),
        "```",
        "",
        f"- **Outcome:** `{result.status}` — {result.message}",
        f"- **Seed:** {result.seed}",
        "- **Timings (s):** " + ", ".join(f"{k} {v:.2f}" for k, v in result.timings.items()),
        "",
    ]
    if top:
        lines += ["## Top structures", "",
                  "Near-copies of a better structure of the same formula are left out here "
                  "(`candidates.csv` has every structure)." if distinct else "", "",
                  "| rank | formula | space group | atoms | E_f (eV/atom) | R_hi | score | CIF |",
                  "|---:|---|---|---:|---:|---:|---:|---|"]
        for c, p in zip(top, cif_paths, strict=True):
            lines.append(
                f"| {c.rank} | {c.formula} | {space_group(c)} | {c.n_atoms} | {_fmt(c.e_form)} | "
                f"{_fmt(c.r_hi, 2)} | {_fmt(c.score)} | [{p.name}]({p.relative_to(out)}) |"
            )
        lines.append("")
        if pictures:
            lines += ["| " + " | ".join(f"#{c.rank} {c.formula}" for c in top[:5]) + " |",
                      "|" + "---|" * min(5, len(top))]
            cells = []
            for c in top[:5]:
                img = draw_crystal(c.crystal, out / "images" / f"{c.rank:02d}_{c.formula}.png",
                                   f"#{c.rank} {c.formula}  {_fmt(c.e_form)} eV/atom")
                cells.append(f"![{c.formula}]({img.relative_to(out)})")
            lines += ["| " + " | ".join(cells) + " |", ""]
    energies = [c for c in result.candidates if c.e_form is not None]
    if pictures and energies:
        img = draw_energy_distribution(
            [c.e_form for c in energies if c.kept],
            [c.e_form for c in energies if not c.kept],
            [c.e_form for c in top],
            out / "images" / "energy_distribution.png",
        )
        lines += [
            "## Energy distribution",
            "",
            f"![energy distribution]({img.relative_to(out)})",
            "",
        ]
    counts = result.status_counts()
    if counts:
        lines += ["## Filters", "", "| status | structures | meaning |", "|---|---:|---|"]
        for status, k in sorted(counts.items(), key=lambda kv: -kv[1]):
            lines.append(f"| {status} | {k} | {REJECTIONS.get(status, 'passed every filter')} |")
        lines.append("")
    if result.formulae:
        lines += ["## Formulae (π_hi proposals ranked by R_hi)", "",
                  "| rank | formula | R_hi | expanded | sampled | kept | best E_f | reasons |",
                  "|---:|---|---:|---|---:|---:|---:|---|"]
        for n in result.formulae:
            why = "; ".join(n.reasons) + (f" — {n.note}" if n.note else "")
            lines.append(
                f"| {n.rank or '—'} | {n.formula} | {_fmt(n.r_hi, 2)} | "
                f"{'yes' if n.expanded else 'no'} | "
                f"{n.n_sampled} | {n.n_kept} | {_fmt(n.best_e_form)} | {why} |"
            )
        lines.append("")
    lines += [
        "Files: `candidates.csv`/`.json` (every structure, every score), `formulae.csv`/`.json`, "
        "`cifs/`, `config.yaml`, `versions.json`, `summary.json`.",
        "",
    ]
    return atomic_write_text(out / "report.md", "\n".join(lines))
