"""The notebook API: ``from genms import api; genms = api.GenMS.load()``.

A thin alias of :mod:`genms.search.api` (see there): load the models once, then
``genms.generate(request, ...)`` returns a :class:`SearchResult` whose candidates hold
pymatgen structures (``candidate.structure``) and every score.
"""

from genms.search.api import GenerateConfig, GenMS
from genms.search.candidates import Candidate, FormulaNode, SearchResult
from genms.search.config import FilterConfig, SearchConfig

__all__ = [
    "Candidate",
    "FilterConfig",
    "FormulaNode",
    "GenMS",
    "GenerateConfig",
    "SearchConfig",
    "SearchResult",
]
