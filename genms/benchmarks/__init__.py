"""Where every benchmark number and result table is made (``genms eval ...``, ``genms experiment``).

* :mod:`.csp` — ``genms eval csp``: crystal structure prediction (match rate / RMSE at k = 1
  and k = 20) of π_lo alone, also the validation match rate of ``genms train diffusion``;
  :mod:`.arity_mix` holds the full MP-20 test split's arity mix that it re-weights to.
* :mod:`.end_to_end` — ``genms eval end-to-end``: Table 1, GenMS column (validity, uniqueness,
  match rate, GNN energy, timing per family); :mod:`.families` holds the families' reference
  structures it matches against.
* :mod:`.baselines` — ``genms eval baselines``: Table 1's template and random baselines.
* :mod:`.dft` — ``genms eval dft``: Table 1's DFT column (top structures) and known compounds.
* :mod:`.language` — ``genms eval language``: Table 3 and per-family proposer statistics.
* :mod:`.best_of_n` — ``genms eval best-of-n``: Figure 4.
* :mod:`.energy` — ``genms eval energy``: the energy GNN's accuracy and throughput.
* :mod:`.throughput` — throughput of the CPU-heavy metrics (``python -m
genms.benchmarks.throughput``).
* :mod:`.tables` — the ``experiments/`` result tables (Tables 1–4, Figure 4) beside the paper's.

The metrics themselves live in :mod:`genms.evaluate`.
"""
