"""Session fixtures: real crystals cut from the committed CSV fixtures."""

from __future__ import annotations

import pytest

from genms.crystal.structure import Crystal
from tests.evaluate.handmade_crystals import load_fixture


@pytest.fixture(scope="session")
def mp20_test() -> list[Crystal]:
    return load_fixture("mp20_test_sample.csv")


@pytest.fixture(scope="session")
def perov5() -> list[Crystal]:
    return load_fixture("perov5_sample.csv")
