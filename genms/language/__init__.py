"""The language level (π_hi and R_hi): requests -> ranked candidate formulae.

* :mod:`.request` — free text -> :class:`~genms.language.request.Request` (``parse_request``).
* :mod:`.families` — the crystal-family knowledge base (``FAMILIES``, ``get_family``).
* :mod:`.offline` / :mod:`.llm` — formula proposers; :mod:`.proposer` builds one from config.
* :mod:`.reference` / :mod:`.known` — the known-formula reference set (uniqueness).
* :mod:`.retrieval` — family context and known examples (local; Wikipedia optional).
* :mod:`.rhi` — R_hi: per-formula checks with reasons and a total score in [0, 1].

Importing this package loads nothing heavy; each module imports what it needs.
"""
