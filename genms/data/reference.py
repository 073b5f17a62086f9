"""The reference formula set: what counts as "known" for the uniqueness check of R_hi.

A formula is known when its reduced formula (pymatgen's, so A2B4 equals AB2, as the paper
defines uniqueness) is in one of the configured datasets (default: the Materials Project
data we have, ``mp_20`` + ``mp_cgcnn`` + ``mpts_52``) or in a user list (files given in the
config, or formulae named in the request: "not in this list: ...").

This is a partial stand-in for "Materials Project and ICSD": our datasets hold roughly a
third of MP's entries, so a formula novel here may still be known elsewhere (see
``docs/language.md``).
"""

from __future__ import annotations

import gzip
import logging
import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

from genms.crystal.composition import canonical_formula
from genms.data.known import MP_DATASETS, KnownCompound, KnownCompounds, ReferenceError, load_known

log = logging.getLogger(__name__)

__all__ = [
    "ReferenceConfig",
    "ReferenceError",
    "ReferenceFormulae",
    "load_reference",
    "read_formula_list",
]


@dataclass(frozen=True)
class ReferenceConfig:
    datasets: list[str] = field(default_factory=lambda: list(MP_DATASETS))
    source: str = "auto"  # auto | prepared | sources | shipped
    user_lists: list[str] = field(default_factory=list)  # text files, one formula per line
    user_formulae: list[str] = field(default_factory=list)


class ReferenceFormulae:
    """Known reduced formulae, per dataset, plus a user list."""

    def __init__(self, known: KnownCompounds, user: Iterable[str] = (), name: str = "") -> None:
        self.known = known
        self._datasets = {d: known.formulae([d]) for d in known.datasets()}
        self._all = frozenset().union(*self._datasets.values()) if self._datasets else frozenset()
        self.user = frozenset(f for f in (canonical_formula(u) for u in user) if f)
        self.name = name or known.origin

    def __len__(self) -> int:
        return len(self._all | self.user)

    def __contains__(self, formula: str) -> bool:
        key = canonical_formula(formula)
        return key is not None and (key in self._all or key in self.user)

    @property
    def datasets(self) -> tuple[str, ...]:
        return tuple(self._datasets)

    def n_dataset_formulae(self) -> int:
        return len(self._all)

    def in_datasets(self, formula: str) -> bool:
        key = canonical_formula(formula)
        return key is not None and key in self._all

    def in_user_list(self, formula: str, extra: Iterable[str] = ()) -> bool:
        key = canonical_formula(formula)
        if key is None:
            return False
        return key in self.user or key in {canonical_formula(e) for e in extra}

    def sources_of(self, formula: str) -> tuple[str, ...]:
        key = canonical_formula(formula)
        out = [d for d, s in self._datasets.items() if key in s]
        if key in self.user:
            out.append("user list")
        return tuple(out)

    def with_user(self, formulae: Iterable[str]) -> ReferenceFormulae:
        """A copy whose user list also holds ``formulae``."""
        return ReferenceFormulae(self.known, tuple(self.user) + tuple(formulae), self.name)

    @classmethod
    def from_formulae(cls, formulae: Iterable[str], dataset: str = "custom") -> ReferenceFormulae:
        """A reference made of a plain formula list (tests, notebooks)."""
        rows = [KnownCompound(f, 0, f"{dataset}-{i}", dataset)
                for i, f in enumerate(filter(None, (canonical_formula(x) for x in formulae)))]
        return cls(KnownCompounds(rows, dataset))

    def describe(self) -> str:
        parts = [f"{d}: {len(s):,}" for d, s in self._datasets.items()]
        if self.user:
            parts.append(f"user list: {len(self.user):,}")
        return f"{len(self):,} known formulae ({'; '.join(parts) or 'empty'}; from {self.name})"


def read_formula_list(path: str | Path) -> list[str]:
    """Formulae from a text file (``.gz`` allowed): one or more per line, '#' starts a comment."""
    path = Path(path).expanduser()
    if not path.is_file():
        raise ReferenceError(f"formula list {path} does not exist")
    opener = gzip.open if path.suffix == ".gz" else open
    out = []
    with opener(path, "rt") as fh:
        for lineno, line in enumerate(fh, 1):
            for item in re.split(r"[,\s;]+", line.split("#", 1)[0].strip()):
                if not item:
                    continue
                key = canonical_formula(item)
                if key is None:
                    raise ReferenceError(f"{path}:{lineno}: {item!r} is not a chemical formula")
                out.append(key)
    return out


def load_reference(cfg: ReferenceConfig, data_dir: str | None = "auto",
                   cache_dir: str | Path | None = "auto") -> ReferenceFormulae:
    """Build the reference from the configured datasets and user lists."""
    known = load_known(tuple(cfg.datasets), cfg.source, data_dir, cache_dir)
    user: list[str] = []
    for path in cfg.user_lists:
        user.extend(read_formula_list(path))
    for item in cfg.user_formulae:
        key = canonical_formula(item)
        if key is None:
            raise ReferenceError(f"reference.user_formulae: {item!r} is not a chemical formula")
        user.append(key)
    ref = ReferenceFormulae(known, user)
    log.debug("reference: %s", ref.describe())
    return ref
