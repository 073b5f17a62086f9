"""The run folder: CIFs, tables of every candidate, config, versions, report with pictures."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
from pymatgen.core import Structure

from genms.crystal.convert import from_cif
from genms.search.config import SearchConfig
from genms.search.report import write_run
from genms.search.tree import ForwardTreeSearch, energy_worker, sampler_worker
from tests.search.fakes import FakePredictor, FakeProposer, FakeSampler, FakeScorer


def test_run_folder_contents(tmp_path):
    search = ForwardTreeSearch(
        FakeProposer(),
        FakeScorer(),
        sampler_worker(FakeSampler(collapse=["CaTiO3"])),
        energy_worker(FakePredictor()),
        SearchConfig(H=4, W=3, L=3),
    )
    result = search.run("a perovskite", seed=0, request_text="a perovskite")
    paths = write_run(result, tmp_path, config={"search": {"H": 4}}, top_k=3, distinct=False)

    cifs = sorted((tmp_path / "cifs").glob("*.cif"))
    assert [p.name[:3] for p in cifs] == ["01_", "02_", "03_"]
    best = result.ranked[0]
    assert from_cif(cifs[0].read_text()).n_atoms == best.n_atoms

    df = pd.read_csv(paths["candidates_csv"])
    assert len(df) == len(result.candidates) == 9
    assert {"score", "r_hi", "r_lo", "e_form_ev_per_atom", "min_distance_ang", "status"} <= set(
        df.columns
    )
    assert (df["status"] == "invalid_structure").sum() == 3
    records = json.loads(paths["candidates_json"].read_text())
    assert records[0]["rank"] == 1 and len(records[0]["structure"]["sites"]) == best.n_atoms
    # candidates.json structures load with pymatgen
    structure = Structure.from_dict(records[0]["structure"])
    assert structure.composition.reduced_formula == best.structure.composition.reduced_formula
    assert np.allclose(structure.lattice.matrix, best.crystal.lattice)

    assert len(pd.read_csv(paths["formulae_csv"])) == 4
    assert "H: 4" in paths["config"].read_text()
    versions = json.loads(paths["versions"].read_text())
    assert versions["jax"] and versions["pymatgen"]
    summary = json.loads(paths["summary"].read_text())
    assert summary["status"] == "ok" and summary["status_counts"]["invalid_structure"] == 3

    report = paths["report"].read_text()
    assert "## Top structures" in report and "energy_distribution.png" in report
    images = sorted(p.name for p in (tmp_path / "images").glob("*.png"))
    assert "energy_distribution.png" in images and len(images) == 4
    assert all((tmp_path / "images" / n).stat().st_size > 1000 for n in images)


def test_distinct_run_folder_numbers_cifs_as_shown(tmp_path):
    search = ForwardTreeSearch(FakeProposer(), FakeScorer(), sampler_worker(FakeSampler()),
                               energy_worker(FakePredictor()), SearchConfig(H=4, W=3, L=3))
    result = search.run("a perovskite", seed=0, request_text="a perovskite")
    distinct = result.top(3, distinct=True)
    write_run(result, tmp_path, top_k=3)  # distinct by default
    cifs = sorted((tmp_path / "cifs").glob("*.cif"))
    assert [p.name[:2] for p in cifs] == [f"{i:02d}" for i in range(1, len(distinct) + 1)]
    assert distinct[0] is result.ranked[0]
