"""The forward tree search of GenMS and the main job built on it.

* :mod:`genms.search.tree` — Algorithm 1 over injected components (pure Python, seeded).
* :mod:`genms.search.api` — :class:`GenMS`: load the models once, ``generate(request)``.
* :mod:`genms.search.commands` — ``genms generate``.
* :mod:`genms.search.report` / :mod:`genms.search.pictures` — the run folder and its report.

The family benchmark built on the search is :mod:`genms.benchmarks.end_to_end`.
"""
