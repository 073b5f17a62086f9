"""Launching work at scale: parallel sweeps (Ray), SLURM scripts and the experiment runner.

* :mod:`genms.launch.expand` — a command line with ``key=a,b`` overrides -> sweep points
  (Hydra's override grammar and its basic sweeper's cartesian product).
* :mod:`genms.launch.sweep` — ``genms sweep``: run the points in parallel (Ray, local or a
  cluster) or serially, one sub-process each, with a resumable JSON-lines record.
* :mod:`genms.launch.slurm` — ``genms slurm render``: the sbatch script for a template in
  ``slurm/`` with its directives and command filled in (``--submit`` hands it to sbatch).
* :mod:`genms.launch.experiment` — ``genms experiment <name>``: regenerate one result folder
  under ``experiments/`` (its tables are built by :mod:`genms.benchmarks.tables`).

Nothing here imports JAX; Ray is imported only when a sweep runs on Ray.
"""
