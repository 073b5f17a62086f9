"""Assemble BENCHMARKS.md from the summary below and the per-area pages in docs/benchmarks/.

Usage: python scripts/build_benchmarks_md.py   (rewrites BENCHMARKS.md)
"""

from __future__ import annotations

from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
ORDER = [
    "diffusion",
    "energy",
    "search",
    "language",
    "validation",
    "metrics",
    "data",
    "experiments",
    "scaling",
]

HEADER = """# Benchmarks

Every row states the command that reproduces it; machine-readable results are in
`benchmarks/results/*.json`. GPU rows ran on one NVIDIA H100 80GB (16 CPU cores; the
end-to-end search on one H200 with 16 CPU cores), CPU rows on a
2-core x86-64 machine shared with other work (so CPU timings are upper bounds). The sections
below are kept in `docs/benchmarks/<area>.md`; this file is assembled by
`python scripts/build_benchmarks_md.py`.

## Summary against the targets

| area | metric | target | ours | peer (same protocol) | status |
|---|---|---|---|---|---|
| π_lo CSP, MP-20 test subset (7,441 of 9,046) | match rate k=1 / k=20 | ≥ 0.55 / ≥ 0.80 | v2 shipped (width 512, 46.9 M samples, 33.5 GPU-min, Heun 25, capped; fixed on validation before the test run): **0.516** [0.505, 0.527] / **0.680** [0.669, 0.690]; re-weighted to the full split 0.515 / 0.683; without near duplicates 0.527 / 0.687. v1: 0.361 / 0.689 | DiffCSP 0.5149 / 0.7793 (full test set) | **not met** (k=1 at DiffCSP's level; k=20 limited by near-deterministic sampling: 1.8 distinct structures per 8 samples) |
| π_lo CSP, MPTS-52 test (≤ 52 atoms, transfer) | match rate k=1 | ≥ 0.20 | v2 shipped: **0.207** [0.198, 0.216] (MPTS-52 test held out of training by id, formula + space group and StructureMatcher) | DiffCSP 0.1219 (trained on MPTS-52) | met |
| π_lo sampling, ≤ 20-atom cells, H100/H200 | structures/s | ≥ 1,000 (v2 target: ≥ 2,000) | v2 shipped, default Heun 25, MP-20 test × 20 (148,820 structures) on one H200: **5,436** (127.8 TFLOP/s executed, 16 % of the 780 TFLOP/s bf16 matmul peak measured on the H100). v1, 256 steps: 1,847 (145 TFLOP/s executed, 18.5 %) | DiffCSP 9–21/s on the same GPU | met |
| π_lo CPU, `genms sample SrTiO3 n=8`, 2-core | wall time, warm | < 30 s | v2 shipped (width 512), default Heun 25: 22.1 s warm (twice, nothing else running; 37.2 s with new programs); Heun 50 (`sampler.steps=50`): 32.9–33.6 s | – | met |
| R_lo, mp_cgcnn held-out 10 % | MAE eV/atom | ≤ 0.035 | 0.0306 | CGCNN 0.039 (similar MP set) | met |
| R_lo inference, ≤ 20-atom cells, H100 | structures/s | ≥ 20,000 | 154,000 (3-member ensemble) | – | met |
| R_lo training | GPU minutes to target | ≤ 30 | ≈ 8 | – | met |
| End-to-end search, H = 25, L = 100 (Table 1) | match rate perovskite / pyrochlore / spinel, returned answer (100 per family, Wilson 95 % intervals) | ≥ 0.93 / 0.86 / 0.89; over all sampled ≥ 0.70 | 2026-12-04, width-512 π_lo, clean prototypes: returned 0.11 [0.06, 0.19] / 0.00 [0.00, 0.04] / 0.00 [0.00, 0.04]; all sampled 0.35 / 0.03 / 0.27 (the top 100 collapses onto 1–5 formulae; best per formula would be 0.16 / 0.32 / 0.36) | paper's GenMS 0.93 / 0.86 / 0.89 | **not met** (π_lo rarely builds Z = 2/4 perovskites, 22-atom pyrochlores) |
| End-to-end search (Table 1) | structural / composition validity over all sampled structures; uniqueness against every data-folder formula | ≥ 0.95 / ≥ 0.90; paper's 0.90 / 0.49 / 0.44 | 2026-12-04, all 2,500 sampled per family: structural 0.99 / 0.95 / 0.96, composition 1.00 (the proposer's SMACT check, not π_lo), uniqueness 1.00 (the returned answer's 1.00 is guaranteed by the filters and not counted) | paper's GenMS | structural validity met; composition validity holds by the proposer's filter, so it is not claimed |
| End-to-end search, one request, H = 25, L = 100 | wall time on one GPU | < 60 s | 27 s perovskite (shapes compiled); 41 s / 87 s pyrochlore / spinel with compilation | – | met for perovskite only |
| Main job `genms generate` (defaults), 2-core CPU | wall time | < 2 min | v2 denoiser: 63 s warm at a load average of about 4 from other jobs (peak memory 0.86 GB). v1: 59 s warm on an idle machine, 138 s first run on a shared CPU | – | met (warm) |
| Validation, known compounds | DFT E_f vs MP (with MP2020 anion shifts) | – | within 0.02–0.06 eV/atom | MP | measured |
| Validation, top end-to-end structures (Table 1 search) | structures / SCF-converged; GNN vs DFT (+ anion shifts) MAE | ≥ 10 / ≥ 90 % | 12 / 100 %; 0.058 eV/atom (CHGNet 0.066) | paper DFT −1.32 / −2.56 / −1.77; ours −3.31 / −2.38 / −2.71 plain PBE (different, unmatched sets) | met |

"""


def _demote(lines: list[str]) -> list[str]:
    out, fenced = [], False
    for line in lines:
        if line.startswith("```"):
            fenced = not fenced
        out.append("#" + line if line.startswith("#") and not fenced else line)
    return out


def main() -> None:
    parts = [HEADER]
    pages = {p.stem: p for p in (ROOT / "docs" / "benchmarks").glob("*.md")}
    for name in ORDER + sorted(set(pages) - set(ORDER)):
        if name in pages:
            text = pages[name].read_text().strip()
            # demote the page's headings by one level so they nest under this file's title
            text = "\n".join(_demote(text.splitlines()))
            # links are written relative to docs/benchmarks/; this file sits at the root
            text = text.replace("](../../", "](").replace("](../", "](docs/")
            parts.append(text + "\n")
    (ROOT / "BENCHMARKS.md").write_text("\n".join(parts))


if __name__ == "__main__":
    main()
