"""Pictures for the run report (matplotlib figures without pyplot: no backend is chosen or changed).

* :func:`draw_crystal` — a 3D ball-and-cell picture of one structure: atoms in the unit cell
  (Jmol colours, sizes from covalent radii), the cell edges, and a legend of elements.
* :func:`draw_energy_distribution` — histogram of predicted formation energies of the kept
  structures and of those the filters dropped, with the top structures marked.
"""

from __future__ import annotations

import itertools
from collections.abc import Sequence
from pathlib import Path

import numpy as np
from ase.data import chemical_symbols, covalent_radii
from ase.data.colors import jmol_colors
from matplotlib.figure import Figure

from genms.crystal.structure import Crystal
from genms.io import atomic_path


def _save(fig, path: Path) -> Path:
    with atomic_path(path) as tmp:
        fig.savefig(tmp, format="png", dpi=110, bbox_inches="tight")
    return path


def draw_crystal(crystal: Crystal, path: str | Path, title: str = "") -> Path:
    """A PNG of ``crystal``: one unit cell, atoms on the cell faces repeated for readability."""
    lattice = crystal.lattice
    frac, numbers = crystal.frac_coords, crystal.atomic_numbers
    # Repeat atoms that sit on a face/edge/corner (frac ~ 0) onto the opposite side.
    images_f, images_z = [frac], [numbers]
    for shift in itertools.product((0, 1), repeat=3):
        if shift == (0, 0, 0):
            continue
        s = np.array(shift, dtype=float)
        on_face = np.all((frac < 1e-3) | (s == 0), axis=1)
        if on_face.any():
            images_f.append(frac[on_face] + s)
            images_z.append(numbers[on_face])
    frac_all, z_all = np.concatenate(images_f), np.concatenate(images_z)
    cart = frac_all @ lattice

    fig = Figure(figsize=(4, 4))
    ax = fig.add_subplot(111, projection="3d")
    corners = np.array(list(itertools.product((0, 1), repeat=3)), dtype=float)
    for i, j in itertools.combinations(range(8), 2):
        if np.abs(corners[i] - corners[j]).sum() == 1:
            seg = corners[[i, j]] @ lattice
            ax.plot(seg[:, 0], seg[:, 1], seg[:, 2], color="0.4", lw=0.8)
    order = np.argsort(cart[:, 1])  # crude depth ordering for the painter
    sizes = 260 * np.asarray(covalent_radii)[z_all] ** 2
    ax.scatter(
        cart[order, 0],
        cart[order, 1],
        cart[order, 2],
        s=sizes[order],
        c=np.asarray(jmol_colors)[z_all[order]],
        edgecolors="k",
        linewidths=0.4,
        depthshade=False,
    )
    for z in sorted(set(numbers.tolist())):
        ax.scatter([], [], [], s=40, c=[jmol_colors[z]], edgecolors="k", label=chemical_symbols[z])
    ax.legend(loc="upper left", fontsize=7, frameon=False)
    span = np.ptp(np.concatenate([cart, corners @ lattice]), axis=0).max()
    centre = (corners @ lattice).mean(axis=0)
    for set_lim, c in zip((ax.set_xlim, ax.set_ylim, ax.set_zlim), centre, strict=True):
        set_lim(c - span / 2, c + span / 2)
    ax.set_axis_off()
    if title:
        ax.set_title(title, fontsize=9)
    return _save(fig, Path(path))


def draw_energy_distribution(
    kept: Sequence[float], dropped: Sequence[float], top: Sequence[float], path: str | Path
) -> Path:
    """Histogram of formation energies (eV/atom); ``top`` are marked with vertical lines."""
    fig = Figure(figsize=(5.5, 3.2))
    ax = fig.subplots()
    finite = [e for e in list(kept) + list(dropped) if np.isfinite(e)]
    bins = np.histogram_bin_edges(finite, bins=30) if finite else 10
    if len(kept):
        ax.hist(kept, bins=bins, color="tab:blue", alpha=0.8, label=f"kept ({len(kept)})")
    dropped_f = [e for e in dropped if np.isfinite(e)]
    if dropped_f:
        ax.hist(
            dropped_f,
            bins=bins,
            color="tab:gray",
            alpha=0.6,
            label=f"filtered out ({len(dropped_f)})",
        )
    for i, e in enumerate(top):
        ax.axvline(
            e, color="tab:red", lw=0.8, alpha=0.8, label="top structures" if i == 0 else None
        )
    ax.set_xlabel("predicted formation energy (eV/atom)")
    ax.set_ylabel("structures")
    ax.legend(fontsize=8, frameon=False)
    return _save(fig, Path(path))
