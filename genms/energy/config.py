"""Typed config of R_lo at inference (the ``predictor`` config group, conf/predictor/)."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class PredictorConfig:
    """The energy GNN the search loads (``bundle``: its folder, ``None`` = the shipped one)."""

    bundle: str | None = None
