"""The request test set (tests/language/requests.yaml): every request reads as expected."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from genms.crystal.composition import canonical_formula
from genms.language.request import RequestError, parse_request

CASES = yaml.safe_load((Path(__file__).with_name("requests.yaml")).read_text(encoding="utf-8"))
KEYS = {
    "text",
    "family",
    "ratio",
    "required",
    "excluded",
    "any_of",
    "classes",
    "novelty",
    "count",
    "n_elements",
    "similar",
    "excluded_formulae",
    "preferred",
    "avoided",
    "preferred_any_of",
    "preferred_classes",
    "oxidation",
    "sites",
    "properties",
    "notes",
    "ignored",
    "error",
}


def test_the_set_is_large_and_well_formed():
    assert len(CASES) >= 60
    texts = [c["text"] for c in CASES]
    assert len(set(texts)) == len(texts)
    for case in CASES:
        assert set(case) <= KEYS, set(case) - KEYS


def _groups(groups) -> list[tuple[str, ...]]:
    return sorted(tuple(sorted(g)) for g in groups)


@pytest.mark.parametrize("case", CASES, ids=[c["text"][:60] for c in CASES])
def test_request(case):
    if "error" in case:
        with pytest.raises(RequestError) as info:
            parse_request(case["text"])
        assert case["error"] in str(info.value)
        return
    r = parse_request(case["text"])
    got = {
        "family": r.family,
        "ratio": list(r.ratio) if r.ratio else None,
        "required": sorted(r.required_elements),
        "excluded": sorted(r.excluded_elements),
        "any_of": _groups(r.any_of_elements),
        "classes": sorted(f"{c.name}:{c.mode}" for c in r.element_classes),
        "novelty": list(r.novelty),
        "count": r.count,
        "n_elements": r.n_elements,
        "similar": list(r.similar_to),
        "excluded_formulae": sorted(r.excluded_formulae),
        "preferred": sorted(r.preferred_elements),
        "avoided": sorted(r.avoided_elements),
        "preferred_any_of": _groups(r.preferred_any_of),
        "preferred_classes": sorted(f"{c.name}:{c.mode}" for c in r.preferred_classes),
        "oxidation": sorted(str(o) for o in r.oxidation),
        "sites": sorted(str(s) for s in r.sites),
        "properties": [f"{g.detail}:{g.level}" for g in r.property_goals()],
        "ignored": list(r.ignored_words),
    }
    for key, want in case.items():
        if key in ("text", "notes"):
            continue
        if key in ("any_of", "preferred_any_of"):
            want = _groups(want)
        elif key in (
            "required",
            "excluded",
            "classes",
            "excluded_formulae",
            "preferred",
            "avoided",
            "preferred_classes",
            "oxidation",
            "sites",
        ):
            want = sorted(want)
        elif key == "properties":
            want = list(want)
        if key in ("excluded_formulae", "similar"):
            want = sorted(canonical_formula(f) for f in want)
            got[key] = sorted(canonical_formula(f) for f in got[key])
        assert got[key] == want, f"{key}: {got[key]!r} != {want!r}\n{r}"
    for note in case.get("notes", []):
        assert any(note in n for n in r.notes), (note, r.notes)
    if case.get("notes") is None:
        text = str(r)
        for goal in r.unsupported():  # what cannot be done offline is said in the printout
            assert "cannot do this offline" in text and goal.detail in text
