"""``CrystalArrays``: a whole dataset as flat numpy arrays (the ``.npz`` cache format).

Atoms of all crystals are concatenated; ``offsets`` (derived from ``n_atoms``) index them.

* ``frac_coords``: float32[total_atoms, 3]; ``atomic_numbers``: uint8[total_atoms]
* ``lattice``: float32[n, 3, 3] row vectors (Å); ``n_atoms``: int32[n]
* ``targets``: {name: float64[n]} (NaN where a source has no value); ``ids``: str[n]
* ``meta``: JSON-able dict (source, fingerprint, report)

The file is small enough to carry to the GPU machine (MP-20-sized sets are a few MB).
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from genms.crystal.structure import Crystal, lattice_to_params
from genms.io import atomic_path


@dataclass(frozen=True)
class CrystalArrays:
    frac_coords: np.ndarray
    atomic_numbers: np.ndarray
    lattice: np.ndarray
    n_atoms: np.ndarray
    ids: np.ndarray
    targets: dict[str, np.ndarray] = field(default_factory=dict)
    meta: dict = field(default_factory=dict)

    def __len__(self) -> int:
        return int(self.n_atoms.shape[0])

    @property
    def offsets(self) -> np.ndarray:
        return np.concatenate([[0], np.cumsum(self.n_atoms)]).astype(np.int64)

    @property
    def lattice_params(self) -> np.ndarray:
        return lattice_to_params(self.lattice).astype(np.float32)

    def crystal(self, i: int) -> Crystal:
        o = self.offsets
        s, e = o[i], o[i + 1]
        props = {k: float(v[i]) for k, v in self.targets.items()}
        props["id"] = str(self.ids[i])
        return Crystal(self.frac_coords[s:e], self.atomic_numbers[s:e], self.lattice[i], props)

    def crystals(self) -> list[Crystal]:
        return [self.crystal(i) for i in range(len(self))]

    def subset(self, index: Sequence[int] | np.ndarray) -> CrystalArrays:
        index = np.asarray(index, dtype=np.int64)
        o = self.offsets
        atom_idx = (
            np.concatenate([np.arange(o[i], o[i + 1]) for i in index])
            if len(index)
            else np.zeros(0, np.int64)
        )
        return CrystalArrays(
            self.frac_coords[atom_idx],
            self.atomic_numbers[atom_idx],
            self.lattice[index],
            self.n_atoms[index],
            self.ids[index],
            {k: v[index] for k, v in self.targets.items()},
            dict(self.meta),
        )

    @classmethod
    def from_crystals(
        cls,
        crystals: Iterable[Crystal],
        ids: Sequence[str],
        target_names: Sequence[str] = (),
        meta: dict | None = None,
    ) -> CrystalArrays:
        crystals = list(crystals)
        n_atoms = np.array([c.n_atoms for c in crystals], np.int32)
        frac = (
            np.concatenate([c.frac_coords for c in crystals]).astype(np.float32)
            if crystals
            else np.zeros((0, 3), np.float32)
        )
        # float32 rounding can push 0.99999999 to 1.0: keep the [0, 1) invariant.
        frac[frac >= 1.0] = 0.0
        numbers = (
            np.concatenate([c.atomic_numbers for c in crystals]).astype(np.uint8)
            if crystals
            else np.zeros(0, np.uint8)
        )
        lattice = (
            np.stack([c.lattice for c in crystals]).astype(np.float32)
            if crystals
            else np.zeros((0, 3, 3), np.float32)
        )
        targets = {
            name: np.array([c.properties.get(name, np.nan) for c in crystals], np.float64)
            for name in target_names
        }
        return cls(
            frac, numbers, lattice, n_atoms, np.asarray(list(ids), dtype=str), targets, meta or {}
        )

    @classmethod
    def concatenate(cls, parts: Sequence[CrystalArrays], meta: dict | None = None) -> CrystalArrays:
        names = sorted(set().union(*(p.targets for p in parts))) if parts else []
        return cls(
            np.concatenate([p.frac_coords for p in parts]),
            np.concatenate([p.atomic_numbers for p in parts]),
            np.concatenate([p.lattice for p in parts]),
            np.concatenate([p.n_atoms for p in parts]),
            np.concatenate([p.ids for p in parts]),
            {
                n: np.concatenate([p.targets.get(n, np.full(len(p), np.nan)) for p in parts])
                for n in names
            },
            meta or {},
        )

    def save(self, path: str | Path) -> Path:
        """Atomic write (:func:`genms.io.atomic_path`)."""
        path = Path(path)
        arrays = {
            "frac_coords": self.frac_coords,
            "atomic_numbers": self.atomic_numbers,
            "lattice": self.lattice,
            "n_atoms": self.n_atoms,
            "ids": self.ids,
            "meta_json": np.array(json.dumps(self.meta)),
        }
        for k, v in self.targets.items():
            arrays[f"target__{k}"] = v
        with atomic_path(path) as tmp, open(tmp, "wb") as fh:
            np.savez_compressed(fh, **arrays)
        return path

    @classmethod
    def load(cls, path: str | Path) -> CrystalArrays:
        with np.load(path, allow_pickle=False) as z:
            targets = {k[len("target__") :]: z[k] for k in z.files if k.startswith("target__")}
            return cls(
                z["frac_coords"],
                z["atomic_numbers"],
                z["lattice"],
                z["n_atoms"],
                z["ids"],
                targets,
                json.loads(str(z["meta_json"])),
            )
