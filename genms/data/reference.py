"""The reference formula set: what counts as "known" for the uniqueness check of R_hi.

A formula is known when its reduced formula (pymatgen's, so A2B4 equals AB2, as the paper
defines uniqueness) is in one of the configured datasets (default: every dataset of the data
folder, ``mp_20`` in all splits, ``mp_cgcnn``, ``mpts_52``, ``wbm``, ``perov_5`` and
``carbon_24``) or in a user list (files given in the config, or formulae named in the request:
"not in this list: ...").

This is a partial stand-in for "Materials Project and ICSD": our datasets hold a fraction of
MP's entries and no ICSD, so a formula absent here may still be known elsewhere. Every claim
of novelty is therefore worded for what it is (:meth:`ReferenceFormulae.novelty_claim`: "not
in the 58,934 reference formulae from MP-20, ..."; see ``docs/language.md``).

Templates and family examples (the proposers' raw material) come from ``example_datasets``
(the Materials Project sets by default), not from the hypothetical WBM structures.
"""

from __future__ import annotations

import gzip
import logging
import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

from genms.crystal.composition import canonical_formula
from genms.data.known import (
    ALL_DATASETS,
    MP_DATASETS,
    KnownCompound,
    KnownCompounds,
    ReferenceError,
    dataset_label,
    load_known,
)

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
    datasets: list[str] = field(default_factory=lambda: list(ALL_DATASETS))
    # the datasets whose compounds seed templates and family examples (those of them that are in
    # datasets; all of datasets when none is)
    example_datasets: list[str] = field(default_factory=lambda: list(MP_DATASETS))
    source: str = "auto"  # auto | prepared | sources | shipped
    user_lists: list[str] = field(default_factory=list)  # text files, one formula per line
    user_formulae: list[str] = field(default_factory=list)


class ReferenceFormulae:
    """Known reduced formulae, per dataset, plus a user list.

    ``known`` holds every reference row; ``examples`` the rows that seed templates and family
    examples (default: all of ``known``).
    """

    def __init__(self, known: KnownCompounds, user: Iterable[str] = (), name: str = "",
                 examples: KnownCompounds | None = None) -> None:
        self.known = known
        self.examples = examples if examples is not None and len(examples) else known
        order = sorted(
            known.datasets(),
            key=lambda d: (ALL_DATASETS.index(d) if d in ALL_DATASETS else len(ALL_DATASETS), d),
        )
        self._datasets = {d: known.formulae([d]) for d in order}
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
        return ReferenceFormulae(
            self.known, tuple(self.user) + tuple(formulae), self.name, self.examples
        )

    @classmethod
    def from_formulae(cls, formulae: Iterable[str], dataset: str = "custom") -> ReferenceFormulae:
        """A reference made of a plain formula list (tests, notebooks)."""
        rows = [KnownCompound(f, 0, f"{dataset}-{i}", dataset)
                for i, f in enumerate(filter(None, (canonical_formula(x) for x in formulae)))]
        return cls(KnownCompounds(rows, dataset))

    def source_names(self) -> list[str]:
        """The reference's parts as users read them ("MP-20", "WBM", ..., "your list")."""
        names = [dataset_label(d) for d in self._datasets]
        if self.user:
            names.append("your list")
        return names

    def novelty_claim(self) -> str:
        """What "novel" means here: ``not in the 58,934 reference formulae from MP-20, ...``."""
        return (
            f"not in the {len(self):,} reference formulae from "
            f"{', '.join(self.source_names()) or 'no data'}"
        )

    def origin_phrase(self) -> str:
        """Where the formulae were read: the data folder, the prepared arrays or the table
        shipped in the package (a fresh install without a data folder)."""
        origin = str(self.known.origin)
        if origin == "sources":
            return "read from the data folder"
        if origin == "prepared":
            return "read from the prepared arrays"
        if origin.endswith("known_formulae.tsv.gz"):
            return "the table shipped in the package"
        return f"from {origin}" if origin else "the reference given"

    def known_claim(self, formula: str) -> str:
        """``in WBM, MP-20`` for a formula of the reference ('' when it is not in it)."""
        names = [
            dataset_label(d) if d != "user list" else "your list" for d in self.sources_of(formula)
        ]
        return f"in {', '.join(names)}" if names else ""

    def describe(self) -> str:
        parts = [f"{dataset_label(d)}: {len(s):,}" for d, s in self._datasets.items()]
        if self.user:
            parts.append(f"user list: {len(self.user):,}")
        return (
            f"{len(self):,} reference formulae ({'; '.join(parts) or 'empty'}; from {self.name}); "
            f"novel means not among them"
        )


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
    ref = ReferenceFormulae(known, user, examples=known.select(cfg.example_datasets))
    log.debug("reference: %s", ref.describe())
    return ref
