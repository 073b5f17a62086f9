"""The levels meet through the protocols of genms.interfaces."""

from __future__ import annotations

import numpy as np

from genms.data.reference import ReferenceFormulae
from genms.interfaces import (
    EnergyPrediction,
    EnergyPredictor,
    FormulaProposer,
    FormulaScorer,
    Request,
    StructureSampler,
)
from genms.language.request import parse_request
from genms.language.rhi import RHi, RHiConfig
from genms.search.language import RhiScorer
from genms.search.stages import EnergyWorker, decode_energies, encode_energies
from tests.search.fakes import CubicPerovskiteSampler, FakePredictor, FakeProposer, FakeScorer


def test_implementations_follow_the_protocols():
    assert isinstance(parse_request("a novel spinel"), Request)
    assert isinstance(FakeProposer(), FormulaProposer) and isinstance(FakeScorer(), FormulaScorer)
    assert isinstance(
        RhiScorer(RHi(ReferenceFormulae.from_formulae([]), RHiConfig())), FormulaScorer
    )
    assert isinstance(CubicPerovskiteSampler(), StructureSampler) and isinstance(
        FakePredictor(), EnergyPredictor
    )


def test_energy_worker_returns_an_energy_prediction_that_survives_the_journal():
    crystals = CubicPerovskiteSampler().sample(["SrTiO3", "BaTiO3"], 2, key=0)
    pred = EnergyWorker(FakePredictor()).predict([c for group in crystals for c in group])
    assert (
        isinstance(pred, EnergyPrediction)
        and pred.e_form.dtype == np.float64
        and pred.in_range.dtype == bool
    )
    again = decode_energies(encode_energies(pred))
    np.testing.assert_array_equal(again.e_form, pred.e_form)
    np.testing.assert_array_equal(again.in_range, pred.in_range)
    assert (again.std is None) == (pred.std is None)
