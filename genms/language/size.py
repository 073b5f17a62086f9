"""Ionic-size rules of crystal families (Shannon radii from pymatgen).

A :class:`SizeRule` is one of

* ``tolerance``: Goldschmidt's tolerance factor t = (r_A + r_X) / (sqrt(2) (r_B + r_X)) of
  perovskite-like families within [lo, hi]; a site group written ``"B|B'"`` uses the mean
  radius of its sites (double perovskites);
* ``ratio``: r(site 1) / r(site 2) within [lo, hi] (pyrochlore A/B, Subramanian's field);
* ``range``: every listed site's radius within [lo, hi] (e.g. small tetrahedral cations).

Radii are Shannon radii at the coordination the rule names, falling back to the nearest
tabulated coordination and then to pymatgen's average ionic radius. A rule whose radius is
unknown passes (it never rejects for lack of data).
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Sequence
from dataclasses import dataclass
from functools import lru_cache

from pymatgen.core import Species

from genms.language.species import Ion

_CN_ORDER = ("IV", "V", "VI", "VII", "VIII", "IX", "X", "XI", "XII")


@dataclass(frozen=True)
class SizeRule:
    kind: str  # tolerance | ratio | range
    sites: tuple[str, ...]  # site labels; "B|B'" averages sites
    lo: float
    hi: float
    cn: tuple[str, ...]  # coordination number per entry of ``sites``

    def describe(self) -> str:
        if self.kind == "tolerance":
            name = "tolerance factor"
        elif self.kind == "ratio":
            name = f"r({self.sites[0]})/r({self.sites[1]})"
        else:
            name = f"r({','.join(self.sites)})"
        return f"{name} in [{self.lo:g}, {self.hi:g}]"


@lru_cache(maxsize=4096)
def shannon_radius(ion: Ion, cn: str) -> float | None:
    """Shannon ionic radius (Å) at coordination ``cn`` (nearest tabulated one if absent)."""
    if ion.charge == 0:
        return None
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # pymatgen warns for every missing table entry
        try:
            sp = Species(ion.element, ion.charge)
        except ValueError:
            return None
        want = _CN_ORDER.index(cn) if cn in _CN_ORDER else 2
        for cand in sorted(
            _CN_ORDER, key=lambda c: (abs(_CN_ORDER.index(c) - want), -_CN_ORDER.index(c))
        ):
            for spin in ("", "High Spin"):  # d4-d7 ions are tabulated per spin state
                try:
                    return float(sp.get_shannon_radius(cn=cand, spin=spin))
                except (KeyError, ValueError, TypeError):
                    continue
        try:
            r = sp.ionic_radius
        except (KeyError, ValueError, TypeError, AttributeError):
            return None
    return float(r) if r else None


def _group_radius(group: str, cn: str, ions_by_label: dict[str, Ion]) -> float | None:
    radii = [
        shannon_radius(ions_by_label[label], cn)
        for label in group.split("|")
        if label in ions_by_label
    ]
    if not radii or any(r is None for r in radii):
        return None
    return sum(radii) / len(radii)  # type: ignore[arg-type]


def rule_value(rule: SizeRule, labels: Sequence[str], ions: Sequence[Ion]) -> float | None:
    """The rule's quantity for the given site assignment (None when a radius is unknown)."""
    by_label = dict(zip(labels, ions, strict=True))
    radii = [_group_radius(g, cn, by_label) for g, cn in zip(rule.sites, rule.cn, strict=True)]
    if any(r is None for r in radii):
        return None
    if rule.kind == "tolerance":
        ra, rb, rx = radii
        return (ra + rx) / (math.sqrt(2.0) * (rb + rx))
    if rule.kind == "ratio":
        return radii[0] / radii[1]
    return max(radii) if rule.hi < math.inf else min(radii)


def rules_pass(rules: Sequence[SizeRule], labels: Sequence[str], ions: Sequence[Ion]) -> bool:
    """True when no rule is violated (unknown radii pass)."""
    for rule in rules:
        if rule.kind == "range":
            by_label = dict(zip(labels, ions, strict=True))
            for g, cn in zip(rule.sites, rule.cn, strict=True):
                v = _group_radius(g, cn, by_label)
                if v is not None and not rule.lo <= v <= rule.hi:
                    return False
        else:
            v = rule_value(rule, labels, ions)
            if v is not None and not rule.lo <= v <= rule.hi:
                return False
    return True


def check_rules(
    rules: Sequence[SizeRule], labels: Sequence[str], ions: Sequence[Ion]
) -> tuple[bool, list[str]]:
    """(all rules pass, one note per rule with its value)."""
    ok = True
    notes = []
    for rule in rules:
        if rule.kind == "range":
            by_label = dict(zip(labels, ions, strict=True))
            vals = [
                _group_radius(g, cn, by_label) for g, cn in zip(rule.sites, rule.cn, strict=True)
            ]
            known = [v for v in vals if v is not None]
            passed = all(rule.lo <= v <= rule.hi for v in known)
            values = ", ".join(f"{v:.2f}" for v in known) if known else "radius unknown"
            notes.append(f"{rule.describe()}: {values}")
        else:
            v = rule_value(rule, labels, ions)
            passed = v is None or rule.lo <= v <= rule.hi
            notes.append(f"{rule.describe()}: {'unknown' if v is None else f'{v:.2f}'}")
        ok = ok and passed
    return ok, notes
