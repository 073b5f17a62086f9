"""An interrupted search resumes from its journal without redoing finished work."""

from __future__ import annotations

import pytest

from genms.parallel.journal import Journal, JournalMismatch
from genms.search.config import SearchConfig
from genms.search.tree import ForwardTreeSearch, energy_worker, sampler_worker
from tests.search.fakes import FakePredictor, FakeProposer, FakeSampler, FakeScorer

CFG = SearchConfig(H=6, W=4, L=3, sample_chunk=1, energy_batch=5)


def run(sampler, predictor, journal=None, proposer=None):
    search = ForwardTreeSearch(proposer or FakeProposer(), FakeScorer(), sampler_worker(sampler),
                               energy_worker(predictor), CFG, journal=journal)
    return search.run("a perovskite", seed=11)


def test_resume_after_interrupt_matches_uninterrupted(tmp_path):
    reference = run(FakeSampler(), FakePredictor())

    path = tmp_path / "journal.jsonl"
    with pytest.raises(KeyboardInterrupt):
        run(FakeSampler(interrupt_after=2), FakePredictor(), Journal(path, "fp"))
    assert Journal(path, "fp").count("sample") == 2

    sampler, predictor, proposer = FakeSampler(), FakePredictor(), FakeProposer()
    resumed = run(sampler, predictor, Journal(path, "fp"), proposer)
    assert proposer.calls == 0  # the formulae came from the journal
    assert len(sampler.calls) == 2  # only the two chunks that had not finished
    assert [(c.id, c.status, c.rank, c.e_form) for c in resumed.candidates] == [
        (c.id, c.status, c.rank, c.e_form) for c in reference.candidates]

    # A third run redoes nothing at all.
    sampler, predictor = FakeSampler(), FakePredictor()
    again = run(sampler, predictor, Journal(path, "fp"))
    assert sampler.calls == [] and predictor.n_structures == 0
    assert [c.id for c in again.ranked] == [c.id for c in reference.ranked]


def test_journal_of_another_config_is_refused(tmp_path):
    path = tmp_path / "journal.jsonl"
    run(FakeSampler(), FakePredictor(), Journal(path, "config-a"))
    with pytest.raises(JournalMismatch):
        Journal(path, "config-b")
