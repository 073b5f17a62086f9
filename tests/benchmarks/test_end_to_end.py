"""`genms eval end-to-end` on fakes: metrics per family and the JSON layout."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from genms.benchmarks import end_to_end
from genms.benchmarks.end_to_end import EndToEndConfig, FamilyRequest, run_end_to_end
from genms.benchmarks.families import FamilyRefs, distinct_prototypes
from genms.crystal.structure import Crystal
from genms.data.reference import ReferenceFormulae
from genms.evaluate.family import FamilyReferences
from genms.parallel.executor import SerialExecutor
from genms.search.api import GenMS
from genms.search.config import SearchConfig
from genms.search.language import LanguageLevel
from genms.search.tree import energy_worker, sampler_worker
from genms.validate.inputs import end_to_end_runs
from tests.search.fakes import CubicPerovskiteSampler, FakePredictor, FakeProposer, FakeScorer


def cubic_srtio3() -> Crystal:
    frac = [[0, 0, 0], [0.5, 0.5, 0.5], [0.5, 0.5, 0], [0.5, 0, 0.5], [0, 0.5, 0.5]]
    return Crystal(frac, [38, 22, 8, 8, 8], np.eye(3) * 3.9)


@pytest.fixture
def patched(monkeypatch):
    def from_config(cls, cfg):
        language = LanguageLevel(
            FakeProposer(["SrTiO3", "BaTiO3", "KNbO3", "LaAlO3"]),
            FakeScorer(),
            reference=ReferenceFormulae.from_formulae(["SrTiO3", "BaTiO3"]),
        )
        return cls(
            language,
            sampler_worker(CubicPerovskiteSampler()),
            energy_worker(FakePredictor()),
            SerialExecutor(),
            cfg.search,
        )

    monkeypatch.setattr(GenMS, "from_config", classmethod(from_config))

    def refs(family, paths=None, max_references=None, datasets=None, distinct=False,
             source="prototypes"):
        return FamilyRefs(
            family, FamilyReferences([cubic_srtio3()], ["SrTiO3"]), 1, 1, (221,), "test"
        )

    monkeypatch.setattr("genms.benchmarks.end_to_end.family_references", refs)


def test_end_to_end_report(patched, tmp_path):
    out = tmp_path / "end_to_end.json"
    cfg = EndToEndConfig(
        families=[FamilyRequest("perovskite", "a novel perovskite")],
        output=str(out),
        search=SearchConfig(H=4, W=4, L=2),
        match_workers=1,
        run_dir=str(tmp_path / "runs"),
        evaluate="best_per_formula",
        uniqueness_reference="rhi",
    )
    run_end_to_end(cfg, command="genms eval end-to-end")
    report = json.loads(out.read_text())
    entry = report["perovskite"]
    for key in (
        "cif_validity",
        "structural_validity",
        "composition_validity",
        "uniqueness",
        "match_rate",
        "e_form_gnn",
        "timing",
    ):
        assert key in entry
    assert entry["n_structures"] == 4  # one per expanded formula (Algorithm 1's answer)
    assert entry["cif_validity"] == 1.0 and entry["structural_validity"] == 1.0
    assert entry["match_rate"] == 1.0  # ideal cubic cells match the SrTiO3 prototype anonymously
    assert entry["uniqueness"] == 0.5  # SrTiO3 and BaTiO3 are in the reference set
    assert entry["sampled"]["n_structures"] == 8
    assert entry["timing"]["n_sampled"] == 8 and entry["timing"]["search_s"] > 0
    assert entry["paper_genms"]["match_rate"] == 0.93
    assert report["meta"]["command"] == "genms eval end-to-end"
    # the report names each family's run folder, so `genms validate end_to_end.json` finds it
    assert report["meta"]["run_dir"] == str((tmp_path / "runs").resolve())
    assert end_to_end_runs(out) == {"perovskite": Path(report["meta"]["run_dir"]) / "perovskite"}


def test_evaluate_option_and_bad_config():
    with pytest.raises(ValueError, match="evaluate must be one of"):
        EndToEndConfig(evaluate="everything")
    assert end_to_end.EVALUATE == ("top_k", "best_per_formula", "kept", "sampled")
    with pytest.raises(ValueError, match="returned"):
        EndToEndConfig(returned=0)


def test_family_z():
    fam = FamilyRequest("pyrochlore", "a pyrochlore")
    assert end_to_end.family_formula_units(fam, []) == [2]  # 22 atoms: Z=2 of A2B2O7
    assert end_to_end.family_formula_units(FamilyRequest("spinel", "x"), []) == [2]  # 14 atoms
    assert end_to_end.family_formula_units(FamilyRequest("perovskite", "x"), []) == [1, 2, 4]
    assert end_to_end.family_formula_units(FamilyRequest("garnet", "x"), [1]) == [1]
    assert end_to_end.family_formula_units(FamilyRequest("spinel", "x", [1]), []) == [1]


def test_top_k_answer_and_sampled_columns(patched, tmp_path):
    out = tmp_path / "end_to_end.json"
    cfg = EndToEndConfig(
        families=[FamilyRequest("perovskite", "a novel perovskite", [1])],
        output=str(out),
        search=SearchConfig(H=4, W=4, L=2),
        match_workers=1,
        returned=3,
    )
    report = run_end_to_end(cfg)
    entry = json.loads(out.read_text())["perovskite"]
    assert entry["evaluated"] == "top_k" and entry["n_structures"] == 3
    assert entry["returned_target"] == 3 and entry["formula_units"] == [1]
    for key in ("match_rate", "structural_validity", "composition_validity"):
        assert 0.0 <= entry[key] <= 1.0
        lo, hi = entry[f"{key}_ci"]
        assert lo <= entry[key] <= hi
        assert f"{key}_ci" in entry["sampled"]
    assert entry["sampled"]["n_structures"] == 8 and entry["sampled"]["match_rate"] == 1.0
    assert report["perovskite"]["match_rate_ci"] == entry["match_rate_ci"]
    # the independent reference holds every data-folder formula: all four fakes are known
    assert entry["uniqueness"] == 0.0 and entry["sampled"]["uniqueness"] == 0.0
    info = report["meta"]["uniqueness_reference"]
    assert info["n_formulae"] > 50000 and any("ICSD" in h for h in info["header"])


def test_custom_uniqueness_reference(patched, tmp_path):
    ref = tmp_path / "ref.txt"
    ref.write_text("# mine\nSrTiO3\n")
    cfg = EndToEndConfig(families=[FamilyRequest("perovskite", "a perovskite", [1])],
                         output=str(tmp_path / "e.json"), search=SearchConfig(H=4, W=4, L=2),
                         match_workers=1, returned=4, uniqueness_reference=str(ref))
    report = run_end_to_end(cfg)
    assert report["perovskite"]["sampled"]["uniqueness"] == 0.75  # 2 of 8 are SrTiO3
    assert report["meta"]["uniqueness_reference"]["header"] == ["mine"]


def test_distinct_prototypes_drop_anonymous_duplicates():
    srtio3 = cubic_srtio3()
    batio3 = Crystal(srtio3.frac_coords, [56, 22, 8, 8, 8], np.eye(3) * 4.0)  # same prototype
    rocksalt = Crystal(
        [[0, 0, 0], [0.5, 0.5, 0.5]],
        [11, 17],
        np.array([[0, 2.8, 2.8], [2.8, 0, 2.8], [2.8, 2.8, 0]]),
    )
    assert distinct_prototypes([srtio3, batio3, rocksalt]) == [0, 2]
