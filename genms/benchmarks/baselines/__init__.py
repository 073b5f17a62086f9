"""Offline baselines for the end-to-end table (Table 1), usable wherever a StructureSampler is.

* :class:`~genms.benchmarks.baselines.template.TemplateSubstitutionSampler` — a known member
  of the family (from the datasets, :mod:`genms.benchmarks.baselines.prototypes`) with the
  requested elements substituted onto its sites and its volume rescaled.
* :class:`~genms.benchmarks.baselines.random_symmetric.RandomSymmetricSampler` — random
  structures of the requested formula in a random space group (PyXtal; the ``baselines`` extra).
* :mod:`genms.benchmarks.baselines.commands` — ``genms eval baselines``: each baseline in place
  of π_lo inside the search, scored like the end-to-end benchmark.

Both samplers follow :class:`genms.interfaces.StructureSampler` and are deterministic under the key.
"""
