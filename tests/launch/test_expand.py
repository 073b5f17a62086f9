"""Sweep expansion: Hydra's grammar and cartesian product, stable point identities."""

from __future__ import annotations

import pytest

from genms.launch.expand import SweepError, build_spec


def test_cartesian_product_of_genms_command():
    spec = build_spec(["train", "energy", "optim.lr=1e-3,3e-4", "seed=0,1", "train.steps=10"])
    assert spec.command == ("genms", "train", "energy")
    assert spec.swept_keys == ("optim.lr", "seed")
    assert len(spec.points) == 4
    combos = {(p.params_dict["optim.lr"], p.params_dict["seed"]) for p in spec.points}
    assert combos == {("0.001", "0"), ("0.001", "1"), ("0.0003", "0"), ("0.0003", "1")}
    assert all("train.steps=10" in p.overrides for p in spec.points)
    assert len({p.point_id for p in spec.points}) == 4


def test_positional_request_becomes_a_quoted_override_and_ranges_expand():
    spec = build_spec(["generate", "a chloride perovskite", "search.H=range(1,4)"])
    assert [p.params_dict["search.H"] for p in spec.points] == ["1", "2", "3"]
    assert all("request='a chloride perovskite'" in p.overrides for p in spec.points)


def test_point_identity_survives_a_grown_sweep():
    small = build_spec(["python", "job.py", "x=1,2"])
    grown = build_spec(["python", "job.py", "x=1,2,3"])
    assert {p.point_id for p in small.points} < {p.point_id for p in grown.points}
    assert small.sweep_id != grown.sweep_id


@pytest.mark.parametrize("args, message", [
    ([], "no command"),
    (["-m", "train", "energy", "seed=0,1"], "drop -m"),
    (["python", "job.py", "x=interval(0,1)"], "cannot expand"),
    (["genms", "nosuchcommand"], "not a genms command"),
    (["python", "x=1", "job.py"], "command and its plain arguments first"),
])
def test_bad_sweeps_say_why(args, message):
    with pytest.raises(SweepError, match=message):
        build_spec(args)
