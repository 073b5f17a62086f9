"""Hand-built crystals (rock salt, CsCl, fluorite, perovskite) and fixture loaders for the metric
tests."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from genms.crystal.composition import atomic_numbers_for
from genms.crystal.convert import from_cif
from genms.crystal.structure import Crystal

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures"
SHARED_DATA = Path(__file__).resolve().parents[2].parent / "shared" / "data"

FCC = np.array([[0, 0, 0], [0, 0.5, 0.5], [0.5, 0, 0.5], [0.5, 0.5, 0]])


def z(symbol: str) -> int:
    return int(atomic_numbers_for(symbol)[0])


def rocksalt(a: float = 5.64, cation: str = "Na", anion: str = "Cl") -> Crystal:
    """Conventional 8-atom rock-salt cell."""
    frac = np.concatenate([FCC, FCC + 0.5])
    numbers = [z(cation)] * 4 + [z(anion)] * 4
    return Crystal(frac, numbers, np.eye(3) * a)


def rocksalt_primitive(a: float = 5.64, cation: str = "Na", anion: str = "Cl") -> Crystal:
    lattice = 0.5 * a * np.array([[0, 1, 1], [1, 0, 1], [1, 1, 0]], dtype=float)
    return Crystal([[0, 0, 0], [0.5, 0.5, 0.5]], [z(cation), z(anion)], lattice)


def cscl(a: float = 3.3, cation: str = "Na", anion: str = "Cl") -> Crystal:
    return Crystal([[0, 0, 0], [0.5, 0.5, 0.5]], [z(cation), z(anion)], np.eye(3) * a)


def fluorite(a: float = 5.46, cation: str = "Ca", anion: str = "F") -> Crystal:
    """Conventional 12-atom fluorite (CaF2) cell."""
    anions = np.array([[x, y, w] for x in (0.25, 0.75) for y in (0.25, 0.75) for w in (0.25, 0.75)])
    frac = np.concatenate([FCC, anions])
    return Crystal(frac, [z(cation)] * 4 + [z(anion)] * 8, np.eye(3) * a)


def perovskite(a: float = 3.905, A: str = "Sr", B: str = "Ti", X: str = "O") -> Crystal:
    """Cubic Pm-3m ABX3, 5 atoms."""
    frac = [[0, 0, 0], [0.5, 0.5, 0.5], [0.5, 0.5, 0], [0.5, 0, 0.5], [0, 0.5, 0.5]]
    return Crystal(frac, [z(A), z(B), z(X), z(X), z(X)], np.eye(3) * a)


def perturb(
    c: Crystal, sigma: float, seed: int = 0, permute: bool = True, shift: bool = True
) -> Crystal:
    """Gaussian Cartesian noise (Å), a random site order and a rigid translation."""
    rng = np.random.default_rng(seed)
    cart = c.cart_coords + rng.normal(0.0, sigma, size=(c.n_atoms, 3))
    frac = cart @ np.linalg.inv(c.lattice)
    if shift:
        frac = frac + rng.random(3)
    order = rng.permutation(c.n_atoms) if permute else np.arange(c.n_atoms)
    return Crystal(frac[order], c.atomic_numbers[order], c.lattice)


def load_fixture(name: str, n: int | None = None) -> list[Crystal]:
    df = pd.read_csv(FIXTURES / name)
    rows = df if n is None else df.head(n)
    return [
        from_cif(cif, {"id": str(mid)})
        for mid, cif in zip(rows["material_id"], rows["cif"], strict=True)
    ]
