"""Pictures for the run report (matplotlib figures without pyplot: no backend is chosen or changed).

* :func:`draw_crystal` — a ball-and-stick picture of one unit cell as a crystallographer draws
  it: every atom of the cell plus the periodic images of those on faces, edges and corners, and
  (paler) the anions just outside that complete the coordination of the cations inside; bonds
  between atoms closer than ``BOND_FACTOR`` × the sum of their covalent radii (in an ionic
  compound not between two cations); standard Jmol colours, made distinct where two
  elements of one picture would look alike (:func:`element_colours`); the cell edges with
  a, b, c marked; a legend of the elements. Drawn back to front in an orthographic projection,
  so near atoms and bonds hide far ones.
* :func:`draw_energy_distribution` — histogram of predicted formation energies of the kept
  structures and of those the filters dropped, with the top structures marked.
"""

from __future__ import annotations

import itertools
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
from ase.data import chemical_symbols, covalent_radii
from ase.data.colors import jmol_colors
from matplotlib.figure import Figure
from matplotlib.patches import Circle

from genms.crystal.structure import Crystal
from genms.io import atomic_path
from genms.language.elements import electronegativity

#: Bond when the distance is at most this many times the sum of the covalent radii.
BOND_FACTOR = 1.15
#: Ball radius = this × covalent radius (ball-and-stick).
BALL_SCALE = 0.38
#: Fractional distance from a face within which an atom counts as on it (and gets images).
ON_FACE = 0.02
#: Elements read as anions when they decide which pairs may bond (cation–cation pairs do not).
ANIONS = frozenset({"N", "O", "F", "S", "Cl", "Se", "Br", "Te", "I", "H"})
#: Smallest CIE76 colour difference between two elements of one picture.
MIN_COLOUR_DELTA = 22.0


def _save(fig, path: Path, tight: bool = True) -> Path:
    with atomic_path(path) as tmp:
        fig.savefig(tmp, format="png", dpi=110, bbox_inches="tight" if tight else None)
    return path


def _lab(rgb: Sequence[float]) -> np.ndarray:
    """sRGB in [0, 1] -> CIE L*a*b* (D65)."""
    c = np.asarray(rgb, dtype=float)
    c = np.where(c <= 0.04045, c / 12.92, ((c + 0.055) / 1.055) ** 2.4)
    xyz = (
        np.array([[0.4124, 0.3576, 0.1805], [0.2126, 0.7152, 0.0722], [0.0193, 0.1192, 0.9505]]) @ c
    )
    xyz = xyz / np.array([0.95047, 1.0, 1.08883])
    f = np.where(xyz > 0.008856, np.cbrt(xyz), 7.787 * xyz + 16 / 116)
    return np.array([116 * f[1] - 16, 500 * (f[0] - f[1]), 200 * (f[1] - f[2])])


def element_colours(numbers: Sequence[int]) -> dict[int, tuple[float, float, float]]:
    """Jmol colour of every element in ``numbers``, no two alike.

    Elements are taken most electronegative first (so anions keep their familiar colours: O
    red, Cl green); one whose Jmol colour is within ``MIN_COLOUR_DELTA`` (CIE76) of an earlier
    one is darkened or lightened step by step until it stands apart (Ba next to Cl: both Jmol
    green, Ba becomes dark green).
    """

    def priority(z: int) -> tuple[float, int]:
        x = electronegativity(chemical_symbols[z])
        return (-x if x == x else 0.0, z)

    order = sorted({int(z) for z in numbers}, key=priority)
    chosen: dict[int, tuple[float, float, float]] = {}
    for z in order:
        base = np.asarray(jmol_colors[z], dtype=float)
        options = (
            [base]
            + [np.clip(base * f, 0, 1) for f in (0.62, 0.45, 0.3)]
            + [np.clip(base + (1 - base) * f, 0, 1) for f in (0.45, 0.7)]
        )
        best = max(
            options,
            key=lambda c: min(
                (np.linalg.norm(_lab(c) - _lab(o)) for o in chosen.values()), default=np.inf
            ),
        )
        for c in options:
            if all(np.linalg.norm(_lab(c) - _lab(o)) >= MIN_COLOUR_DELTA for o in chosen.values()):
                best = c
                break
        chosen[z] = tuple(float(x) for x in best)
    return chosen


def _as_arrays(structure: Crystal | Any) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(lattice rows, fractional coordinates in [0, 1), atomic numbers) of a Crystal or
    Structure."""
    if isinstance(structure, Crystal):
        lattice, frac, numbers = structure.lattice, structure.frac_coords, structure.atomic_numbers
    else:  # a pymatgen Structure
        lattice = structure.lattice.matrix
        frac = structure.frac_coords
        numbers = np.array([site.specie.Z for site in structure])
    frac = np.mod(np.asarray(frac, dtype=float), 1.0)
    frac[frac > 1 - ON_FACE] -= 1.0  # 0.999 is on the face at 0
    return np.asarray(lattice, dtype=float), frac, np.asarray(numbers, dtype=int)


def cell_atoms(structure: Crystal | Any) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Cartesian positions, atomic numbers and fractional positions of every atom drawn: the
    cell's atoms plus the periodic images of those on faces, edges and corners."""
    lattice, frac, numbers = _as_arrays(structure)
    all_f, all_z = [frac], [numbers]
    for shift in itertools.product((0, 1), repeat=3):
        if shift == (0, 0, 0):
            continue
        s = np.array(shift, dtype=float)
        on_face = np.all((np.abs(frac) < ON_FACE) | (s == 0), axis=1)
        if on_face.any():
            all_f.append(frac[on_face] + s)
            all_z.append(numbers[on_face])
    frac_all = np.concatenate(all_f)
    return frac_all @ lattice, np.concatenate(all_z), frac_all


def _anion_mask(numbers: np.ndarray) -> tuple[np.ndarray, bool]:
    anion = np.array([chemical_symbols[z] in ANIONS for z in numbers])
    return anion, bool(anion.any() and not anion.all())


def bonded_outside(
    structure: Crystal | Any, factor: float = BOND_FACTOR
) -> tuple[np.ndarray, np.ndarray]:
    """Anions just outside the cell that complete the coordination of the cations drawn inside it
    (Cartesian positions, atomic numbers); none for a compound without anions."""
    lattice, frac, numbers = _as_arrays(structure)
    cart_in, z_in, frac_in = cell_atoms(structure)
    anion_in, ionic = _anion_mask(z_in)
    if not ionic:
        return np.zeros((0, 3)), np.zeros(0, dtype=int)
    anion, _ = _anion_mask(numbers)
    shifts = np.array(list(itertools.product((-1, 0, 1), repeat=3)), dtype=float)
    cand_f = (frac[anion][None, :, :] + shifts[:, None, :]).reshape(-1, 3)
    cand_z = np.tile(numbers[anion], len(shifts))
    outside = np.any((cand_f < -ON_FACE) | (cand_f > 1 + ON_FACE), axis=1)
    cand_f, cand_z = cand_f[outside], cand_z[outside]
    if not len(cand_z):
        return np.zeros((0, 3)), np.zeros(0, dtype=int)
    cand_c = cand_f @ lattice
    cations = ~anion_in
    radii = np.asarray(covalent_radii)
    d = np.linalg.norm(cand_c[:, None, :] - cart_in[None, cations, :], axis=-1)
    limit = factor * (radii[cand_z][:, None] + radii[z_in[cations]][None, :])
    keep = np.any(d <= limit, axis=1)
    return cand_c[keep], cand_z[keep]


def bonds(
    cart: np.ndarray, numbers: np.ndarray, factor: float = BOND_FACTOR
) -> list[tuple[int, int]]:
    """Pairs of drawn atoms closer than ``factor`` × the sum of their covalent radii; in a
    compound with anions (O, S, halogens, ...) no cation–cation pairs."""
    radii = np.asarray(covalent_radii)[numbers]
    symbols = [chemical_symbols[z] for z in numbers]
    anion = np.array([s in ANIONS for s in symbols])
    ionic = anion.any() and not anion.all()
    d = np.linalg.norm(cart[:, None, :] - cart[None, :, :], axis=-1)
    limit = factor * (radii[:, None] + radii[None, :])
    out = []
    for i, j in zip(*np.nonzero(np.triu((d <= limit) & (d > 0.1), k=1)), strict=True):
        if ionic and not anion[i] and not anion[j]:
            continue
        out.append((int(i), int(j)))
    return out


def _view(lattice: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Screen axes (right, up, towards the viewer): c up, seen from the front-right, a little
    above."""
    c = lattice[2] / np.linalg.norm(lattice[2])
    phi, theta = np.radians(28.0), np.radians(14.0)
    a = lattice[0] - np.dot(lattice[0], c) * c
    a /= np.linalg.norm(a)
    b = np.cross(c, a)
    toward = np.cos(theta) * (np.sin(phi) * a - np.cos(phi) * b) + np.sin(theta) * c
    toward /= np.linalg.norm(toward)
    right = np.cross(c, toward)
    right /= np.linalg.norm(right)
    up = np.cross(toward, right)
    return right, up, toward


def _flatten(x: Any) -> list:
    if isinstance(x, list | tuple):
        return [a for item in x for a in _flatten(item)]
    return [x]


def draw_crystal(structure: Crystal | Any, path: str | Path, title: str = "") -> Path:
    """A PNG of one unit cell of ``structure`` (a :class:`Crystal` or pymatgen ``Structure``);
    see the module docstring for what is drawn."""
    lattice, _, _ = _as_arrays(structure)
    cart_in, z_in, _ = cell_atoms(structure)
    cart_out, z_out = bonded_outside(structure)
    cart, z_all = np.concatenate([cart_in, cart_out]), np.concatenate([z_in, z_out])
    inside = np.arange(len(z_all)) < len(z_in)
    right, up, toward = _view(lattice)
    colours = element_colours(z_in)
    radius = BALL_SCALE * np.asarray(covalent_radii)[z_all]

    def project(p: np.ndarray) -> np.ndarray:
        return np.stack([p @ right, p @ up], axis=-1)

    xy, depth = project(cart), cart @ toward
    items: list[tuple[float, int, Any]] = []  # (depth, layer, draw function)
    corners = np.array(list(itertools.product((0, 1), repeat=3)), dtype=float)
    for i, j in itertools.combinations(range(8), 2):
        if np.abs(corners[i] - corners[j]).sum() == 1:
            seg = corners[[i, j]] @ lattice
            sxy = project(seg)
            items.append(
                (
                    float(seg.mean(axis=0) @ toward) - 0.01,
                    0,
                    lambda ax, sxy=sxy: ax.plot(
                        sxy[:, 0], sxy[:, 1], color="0.35", lw=0.9, zorder=0, solid_capstyle="round"
                    ),
                )
            )
    for i, j in bonds(cart, z_all):
        if not (inside[i] or inside[j]):
            continue
        vec = cart[j] - cart[i]
        length = np.linalg.norm(vec)
        if length <= radius[i] + radius[j]:
            continue
        unit = vec / length
        start, end = cart[i] + unit * radius[i] * 0.9, cart[j] - unit * radius[j] * 0.9
        mid = (start + end) / 2
        for a_, b_, z in ((start, mid, z_all[i]), (mid, end, z_all[j])):
            seg = project(np.stack([a_, b_]))
            items.append(
                (
                    float(((a_ + b_) / 2) @ toward),
                    1,
                    lambda ax, seg=seg, col=colours[z]: (
                        ax.plot(seg[:, 0], seg[:, 1], color="0.15", lw=4.2, solid_capstyle="butt"),
                        ax.plot(seg[:, 0], seg[:, 1], color=col, lw=3.0, solid_capstyle="butt"),
                    ),
                )
            )
    for k in range(len(z_all)):
        # atoms outside the cell (completing a cation's coordination) are drawn paler
        face = (
            colours[z_all[k]] if inside[k] else tuple(0.45 * np.asarray(colours[z_all[k]]) + 0.55)
        )
        items.append(
            (
                float(depth[k]),
                2,
                lambda ax, k=k, face=face: (
                    ax.add_patch(
                        Circle(
                            xy[k],
                            radius[k],
                            facecolor=face,
                            edgecolor="0.1" if inside[k] else "0.45",
                            lw=0.7,
                        )
                    ),
                    ax.add_patch(
                        Circle(
                            xy[k] + np.array([-0.3, 0.3]) * radius[k],
                            0.32 * radius[k],
                            facecolor="white",
                            edgecolor="none",
                            alpha=0.35,
                        )
                    ),
                ),
            )
        )

    # a fixed canvas (every picture the same size and scale in a grid): title above, legend below
    fig = Figure(figsize=(4.0, 4.4))
    ax = fig.add_axes((0.02, 0.09, 0.96, 0.83))
    zorder = 0
    for zorder, (_, _, draw) in enumerate(sorted(items, key=lambda t: (t[0], t[1])), start=1):
        for artist in _flatten(draw(ax)):
            artist.set_zorder(zorder)
    # the a, b, c directions as a small triad in the lower left corner
    base = np.array([0.06, 0.08])
    for vec, name, col in zip(lattice, "abc", ("#c0392b", "#27ae60", "#2e5cb8"), strict=True):
        d2 = np.array([vec @ right, vec @ up])
        n = np.linalg.norm(vec)
        d2 = d2 / n * 0.075 if n > 0 else d2
        ax.annotate(
            "",
            xy=base + d2,
            xytext=base,
            xycoords="axes fraction",
            arrowprops={"arrowstyle": "-|>", "color": col, "lw": 1.2, "shrinkA": 0, "shrinkB": 0},
            zorder=zorder + 1,
        )
        ax.annotate(
            name,
            base + d2 * 1.35,
            xycoords="axes fraction",
            fontsize=8.5,
            style="italic",
            color=col,
            ha="center",
            va="center",
            zorder=zorder + 1,
        )
    pad = radius.max() + 0.3
    allxy = np.concatenate([xy, project(corners @ lattice)])
    lo, hi = allxy.min(axis=0) - pad, allxy.max(axis=0) + pad
    box = ax.get_position()
    fw, fh = fig.get_size_inches()
    shape = (box.width * fw) / (box.height * fh)  # width / height of the drawing area
    span = np.maximum(hi - lo, [(hi - lo)[1] * shape, (hi - lo)[0] / shape])
    centre = (lo + hi) / 2
    ax.set_xlim(centre[0] - span[0] / 2, centre[0] + span[0] / 2)
    ax.set_ylim(centre[1] - span[1] / 2, centre[1] + span[1] / 2)
    ax.set_aspect("equal")
    ax.set_axis_off()
    for z in colours:
        ax.scatter([], [], s=60, color=colours[z], edgecolors="0.1", label=chemical_symbols[z])
    fig.legend(
        *ax.get_legend_handles_labels(),
        loc="lower center",
        bbox_to_anchor=(0.5, 0.005),
        ncol=min(6, len(colours)),
        fontsize=10.5,
        frameon=False,
        handletextpad=0.1,
        columnspacing=1.0,
        markerscale=1.2,
    )
    if title:
        fig.suptitle(title, fontsize=11.5, y=0.975)
    return _save(fig, Path(path), tight=False)


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
