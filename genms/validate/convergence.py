"""Convergence study behind the ``production`` DFT preset (cutoff and k-point density).

Formation energies of small rock-salt cells (NaCl, MgO: an ionic chloride and an oxide whose
O setup is the hardest to converge, with metallic Na and Mg references that need dense
k-meshes) are computed over a cutoff scan at fixed k-density and a k-density scan at fixed
cutoff, every point with its own elemental references (through the same reference code and
cache as ``genms validate``). Each point's error is measured against the densest point::

    python -m genms.validate.convergence --out benchmarks/results/dft_convergence.json

Cost on 2 shared cores, serial: about 10-15 minutes. Geometries are fixed (experimental
lattice constants), since only the numerical convergence is studied.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import logging
import time
from pathlib import Path

from ase.build import bulk

from genms.validate.config import (
    DFTSettings,
    LaunchConfig,
    MLIPConfig,
    ReferenceConfig,
    ValidateConfig,
)
from genms.validate.dft import prepare_job
from genms.validate.formation import formation_energy_per_atom
from genms.validate.launch import run_calculation
from genms.validate.references import (
    ReferenceCache,
    cache_root,
    compute_dft_reference,
    dft_namespace,
)

log = logging.getLogger(__name__)

#: name -> (ASE bulk arguments), experimental lattice constants (Å).
SYSTEMS = {"NaCl": ("NaCl", "rocksalt", 5.64), "MgO": ("MgO", "rocksalt", 4.21)}


def _compound(name: str):
    formula, structure, a = SYSTEMS[name]
    return bulk(formula, structure, a=a)


def point(settings: DFTSettings, launch: LaunchConfig, cache_dir: str, log_dir: str | None) -> dict:
    """Formation energies of every system at one setting (references included)."""
    cfg = ValidateConfig(dft=settings, launch=launch, mlip=MLIPConfig(enabled=False),
                         references=ReferenceConfig(cache_dir=cache_dir))
    out: dict = {
        "ecut_ev": settings.ecut_ev,
        "kpt_density": settings.kpt_density,
        "systems": {},
        "references": {},
    }
    elements = sorted({s for name in SYSTEMS for s in _compound(name).get_chemical_symbols()})
    for el in elements:
        cache = ReferenceCache(cache_root(cfg.references), dft_namespace(cfg, el))
        rec = cache.get(el)
        if rec is None:
            rec = compute_dft_reference(el, cfg, log_dir)
            if rec.get("energy_per_atom") is not None:
                cache.put(el, rec)
        out["references"][el] = {
            "energy_per_atom": rec.get("energy_per_atom"),
            "wall_s": rec.get("wall_s"),
            "kpts": (rec.get("dft") or {}).get("kpts"),
            "status": rec.get("status"),
        }
    mu = {el: r["energy_per_atom"] for el, r in out["references"].items()}
    for name in SYSTEMS:
        atoms = _compound(name)
        res = run_calculation(prepare_job(atoms, cfg.dft.physics(), name), launch, log_dir)
        entry = {"status": res["status"], "wall_s": res.get("wall_s"), "kpts": res.get("kpts"),
                 "energy_per_atom": res.get("energy_per_atom"), "e_form": None}
        if res.get("energy_ev") is not None:
            entry["e_form"] = formation_energy_per_atom(
                res["energy_ev"], atoms.get_chemical_symbols(), mu
            )
        out["systems"][name] = entry
        log.info("ecut %g k %g %s: E_f %s (%s s)", settings.ecut_ev, settings.kpt_density, name,
                 entry["e_form"], entry["wall_s"])
    return out


def study(base: DFTSettings, cutoffs: list[float], densities: list[float], launch: LaunchConfig,
          cache_dir: str, log_dir: str | None = None) -> dict:
    """Cutoff scan at ``base.kpt_density`` and k-density scan at ``base.ecut_ev``."""
    start = time.perf_counter()
    scans: dict[str, list[dict]] = {"cutoff": [], "kpt_density": []}
    for ecut in cutoffs:
        scans["cutoff"].append(
            point(dataclasses.replace(base, ecut_ev=ecut), launch, cache_dir, log_dir)
        )
    for k in densities:
        scans["kpt_density"].append(
            point(dataclasses.replace(base, kpt_density=k), launch, cache_dir, log_dir)
        )
    for scan in scans.values():
        best = scan[-1]["systems"]
        for p in scan:
            for name, entry in p["systems"].items():
                ref = best[name]["e_form"]
                entry["error_vs_densest"] = (None if entry["e_form"] is None or ref is None
                                             else round(entry["e_form"] - ref, 4))
    return {
        "base": dataclasses.asdict(base),
        "cutoffs": cutoffs,
        "kpt_densities": densities,
        "scans": scans,
        "wall_s": round(time.perf_counter() - start, 1),
        "systems": {k: list(v) for k, v in SYSTEMS.items()},
        "launch": dataclasses.asdict(launch),
    }


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--out", default="benchmarks/results/dft_convergence.json")
    p.add_argument("--cutoffs", default="400,520,650,800")
    p.add_argument("--densities", default="2.0,3.0,3.5,4.5,5.5")
    p.add_argument("--base-ecut", type=float, default=520.0)
    p.add_argument("--base-density", type=float, default=3.5)
    p.add_argument("--cache-dir", default="auto")
    p.add_argument("--log-dir", default=None)
    p.add_argument("--ranks", type=int, default=1)
    p.add_argument("--nice", type=int, default=10)
    args = p.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    base = DFTSettings(preset="study", ecut_ev=args.base_ecut, kpt_density=args.base_density)
    launch = LaunchConfig(mpi_ranks=args.ranks, nice=args.nice, keep_logs=args.log_dir is not None)
    if args.log_dir:
        Path(args.log_dir).mkdir(parents=True, exist_ok=True)
    result = study(
        base,
        [float(x) for x in args.cutoffs.split(",")],
        [float(x) for x in args.densities.split(",")],
        launch,
        args.cache_dir,
        args.log_dir,
    )
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(result, indent=2) + "\n")
    log.info("wrote %s (%.0f s)", out, result["wall_s"])
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
