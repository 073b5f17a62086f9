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
| π_lo CSP, MP-20 test subset (7,441 of 9,046) | match rate k=1 / k=20 | ≥ 0.55 / ≥ 0.80 | v1: 0.361 / 0.689. v2 shipped (width 512, 46.9 M samples, 33.5 GPU-min, Heun 25, capped): test not sampled yet; validation k=1 0.518 on the first 1,000 MP-20 val cells and 0.529 [0.498, 0.560] on the next 1,000 (the width-256 bundle it replaced: 0.491 / 0.506; v1: 0.336 on the first 1,000) | DiffCSP 0.5149 / 0.7793 (full test set) | **not met yet** (the test split is sampled once the model is final; validation still rises with each cycle) |
| π_lo sampling, ≤ 20-atom cells, H100/H200 | structures/s | ≥ 1,000 (v2 target: ≥ 2,000) | v1, 256 steps: 1,847 (145 TFLOP/s executed, 18.5 % of bf16 peak). v2 shipped (width 512) in the training job's validation sampler on one H200 (1,000 MP-20 val cells in one batch): default Heun 25 2,961 (137 TFLOP/s executed by the FLOP counter, about 17 % of the measured bf16 matmul peak), Heun 50 1,640; the throughput benchmark at scale is still to run | DiffCSP 9–21/s on the same GPU | v1 met; v2: 2,961/s at the default steps in the validation sampler; the at-scale benchmark is open |
| π_lo CPU, `genms sample SrTiO3 n=8`, 2-core | wall time, warm | < 30 s | v2 shipped (width 512), default Heun 25: 22.1 s warm (twice, nothing else running; 37.2 s with new programs); Heun 50 (`sampler.steps=50`): 32.9–33.6 s | – | met |
| R_lo, mp_cgcnn held-out 10 % | MAE eV/atom | ≤ 0.035 | 0.0306 | CGCNN 0.039 (similar MP set) | met |
| R_lo inference, ≤ 20-atom cells, H100 | structures/s | ≥ 20,000 | 154,000 (3-member ensemble) | – | met |
| R_lo training | GPU minutes to target | ≤ 30 | ≈ 8 | – | met |
| End-to-end search, H = 25, L = 100 (Table 1) | match rate perovskite / pyrochlore / spinel, returned answer (100 per family, Wilson 95 % intervals) | ≥ 0.93 / 0.86 / 0.89; over all sampled ≥ 0.70 | old protocol: 0.28 / 0.00 / 0.12 (25 structures, space-group references); to be re-measured with clean prototypes | paper's GenMS 0.93 / 0.86 / 0.89 | **not met** (π_lo undertrained) |
| End-to-end search (Table 1) | structural / composition validity over all sampled structures; uniqueness against every data-folder formula | ≥ 0.95 / ≥ 0.90; paper's 0.90 / 0.49 / 0.44 | old protocol, sampled structural validity 0.94 / 0.91 / 0.84 (returned answer 1.00 by the search's filters, not counted); to be re-measured | paper's GenMS | **not met** (to be re-measured) |
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
