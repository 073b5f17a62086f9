"""The forward tree search of GenMS and the main job built on it.

* :mod:`genms.search.tree` — Algorithm 1 over injected components (pure Python, seeded).
* :mod:`genms.search.api` — :class:`GenMS`: load the models once, ``generate(request)``.
* :mod:`genms.search.commands` — ``genms generate`` and ``genms eval end-to-end``.
* :mod:`genms.search.report` / :mod:`genms.search.pictures` — the run folder and its report.
* :mod:`genms.search.benchmark` / :mod:`genms.search.families` — the family benchmark.
"""
