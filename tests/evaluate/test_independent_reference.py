"""The shipped uniqueness reference: every data-folder source, and what it lacks."""

from __future__ import annotations

import gzip

from genms.evaluate.uniqueness import (
    INDEPENDENT_SOURCES,
    ReferenceFormulae,
    independent_reference,
    reference_header,
)


def test_independent_reference_covers_every_source():
    ref = independent_reference()
    header = " ".join(reference_header())
    for source in INDEPENDENT_SOURCES:
        assert source in header
    assert "ICSD" in header
    for formula in ("SrTiO3", "C", "MgAl2O4", "Mg2Al4O8"):  # MP, Carbon-24, reduced forms
        assert formula in ref
    assert "Xe9Rn7" not in ref


def test_gzipped_text_reference(tmp_path):
    p = tmp_path / "r.txt.gz"
    with gzip.open(p, "wt") as fh:
        fh.write("# header\nNaCl\nTi2O4\n")
    ref = ReferenceFormulae.from_file(p)
    assert len(ref) == 2 and "TiO2" in ref and "KCl" not in ref
    assert reference_header(p) == ["header"]
