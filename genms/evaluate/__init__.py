"""Evaluation metrics with the CDVAE/DiffCSP/GenMS definitions.

* :mod:`.validity`: CIF, structural and composition (SMACT) validity.
* :mod:`.uniqueness`: formula uniqueness against known reduced formulae.
* :mod:`.matching`: CSP match rate and normalised RMSE (1 sample and k samples).
* :mod:`.family`: family membership with ``StructureMatcher.fit_anonymous``.
* :mod:`.parallel`: the process pool the CPU-heavy metrics run on.
* :mod:`.commands`: ``genms eval metrics``.

Import what you need from the submodules.
"""

from genms.evaluate.matching import (
    CSPMetrics,
    ItemMatch,
    MatchConfig,
    PairResult,
    match_k_samples,
    match_one_sample,
    match_pair,
)
from genms.evaluate.parallel import parallel_map
from genms.evaluate.uniqueness import ReferenceFormulae, uniqueness
from genms.evaluate.validity import (
    Validity,
    ValidityConfig,
    check_many,
    check_validity,
    cif_valid,
    validity_fractions,
)

__all__ = [
    "CSPMetrics",
    "ItemMatch",
    "MatchConfig",
    "PairResult",
    "ReferenceFormulae",
    "Validity",
    "ValidityConfig",
    "check_many",
    "check_validity",
    "cif_valid",
    "match_k_samples",
    "match_one_sample",
    "match_pair",
    "parallel_map",
    "uniqueness",
    "validity_fractions",
]
