"""``DataConfig``: the typed schema of the ``data`` node in ``conf/data.yaml``.

Every value that changes the prepared arrays (``niggli``, ``canonical_orientation``,
``max_atoms``, the mp_cgcnn split, the union's ``symprec``, match time limit and held-out test
splits) enters the prepared file's fingerprint; values that only change how the work is done
(``workers``, ``chunksize``, ``progress``) do not.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from genms.configs import ranged
from genms.paths import user_cache_dir

#: Where ``genms data download`` fetches from (the URL path appended is ``<repo>/<commit>/<file>``).
UPSTREAM_BASE_URL = "https://raw.githubusercontent.com"
#: The test splits the MP union can be kept free of (``data.union_holdout``), in the order the
#: union applies them; ``mp_20_test`` is the union's own test split and is always held out.
UNION_HOLDOUTS = ("mp_20_test", "mpts_52_test")


class DataNotPreparedError(FileNotFoundError):
    """The prepared file is missing: the message gives the command that builds it."""


@dataclass(frozen=True)
class DataConfig:
    """Settings of ``genms data prepare|download|union``.

    Attributes:
      niggli: Niggli-reduce every cell (as CDVAE/DiffCSP do).
      canonical_orientation: after reduction, rotate the cell to pymatgen's standard
        orientation (``Lattice.from_parameters``), so the stored matrix is a function of
        the six lattice parameters; a left-handed cell is first turned right-handed with
        the basis (-a, -b, -c), which describes the same crystal.
      max_atoms: one maximum for every dataset of this command; ``None`` uses each
        dataset's default (see ``genms.data.sources.DATASETS``).
      workers: parsing processes (0 parses in this process).
      chunksize: rows per task sent to a worker.
      progress: show tqdm progress bars.
      cif_dir: the folder of ``*.cif`` files read by the ``cif_dir`` dataset.
      download_base_url: base URL for ``genms data download`` (a mirror or a test server).
      download_timeout_s: socket timeout of one download.
      cgcnn_seed: seed of the fixed 80/10/10 permutation of mp_cgcnn.
      cgcnn_min_formation_energy: mp_cgcnn rows below this (eV/atom) are dropped before the split.
      union_symprec: spglib tolerance (Å) for space groups computed for the MP union.
      union_match_timeout_s: wall-clock limit of one StructureMatcher comparison of the MP
        union's test-structure rule (a comparison past it counts as no match).
      union_holdout: the benchmark test splits the MP union is kept free of, by material id,
        reduced formula + space group and structure match (a subset of ``UNION_HOLDOUTS``
        that names ``mp_20_test``; order does not matter).
      parse_cache_dir: parsed-source cache (``auto``: ~/.cache/genms/parsed); it is separate
        from ``paths.cache_dir`` so that the prepared folder stays small.
      force: rebuild even when the fingerprint matches.
    """

    niggli: bool = True
    canonical_orientation: bool = True
    max_atoms: int | None = ranged(None, 1, 1000)
    workers: int = ranged(2, 0, 1024)
    chunksize: int = ranged(64, 1, 1_000_000)
    progress: bool = True
    cif_dir: str | None = None
    download_base_url: str = UPSTREAM_BASE_URL
    download_timeout_s: float = ranged(60.0, 0, 86_400, lo_open=True)
    cgcnn_seed: int = ranged(0, 0, 2**32 - 1)
    cgcnn_min_formation_energy: float = ranged(-5.0, -100, 100)
    union_symprec: float = ranged(0.1, 0, 10, lo_open=True)
    union_match_timeout_s: float = ranged(10.0, 0, 86_400, lo_open=True)
    union_holdout: list[str] = field(default_factory=lambda: list(UNION_HOLDOUTS))
    parse_cache_dir: str = "auto"
    force: bool = False

    def __post_init__(self) -> None:
        check_union_holdout(self.union_holdout)

    def parse_settings(self) -> dict:
        """The settings that change how one CIF becomes arrays (part of every fingerprint)."""
        return {"niggli": self.niggli, "canonical_orientation": self.canonical_orientation}


def check_union_holdout(names: list[str]) -> None:
    """Refuse an unknown, repeated or missing held-out test split (``data.union_holdout``)."""
    names = list(names)
    unknown = [n for n in names if n not in UNION_HOLDOUTS]
    if unknown or len(set(names)) < len(names) or UNION_HOLDOUTS[0] not in names:
        raise ValueError(
            f"data.union_holdout={names} must list distinct names from "
            f"{', '.join(UNION_HOLDOUTS)}, {UNION_HOLDOUTS[0]} included (the union's own test "
            "split)"
        )


def resolve_parse_cache_dir(value: str | None) -> Path:
    """``auto``: the user cache's ``parsed`` folder."""
    if value and value != "auto":
        return Path(value).expanduser()
    return user_cache_dir() / "parsed"
