"""The README's Python API snippet, run as written (tiny stand-ins for π_lo and R_lo keep it
fast)."""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
from pymatgen.core import Structure

import genms.search.api as api
from genms.interfaces import EnergyPrediction
from genms.search.config import SearchConfig
from tests.search.fakes import FakePredictor, FakeSampler

REPO = Path(__file__).resolve().parents[2]


class HalfInRange(FakePredictor):
    """Every second structure's energy outside the trusted range: some candidates are dropped."""

    def predict(self, crystals):
        out = super().predict(crystals)
        in_range = np.asarray(out.in_range).copy()
        in_range[1::2] = False
        return EnergyPrediction(out.e_form, in_range, out.std)


def _snippet(doc: Path) -> str:
    blocks = re.findall(r"```python\n(.*?)```", doc.read_text(), flags=re.S)
    (block,) = [b for b in blocks if ".generate(" in b]
    return block


def _tiny_models(monkeypatch, predictor=None):
    monkeypatch.setattr(api, "_load_sampler", lambda options: FakeSampler())
    monkeypatch.setattr(api, "_load_predictor", lambda options: predictor or FakePredictor())
    load = api.GenMS.load.__func__
    monkeypatch.setattr(
        api.GenMS,
        "load",
        classmethod(lambda cls, **kw: load(cls, **{"search": SearchConfig(H=4, W=3, L=3), **kw})),
    )


def test_readme_snippet_gives_the_best_candidate_first(monkeypatch):
    _tiny_models(monkeypatch, HalfInRange())
    scope: dict = {}
    exec(compile(_snippet(REPO / "README.md"), "README.md", "exec"), scope)  # noqa: S102
    result, best = scope["result"], scope["best"]
    assert result.ok and best.kept and best.rank == 1
    assert best is result.best is result.ranked[0]
    assert best.score == max(c.score for c in result.candidates if c.kept)
    ranks = [c.rank for c in result.candidates if c.kept]
    assert ranks == sorted(ranks) == list(range(1, len(ranks) + 1))
    first_dropped = next(i for i, c in enumerate(result.candidates) if not c.kept)
    assert all(
        not c.kept for c in result.candidates[first_dropped:]
    )  # dropped ones after every kept one
    assert isinstance(best.structure, Structure)


def test_best_is_none_when_everything_was_dropped(monkeypatch):
    _tiny_models(monkeypatch, FakePredictor(max_e=-100.0))  # every energy out of the trusted range
    result = api.GenMS.load().generate("a novel pyrochlore oxide", seed=0)
    assert not result.ok and result.best is None and result.candidates and not result.ranked
