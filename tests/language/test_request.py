"""Request parsing: families, ratios, element constraints, novelty, counts, ignored words,
errors."""

from __future__ import annotations

import pytest

from genms.language.request import ClassConstraint, RequestError, parse_request


def test_family_anion_and_novelty():
    r = parse_request("a novel chloride perovskite")
    assert r.family == "perovskite"
    assert r.required_elements == ("Cl",)
    assert r.novelty == ("known",) and r.novel_vs_databases
    assert r.ratios == ((1, 1, 3),)
    assert r.ignored_words == ()


def test_paper_example_ratio_chalcogenide_icsd():
    r = parse_request("a stable chalcogenide with atom ratio 1:1:2 that is not on ICSD")
    assert r.family is None
    assert r.ratio == (1, 1, 2)
    assert r.any_of_elements == (("S", "Se", "Te"),)
    assert r.novelty == ("icsd",)
    assert r.objectives == ("low formation energy",)


def test_or_group_and_exclusion():
    r = parse_request("a novel perovskite containing Mg or Zn and no lead")
    assert r.any_of_elements == (("Mg", "Zn"),)
    assert r.excluded_elements == ("Pb",)
    assert r.required_elements == ()


def test_and_list_requires_all():
    r = parse_request("a spinel with Mg and Al")
    assert r.required_elements == ("Al", "Mg")


def test_postfix_free_and_count_and_ignored_words():
    r = parse_request("give me 5 lead-free halide perovskites for solar cells")
    assert r.count == 5
    assert r.excluded_elements == ("Pb",)
    assert r.any_of_elements == (("Br", "Cl", "F", "I"),)
    assert [g.name for g in r.unsupported()] == ["solar absorber"]  # said, not silently ignored
    assert parse_request("a pink fluffy perovskite").ignored_words == ("pink", "fluffy")


def test_number_words_and_oxoanion():
    r = parse_request("I want ten new titanates")
    assert r.count == 10
    assert set(r.required_elements) == {"Ti", "O"}


def test_element_classes():
    r = parse_request("a transition metal oxide spinel without rare earths")
    assert ClassConstraint("transition metal", "any") in r.element_classes
    assert ClassConstraint("rare earth", "none") in r.element_classes
    assert parse_request("a novel metal").element_classes == (ClassConstraint("metal", "all"),)
    assert parse_request("a new intermetallic").element_classes == (
        ClassConstraint("metal", "all"),
    )
    # "metal" next to a non-metal asks for at least one metal
    assert parse_request("a metal oxide").element_classes == (ClassConstraint("metal", "any"),)


def test_metal_class_membership():
    c = ClassConstraint("metal", "all")
    assert c.satisfied_by({"Co", "Pt"}) and not c.satisfied_by({"Co", "Si"})


def test_user_list_and_mp_novelty():
    r = parse_request("a spinel not in this list: MgAl2O4, ZnFe2O4, CoFe2O4")
    assert r.novelty == ("user",)
    assert not r.novel_vs_databases and r.wants_novel
    assert len(r.excluded_formulae) == 3 and "MgAl2O4" in r.excluded_formulae
    r = parse_request("a perovskite that is not in Materials Project")
    assert r.novelty == ("mp",)


def test_prototype_notation_and_symbols():
    r = parse_request("A2B2O7 with Sn")
    assert r.ratio == (2, 2, 7)
    assert set(r.required_elements) == {"O", "Sn"}
    r = parse_request("ABX3 with I")  # "I" after an operator is iodine
    assert r.required_elements == ("I",)
    r = parse_request("In a perovskite I want Ba")  # sentence words "In" and "I" are not elements
    assert r.required_elements == ("Ba",)


def test_similar_to_and_hyphenated_family():
    r = parse_request("a half-Heusler like TiNiSn")
    assert r.family == "half-heusler"
    assert r.similar_to == ("TiNiSn",)
    assert parse_request("a novel thiospinel").required_elements == ("S",)


def test_request_is_printable():
    text = str(parse_request("a novel oxide perovskite with Ba, no lead, 5 formulae"))
    assert "perovskite" in text and "Ba" in text and "Pb" in text and "count: 5" in text


@pytest.mark.parametrize("text, fragment", [
    ("", "empty"),
    ("   ", "empty"),
    ("banana sandwich", "could not understand"),
    ("an oxide with no oxygen", "requires O"),
    ("a metal-only perovskite", "anion site"),
    ("a perovskite with atom ratio 1:2:4", "1:1:3"),
    ("a perovskite and a spinel", "2 crystal families"),
    ("a spinel with Mg, Zn, Al and Cr and O", "needs 5"),
    ("a titanate with no transition metals", "excludes every transition metal"),
    ("a metal-only sulfide", "not a metal"),
    ("a perovskite with atom ratio 1:1:3 and 1:2", "two different atom ratios"),
    ("0 perovskites", "out of range"),
])
def test_bad_requests_have_clear_errors(text, fragment):
    with pytest.raises(RequestError, match=fragment):
        parse_request(text)


def test_only_after_a_class_and_mixed_anion_prefixes():
    assert parse_request("a new crystal made of metals only").element_classes == (
        ClassConstraint("metal", "all"),
    )
    assert parse_request("a novel material with only metals").element_classes == (
        ClassConstraint("metal", "all"),
    )
    r = parse_request("a new oxynitride")
    assert set(r.required_elements) == {"N", "O"}
    assert parse_request("a double perovskite").family == "double perovskite"  # longest phrase wins
