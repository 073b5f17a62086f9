"""Offline baselines for the end-to-end table (Table 1), usable wherever a StructureSampler is.

* :class:`~genms.baselines.template.TemplateSubstitutionSampler` — a known member of the
  family (from the datasets, :mod:`genms.baselines.prototypes`) with the requested elements
  substituted onto its sites and its volume rescaled.
* :class:`~genms.baselines.random_symmetric.RandomSymmetricSampler` — random structures of the
  requested formula in a random space group (PyXtal; the ``baselines`` extra).

Both follow :class:`genms.interfaces.StructureSampler` and are deterministic under the key.
"""
