"""Shared fixtures of the energy tests: fixture crystals and a small random model."""

from __future__ import annotations

import dataclasses

import jax
import pandas as pd
import pytest

from genms.crystal.convert import from_cif
from genms.data.arrays import CrystalArrays
from genms.energy.task import EnergyTask, EnergyTaskConfig
from genms.models.energy_gnn import EnergyGNNConfig
from tests.conftest import FIXTURES

TARGET = "formation_energy_per_atom"
#: fixture rows with 4 atoms and shift range 1 (Cs/Zr/Os, Tc/Ag/Lu, Si/Sn, Y/In/Er)
BASE_ROWS = [2, 8, 46, 49]


@pytest.fixture(scope="session")
def cgcnn_crystals(request):
    df = pd.read_csv(FIXTURES / "mp_cgcnn_sample.csv")
    return [
        from_cif(c, {TARGET: float(e)})
        for c, e in zip(df.cif, df.formation_energy_per_atom, strict=True)
    ]


@pytest.fixture(scope="session")
def cgcnn_arrays(cgcnn_crystals):
    return CrystalArrays.from_crystals(
        cgcnn_crystals, [f"c{i}" for i in range(len(cgcnn_crystals))], [TARGET]
    )


def small_model_config(**kw) -> EnergyGNNConfig:
    base = EnergyGNNConfig(hidden=16, steps=2, n_rbf=12, max_neighbors=16, dtype="float32")
    return dataclasses.replace(base, **kw)


@pytest.fixture(scope="session")
def random_task(cgcnn_arrays):
    """A float32 two-member ensemble with random weights on four 4-atom fixture crystals
    (one atoms bucket and one shift range: few compiled shapes keep the tests fast)."""
    arr = cgcnn_arrays.subset(BASE_ROWS)
    cfg = EnergyTaskConfig(model=small_model_config(), ensemble_size=2)
    task = EnergyTask(cfg, {"train": arr, "val": arr}, TARGET, batch_size=4)
    params = task.init(jax.random.key(0), task.make_batch("train", [0, 1, 2, 3], 4))
    return task, params
