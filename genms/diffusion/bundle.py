"""A trained denoiser as one typed value: :class:`DiffusionBundle`.

A bundle folder (the shipped ``genms/assets/models/denoiser``, or what ``genms train
diffusion`` exports) holds the parameters and ``bundle.json`` (written by
:mod:`genms.train.bundle`). The keys of a diffusion ``bundle.json``:

* ``kind``: ``genms.diffusion``;
* ``model`` and ``diffusion``: the network config (either architecture) and the process config;
* ``lattice_normaliser`` and ``formula_units``: the lattice normaliser and the Z prior fitted
  on the training split;
* ``data``: the training and validation splits it saw;
* ``provenance`` (run folder, step, EMA), ``bundle`` (stored dtype, parameter count) and
  ``training`` (how it was trained: command, steps, samples seen, validation match), each
  absent from some older bundles.

:meth:`DiffusionBundle.load` reads and types all of it in one place; the sampler, the training
command and the CSP benchmark read the typed fields. The shipped bundles load as they are.
"""

from __future__ import annotations

import dataclasses
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from genms.diffusion.config import DiffusionConfig
from genms.diffusion.formula_units import FormulaUnitPrior
from genms.diffusion.lattice import LatticeNormaliser
from genms.diffusion.schedules import ScheduleConfig
from genms.io import atomic_write_text
from genms.models.denoisers import AnyDenoiserConfig, denoiser_config
from genms.train.bundle import META_FILE, load_bundle, read_meta

#: ``bundle.json``'s ``kind`` of a diffusion bundle.
KIND = "genms.diffusion"


@dataclass(frozen=True, eq=False)
class DiffusionBundle:
    """Parameters and everything inference needs besides them, typed.

    Attributes:
      params: the network parameters (a pytree of arrays).
      model / diffusion: the network and process configs.
      normaliser / z_prior: the fitted lattice normaliser and formula-unit prior.
      data: the splits it was trained on (``bundle.json``'s ``data``).
      provenance: run folder, step and EMA of the exported checkpoint (empty before export).
      training: the training record (empty when none was written).
      stored: how the parameters are stored (``bundle.json``'s ``bundle``: dtype, count).
      path: the folder it was read from (None when built in memory).
    """

    params: Any
    model: AnyDenoiserConfig
    diffusion: DiffusionConfig
    normaliser: LatticeNormaliser
    z_prior: FormulaUnitPrior
    data: dict = field(default_factory=dict)
    provenance: dict = field(default_factory=dict)
    training: dict = field(default_factory=dict)
    stored: dict = field(default_factory=dict)
    path: Path | None = None

    @classmethod
    def from_meta(cls, params: Any, meta: dict, path: Path | None = None) -> DiffusionBundle:
        """The bundle of ``params`` and its ``bundle.json`` contents (or a task's extras)."""
        if meta.get("kind") != KIND:
            raise ValueError(
                f"this bundle is not a genms diffusion model (bundle.json has no kind {KIND!r})"
            )
        diffusion = dict(meta["diffusion"])
        diffusion["schedule"] = ScheduleConfig(**diffusion["schedule"])
        return cls(
            params=params,
            model=denoiser_config(dict(meta["model"])),
            diffusion=DiffusionConfig(**diffusion),
            normaliser=LatticeNormaliser.from_dict(meta["lattice_normaliser"]),
            z_prior=FormulaUnitPrior.from_dict(meta["formula_units"]),
            data=dict(meta.get("data", {})),
            provenance=dict(meta.get("provenance", {})),
            training=dict(meta.get("training", {})),
            stored=dict(meta.get("bundle", {})),
            path=path,
        )

    @classmethod
    def load(cls, path: str | Path, dtype=np.float32) -> DiffusionBundle:
        """The bundle in folder ``path`` (parameters cast to ``dtype``)."""
        params, meta = load_bundle(path, dtype)
        return cls.from_meta(params, meta, Path(path))

    def extras(self) -> dict:
        """What a checkpoint and ``bundle.json`` hold besides the parameters (JSON-able)."""
        return bundle_extras(self.model, self.diffusion, self.normaliser, self.z_prior, self.data)

    @property
    def samples_seen(self) -> int:
        """Crystal samples behind the parameters (from the training record; 0 when none)."""
        return samples_seen(self.training)


def bundle_extras(model: AnyDenoiserConfig, diffusion: DiffusionConfig,
                  normaliser: LatticeNormaliser, z_prior: FormulaUnitPrior, data: dict) -> dict:
    """Everything inference needs besides the weights (JSON-able)."""
    return {
        "kind": KIND,
        "model": dataclasses.asdict(model),
        "diffusion": dataclasses.asdict(diffusion),
        "lattice_normaliser": normaliser.to_dict(),
        "formula_units": z_prior.to_dict(),
        "data": data,
    }


def samples_seen(training: dict) -> int:
    """Crystal samples of a training record: ``samples_seen``, else steps × batch size."""
    if "samples_seen" in training:
        return int(training["samples_seen"])
    return int(training.get("steps", 0)) * int(training.get("batch_size", 0))


def read_training(path: str | Path) -> dict:
    """The training record of the bundle in ``path`` (empty when it has none or no
    ``bundle.json``); the parameters are not read."""
    if not (Path(path) / META_FILE).is_file():
        return {}
    return dict(read_meta(path).get("training", {}))


def record_training(path: str | Path, training: dict) -> None:
    """Add ``training`` to the training record in the bundle's ``bundle.json`` (atomic rewrite)."""
    meta = read_meta(path)
    meta["training"] = {**meta.get("training", {}), **training}
    atomic_write_text(Path(path) / META_FILE, json.dumps(meta, indent=2, default=float))
