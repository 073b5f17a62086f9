"""Strict reply parsing and the versioned prompt templates."""

from __future__ import annotations

import pytest

from genms.language.prompts import PromptError, propose_prompt, rank_prompt, render
from genms.language.replies import parse_formula_list
from genms.language.request import parse_request


def test_shapes_accepted():
    assert parse_formula_list("SrTiO3\nBaTiO3").formulae == ("SrTiO3", "BaTiO3")
    assert parse_formula_list("1. SrTiO3\n2) BaTiO3\n- **CaTiO3**\n* `KNbO3`").formulae == (
        "SrTiO3", "BaTiO3", "CaTiO3", "KNbO3")
    assert parse_formula_list("SrTiO3, BaTiO3; PbTiO3.").formulae == ("SrTiO3", "BaTiO3", "PbTiO3")
    assert parse_formula_list('["Cs2AgBiBr6", "Ca3Al2(SiO4)3"]').formulae == (
        "Cs2AgBiBr6",
        "Ca3Al2(SiO4)3",
    )
    assert parse_formula_list("```\nSrTi₂O₅\n```").formulae == ("SrTi2O5",)


def test_prose_and_junk_rejected():
    parsed = parse_formula_list(
        "Here are some:\nSrTiO3 (strontium titanate)\nXy3O2\nexec('rm -rf /')\nMgO\nMgO"
    )
    assert parsed.formulae == ("MgO",)
    assert "SrTiO3 (strontium titanate)" in parsed.rejected and "Xy3O2" in parsed.rejected
    assert parse_formula_list("").empty and parse_formula_list(None).empty  # type: ignore[arg-type]


def test_prompts_follow_the_paper_and_add_context():
    r = parse_request("a novel chloride perovskite")
    text = propose_prompt(r, "Perovskites are ABX3.", ["CsPbCl3", "KCaCl3"], 20)
    assert text.startswith("Here is some information about a novel chloride perovskite")
    assert "list of 20 chemical formulae" in text and "Materials Project or ICSD" in text
    assert "do not give any of them: CsPbCl3, KCaCl3" in text and text.rstrip().endswith(
        "anything else."
    )
    plain = propose_prompt(parse_request("a perovskite"), "", [], 5)
    assert "Materials Project" not in plain and "\n\n\n" not in plain
    assert "SrTiO3\nBaTiO3" in rank_prompt(r, ["SrTiO3", "BaTiO3"])
    with pytest.raises(PromptError, match="not found"):
        render("propose_formulae", "v999")
    with pytest.raises(PromptError, match="needs a value"):
        render("propose_formulae", "v1", n=3)
