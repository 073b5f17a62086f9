"""The language level (π_hi and R_hi): requests -> ranked candidate formulae.

* :mod:`.request` — free text -> :class:`~genms.language.request.Request` (``parse_request``).
* :mod:`.families` — the crystal-family knowledge base (``FAMILIES``, ``get_family``).
* :mod:`.offline` / :mod:`.llm` — formula proposers; :mod:`.proposer` builds one from config.
* :mod:`.replies` / :mod:`.prompts` / :mod:`.llm_client` — talking to an LLM endpoint.
* :mod:`.retrieval` — family context and known examples (local; Wikipedia optional).
* :mod:`.rhi` — R_hi: per-formula checks with reasons and a total score in [0, 1].

The known compounds and the reference formula set R_hi's uniqueness check uses are data
access: :mod:`genms.data.known`, :mod:`genms.data.reference`. Formula reading and ratios are
:mod:`genms.crystal.composition`.
"""
