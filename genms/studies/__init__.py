"""Studies behind the paper's figures (each a ``genms eval ...`` command).

* :mod:`genms.studies.best_of_n` — Figure 4: best-of-N against a single sample.
"""
