"""Family match with fit_anonymous against reference prototypes."""

from __future__ import annotations

from genms.crystal.convert import to_cif, to_pymatgen
from genms.evaluate.family import FamilyReferences, family_match, family_match_many
from genms.evaluate.matching import structure_matcher
from tests.evaluate.handmade_crystals import perovskite, rocksalt


def test_perovskite_with_other_elements_matches_cubic_prototype():
    refs = FamilyReferences([perovskite()], ["SrTiO3"])
    r = family_match(perovskite(a=4.19, A="Ba", B="Zr", X="O"), refs)
    assert r.matched and r.reference == "SrTiO3"
    assert family_match(perovskite(a=5.6, A="Cs", B="Pb", X="Cl"), refs).matched


def test_other_structure_types_do_not_match_and_are_prefiltered():
    refs = FamilyReferences([perovskite()], ["SrTiO3"])
    r = family_match(rocksalt(), refs)
    assert not r.matched and r.n_compared == 0  # different anonymous formula: never compared


def test_prefiltered_answer_equals_brute_force(perov5, mp20_test):
    protos = [perovskite(), perovskite(a=4.0, A="K", B="Nb", X="O"), rocksalt()]
    refs = FamilyReferences(protos)
    matcher = structure_matcher(0.5, 0.3, 10)
    for c in [*perov5, *mp20_test[:6]]:
        brute = any(matcher.fit_anonymous(to_pymatgen(c), to_pymatgen(p)) for p in protos)
        assert family_match(c, refs).matched == brute
    assert sum(family_match(c, refs).matched for c in perov5) >= 5


def test_many_parallel_equals_serial_and_references_from_cif_folder(tmp_path, perov5):
    (tmp_path / "refs").mkdir()
    (tmp_path / "refs" / "SrTiO3.cif").write_text(to_cif(perovskite()))
    refs = FamilyReferences.from_path(tmp_path / "refs")
    assert len(refs) == 1
    ser = family_match_many(perov5, refs, n_workers=1, progress=False)
    par = family_match_many(perov5, refs, n_workers=2, progress=False)
    assert ser == par
    assert any(r.matched for r in ser) and not all(r.matched for r in ser)
    assert not family_match(None, refs).matched
