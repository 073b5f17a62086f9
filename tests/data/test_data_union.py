"""The MP training union's rules on tiny synthetic inputs (every rule fires at least once)."""

from __future__ import annotations

import shutil
from dataclasses import replace

import numpy as np
import pandas as pd
import pytest
from pymatgen.core import Lattice, Structure
from pymatgen.core.operations import SymmOp

from genms.cli import main
from genms.configs import ConfigError, to_dataclass
from genms.data.build import prepare_dataset
from genms.data.config import UNION_HOLDOUTS, DataConfig
from genms.data.holdout import HOLDOUTS, RULES
from genms.data.near_duplicates import (
    NearDuplicatesError,
    load_near_duplicate_ids,
    near_duplicates_document,
    write_near_duplicates,
)
from genms.data.prepare import load_prepared
from genms.data.report import REASONS
from genms.data.sources import DataSourceError
from genms.data.union_match import formula_key


def _cgcnn_rows(rows: list[tuple[str, str, float]]) -> pd.DataFrame:
    return pd.DataFrame({"cgcnn_id": range(len(rows)), "material_id": [r[0] for r in rows],
                         "formation_energy_per_atom": [r[2] for r in rows], "band_gap": 0.0,
                         "mp20_known_split": "", "cif": [r[1] for r in rows]})


def _mpts_rows(rows: list[tuple[str, str, float]]) -> pd.DataFrame:
    return pd.DataFrame(
        {
            "material_id": [r[0] for r in rows],
            "theoretical": False,
            "energy_above_hull": 0.0,
            "formation_energy_per_atom": [r[2] for r in rows],
            "year": 2015,
            "cif": [r[1] for r in rows],
        }
    )


def _moved_copy(cif: str) -> Structure:
    """The same crystal with a rotated cell and shifted atoms."""
    structure = Structure.from_str(cif, fmt="cif")
    rotation = SymmOp.from_axis_angle_and_translation([1, 2, 3], 37.0).rotation_matrix
    lattice = Lattice(structure.lattice.matrix @ rotation.T)
    return Structure(lattice, structure.species, (structure.frac_coords + [0.13, 0.29, 0.41]) % 1.0)


def _strained(cif: str) -> Structure:
    """The crystal under a 10 % strain along a: a lower space group, but StructureMatcher
    (ltol 0.3) still matches it."""
    structure = Structure.from_str(cif, fmt="cif")
    structure.apply_strain([0.10, 0.0, 0.0])
    return structure


@pytest.fixture
def union_root(tmp_path, fixtures_dir):
    test_df = pd.read_csv(fixtures_dir / "mp20_test_sample.csv", index_col=0)
    mpts_test = pd.read_csv(fixtures_dir / "mpts52_test_sample.csv", index_col=0)
    mpts_cif = dict(zip(mpts_test.material_id, mpts_test.cif, strict=True))
    train_df = pd.read_csv(fixtures_dir / "mp20_train_sample.csv", index_col=0)
    cgcnn = pd.read_csv(fixtures_dir / "mp_cgcnn_sample.csv")
    root = tmp_path / "data"
    (root / "mp_20_partial").mkdir(parents=True)
    val, test, train = test_df.iloc[[0, 1]], test_df.iloc[[2, 3, 4]], train_df.iloc[:3]
    assert test.pretty_formula.tolist() == ["In2Rh3S2", "Ni3P", "Y2AgAu"]
    copy = test.iloc[[2]].assign(
        material_id="mp-copy", cif=_moved_copy(test.cif.iloc[2]).to(fmt="cif")
    )
    copy["spacegroup.number"] = 216  # a wrong label: the formula + space group rule misses it
    val.to_csv(root / "mp_20_partial" / "val.csv")
    test.to_csv(root / "mp_20_partial" / "test.csv")
    pd.concat([train, copy]).to_csv(root / "mp_20_partial" / "train.csv")

    # Y2AgAu, Fm-3m
    strained = _strained(test.cif.iloc[2])
    # same formula, a structure StructureMatcher tells apart
    other_poly = Structure.from_str(test.cif.iloc[2], fmt="cif")
    other_poly.apply_strain([0.60, 0.0, 0.0])
    big = Structure.from_str(test.cif.iloc[1], fmt="cif")
    big.make_supercell([4, 1, 1])  # 64 atoms > 52
    structures = [Structure.from_str(c, fmt="cif") for c in cgcnn.cif[:10]]
    fresh = [c for c, st in zip(cgcnn.cif[:10], structures, strict=True)
             if st.composition.reduced_formula not in set(test.pretty_formula)]
    other, other2 = [c for c in fresh if Structure.from_str(c, fmt="cif").num_sites <= 20][:2]
    (mid,) = [c for c in fresh if 20 < Structure.from_str(c, fmt="cif").num_sites <= 52][:1]
    (root / "mp_cgcnn_36k").mkdir()
    _cgcnn_rows(
        [
            (val.material_id.iloc[0], train.cif.iloc[0], -1.0),  # an MP-20 val id -> val_test_id
            (
                train.material_id.iloc[0],
                train.cif.iloc[0],
                -1.0,
            ),  # already in MP-20 train -> duplicate_id
            ("mp-leak", test.cif.iloc[1], -0.4),  # a test structure under another id
            ("mp-poly", strained.to(fmt="cif"), -0.3),  # other space group, same structure
            ("mp-other", other_poly.to(fmt="cif"), -0.3),  # same formula, other structure: kept
            ("mp-big", big.to(fmt="cif"), -0.4),  # too many atoms
            ("mp-mid", mid, -1.5),  # 21-52 atoms: kept
            ("mp-ok", other, -7.0),  # kept; energy below -5 masked to NaN
            ("mp-nofe", other2, np.nan),  # kept: no row dropped for a target
            # MPTS-52 test: CoSi under its own id, NaMgF3 (Pm-3m) moved under another id,
            # Cu3N (Pm-3m) strained to P4/mmm under another id
            ("mp-22746", mpts_cif["mp-22746"], -0.5),
            ("mp-twin", _moved_copy(mpts_cif["mp-560399"]).to(fmt="cif"), -1.0),
            ("mp-strained", _strained(mpts_cif["mp-13480"]).to(fmt="cif"), -0.1),
        ]
    ).to_csv(root / "mp_cgcnn_36k" / "data.csv", index=False)
    (root / "mpts_52").mkdir()
    _mpts_rows([
        ("mp-ok", other, -1.0),                                  # dup of the mp_cgcnn copy
        ("mp-new", train_df.cif.iloc[5], -1.2),                  # kept
        (test.material_id.iloc[0], test.cif.iloc[0], -0.5),      # an MP-20 test id
    ]).to_csv(root / "mpts_52" / "val.csv")
    shutil.copyfile(fixtures_dir / "mpts52_test_sample.csv", root / "mpts_52" / "test.csv")
    return root


def test_union_rules_and_counts(union_root, make_ctx, tmp_path):
    results = {r.split: r for r in prepare_dataset("mp_union", make_ctx([union_root]))}
    test_rows = pd.read_csv(union_root / "mp_20_partial" / "test.csv")
    union = results["train"].meta["union"]
    src = union["sources"]
    assert src["mp_20/train"]["rows"] == 4 and src["mp_20/train"]["kept"] == 3
    assert src["mp_20/train"]["skipped"] == {"test_structure_match": 1}
    assert src["mp_20/train"]["examples"]["test_structure_match"][0].startswith(
        "mp-copy: matches test mp-1187720"
    )
    assert src["mp_cgcnn"]["rows"] == 12 and src["mp_cgcnn"]["kept"] == 4
    assert src["mp_cgcnn"]["skipped"] == {
        "duplicate_id": 1,
        "test_formula_spacegroup": 1,
        "test_structure_match": 1,
        "too_many_atoms": 1,
        "val_test_id": 1,
        "mpts_52_test_id": 1,
        "mpts_52_test_formula_spacegroup": 1,
        "mpts_52_test_structure_match": 1,
    }
    assert src["mpts_52/val"]["skipped"] == {"duplicate_id": 1, "val_test_id": 1}
    assert "mpts_52/test" not in src  # held out: its rows are no candidates
    assert union["totals"]["kept"] == 8 and union["cgcnn_targets_masked"] == 1
    assert union["held_out_ids"] == 5 and union["mpts_52_held_out_ids"] == 4
    assert union["holdout"] == ["mp_20_test", "mpts_52_test"]
    assert "mpts_52" not in union["absent_sources"]
    # mp-copy, mp-poly and mp-other against the one Y2AgAu test entry; mp-leak went earlier
    assert union["test_structure_match"] | {"settings": None} == {
        "settings": None, "cells_compared": 3, "pairs": 3, "pairs_computed": 3, "pairs_matched": 2,
        "pairs_timed_out": 0, "cells_matched": 2}
    # the test entries each rule hit: mp-leak is Ni3P's test crystal (same formula and space
    # group); mp-copy and mp-poly match the Y2AgAu entry; In2Rh3S2 has no duplicate
    assert test_rows.material_id.tolist() == ["mp-1077883", "mp-2296", "mp-1187720"]
    assert union["near_duplicate_test_ids"] == {
        "test_formula_spacegroup": ["mp-2296"], "test_structure_match": ["mp-1187720"]}

    train = load_prepared("mp_union", "train", tmp_path / "prepared")
    ids = train.ids.tolist()
    assert (
        ids[:3] == pd.read_csv(union_root / "mp_20_partial" / "train.csv").material_id.tolist()[:3]
    )
    assert ids[3:] == ["mp-other", "mp-mid", "mp-ok", "mp-nofe", "mp-new"]
    assert (train.n_atoms <= 52).all() and dict(zip(ids, train.n_atoms, strict=True))["mp-mid"] > 20
    fe = dict(zip(ids, train.targets["formation_energy_per_atom"], strict=True))
    assert np.isnan(fe["mp-ok"]) and np.isnan(fe["mp-nofe"]) and fe["mp-new"] == -1.2
    sg = dict(zip(ids, train.targets["spacegroup_number"], strict=True))
    assert np.isfinite(train.targets["spacegroup_number"]).all()
    assert sg["mp-other"] != 225  # computed with symprec 0.1 on the strained cell

    val = load_prepared("mp_union", "val", tmp_path / "prepared")
    test = load_prepared("mp_union", "test", tmp_path / "prepared")
    assert len(val) == 2 and len(test) == 3
    assert not set(ids) & (set(val.ids) | set(test.ids))
    test_pairs = {
        (formula_key(test.crystal(i).atomic_numbers), test.targets["spacegroup_number"][i])
        for i in range(len(test))
    }
    train_pairs = {
        (formula_key(train.crystal(i).atomic_numbers), sg[ids[i]]) for i in range(len(train))
    }
    assert not test_pairs & train_pairs


def test_union_holds_out_mpts52_test_by_id_formula_spacegroup_and_structure(union_root,
                                                                              make_ctx):
    union = prepare_dataset("mp_union", make_ctx([union_root]))[0].meta["union"]
    examples = union["sources"]["mp_cgcnn"]["examples"]
    assert examples["mpts_52_test_id"] == ["mp-22746"]  # CoSi under its MPTS-52 test id
    assert examples["mpts_52_test_formula_spacegroup"] == ["mp-twin: space group 221"]
    assert examples["mpts_52_test_structure_match"][0].startswith(
        "mp-strained: matches test mp-13480")  # Cu3N strained from Pm-3m to P4/mmm
    assert union["mpts_52_test_formula_spacegroup_pairs"] == 4
    # only mp-strained shares a formula with an MPTS-52 test entry after the first rules
    assert union["mpts_52_test_structure_match"] | {"settings": None} == {
        "settings": None, "cells_compared": 1, "pairs": 1, "pairs_computed": 1, "pairs_matched": 1,
        "pairs_timed_out": 0, "cells_matched": 1}
    # NaMgF3 and Cu3N have a near duplicate; CoSi's copy has its id, Ba(AlSi)2 has none
    assert union["mpts_52_near_duplicate_test_ids"] == {
        "test_formula_spacegroup": ["mp-560399"], "test_structure_match": ["mp-13480"]}
    assert union["near_duplicate_test_ids"] == {  # MP-20 test's, as without MPTS-52
        "test_formula_spacegroup": ["mp-2296"], "test_structure_match": ["mp-1187720"]}


def test_union_holdout_mp20_test_only_keeps_mpts52_test_rows_and_copies(union_root, make_ctx,
                                                                        tmp_path):
    results = prepare_dataset("mp_union", make_ctx([union_root], union_holdout=["mp_20_test"]))
    union = results[0].meta["union"]
    src = union["sources"]
    assert union["holdout"] == ["mp_20_test"] and "mpts_52_held_out_ids" not in union
    assert src["mp_cgcnn"]["rows"] == 12 and src["mp_cgcnn"]["kept"] == 7
    assert not any(k.startswith("mpts_52") for k in src["mp_cgcnn"]["skipped"])
    # the MPTS-52 test rows are candidates again; CoSi's mp_cgcnn copy comes first
    assert src["mpts_52/test"] == src["mpts_52/test"] | {
        "rows": 4, "kept": 3, "skipped": {"duplicate_id": 1}}
    assert union["totals"]["kept"] == 14
    ids = set(load_prepared("mp_union", "train", tmp_path / "prepared").ids)
    assert {"mp-22746", "mp-twin", "mp-strained", "mp-13480", "mp-560399", "mp-12863"} <= ids
    assert union["near_duplicate_test_ids"] == {
        "test_formula_spacegroup": ["mp-2296"], "test_structure_match": ["mp-1187720"]}


def test_cli_prints_one_line_per_held_out_split(union_root, tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    main(["data", "union", f"paths.data_dir={union_root}", f"paths.cache_dir={tmp_path / 'prep'}",
          f"data.parse_cache_dir={tmp_path / 'parsed'}", "data.workers=0", "data.progress=false",
          f"hydra.run.dir={tmp_path / 'hydra'}"])
    out = " ".join(capsys.readouterr().out.split())
    assert "held out MP-20 test: 5 ids, 3 test (formula, space group) pairs" in out
    assert ("held out MPTS-52 test: 4 ids, 4 test (formula, space group) pairs (4 space groups "
            "computed), 1 cells matched to a test structure") in out
    assert "2 test entries with a near duplicate" in out
    with pytest.raises(SystemExit) as exc:
        main(["data", "union", f"paths.data_dir={union_root}", "data.union_holdout=[nope]",
              f"paths.cache_dir={tmp_path / 'prep'}", f"hydra.run.dir={tmp_path / 'hydra'}"])
    assert exc.value.code == 2 and "data.union_holdout" in capsys.readouterr().err


def test_union_holding_out_mpts52_test_needs_its_file(union_root, make_ctx):
    (union_root / "mpts_52" / "test.csv").unlink()
    with pytest.raises(DataSourceError, match="leave mpts_52_test out of data.union_holdout"):
        prepare_dataset("mp_union", make_ctx([union_root]))
    results = prepare_dataset("mp_union", make_ctx([union_root], union_holdout=["mp_20_test"]))
    assert results[0].meta["union"]["totals"]["kept"] == 11


@pytest.mark.parametrize("holdout", [["mpts_52_test"], ["mp_20_test", "mp_20_test"],
                                     ["mp_20_test", "mpts_52"], []])
def test_union_holdout_names_distinct_known_splits_with_mp20_test(holdout):
    with pytest.raises(ValueError, match="data.union_holdout"):
        DataConfig(union_holdout=holdout)
    with pytest.raises(ConfigError, match="data.union_holdout"):
        to_dataclass(DataConfig, {"union_holdout": holdout})


def test_union_holdout_names_are_the_config_choices():
    assert tuple(HOLDOUTS) == UNION_HOLDOUTS
    assert DataConfig().union_holdout == list(UNION_HOLDOUTS)
    reasons = {h.id_reason for h in HOLDOUTS.values()}
    reasons |= {h.key(rule) for h in HOLDOUTS.values() for rule in RULES}
    assert reasons <= set(REASONS)


def test_near_duplicate_document_lists_the_test_ids_the_rules_hit(union_root, make_ctx, tmp_path):
    results = prepare_dataset("mp_union", make_ctx([union_root]))
    doc = near_duplicates_document(results)
    assert doc["ids"] == ["mp-1187720", "mp-2296"] and doc["n_near_duplicates"] == 2
    assert doc["n_test"] == 3
    assert doc["counts"] == {"test_formula_spacegroup": 1, "test_structure_match": 1, "both": 0}
    assert "symprec 0.1" in doc["rules"]["test_formula_spacegroup"]
    assert ("<= 52 atoms and a material id outside the MP-20 val/test files and the MPTS-52 "
            "test file") in doc["rules"]["test_formula_spacegroup"]
    assert "stol=0.5, ltol=0.3, angle_tol=10" in doc["rules"]["test_structure_match"]
    assert doc["union_fingerprint"] == results[0].meta["fingerprint"]
    path = write_near_duplicates(doc, tmp_path / "near_duplicates.json")
    assert load_near_duplicate_ids(path) == {"mp-1187720", "mp-2296"}

    train = results[0]
    union = {k: v for k, v in train.meta["union"].items() if k != "near_duplicate_test_ids"}
    older = replace(train, meta=train.meta | {"union": union})  # prepared by an older genms
    with pytest.raises(NearDuplicatesError, match="data.force=true"):
        near_duplicates_document([older, *results[1:]])


def test_union_is_cached_and_space_groups_and_matches_are_reused(union_root, make_ctx):
    first = prepare_dataset("mp_union", make_ctx([union_root]))
    assert first[0].meta["union"]["spacegroups_computed"] > 0
    assert first[0].meta["union"]["test_structure_match"]["pairs_computed"] == 3
    assert first[0].meta["union"]["mpts_52_test_spacegroups_computed"] == 4
    assert first[0].meta["union"]["test_spacegroups_computed"] == 0  # MP-20 gives them
    assert [r.status for r in prepare_dataset("mp_union", make_ctx([union_root]))] == ["cached"] * 3
    forced = prepare_dataset("mp_union", make_ctx([union_root], force=True))
    assert forced[0].status == "built" and forced[0].meta["union"]["spacegroups_computed"] == 0
    assert forced[0].meta["union"]["test_structure_match"]["pairs_computed"] == 0
    assert forced[0].meta["union"]["mpts_52_test_spacegroups_computed"] == 0
    assert forced[0].meta["union"]["mpts_52_test_structure_match"]["pairs_computed"] == 0
    assert forced[0].meta["union"]["totals"] == first[0].meta["union"]["totals"]
    assert forced[0].meta["fingerprint"] == first[0].meta["fingerprint"]


def test_union_fingerprint_follows_max_atoms_match_limit_and_holdout(union_root, make_ctx):
    fps = [prepare_dataset("mp_union", make_ctx([union_root], **kw))[0].meta["fingerprint"]
           for kw in ({}, {"max_atoms": 20}, {"union_match_timeout_s": 5.0},
                      {"union_holdout": ["mp_20_test"]},
                      {"union_holdout": ["mpts_52_test", "mp_20_test"]})]
    assert len(set(fps)) == 4 and fps[4] == fps[0]  # the order of the names does not matter
    old = prepare_dataset("mp_union", make_ctx([union_root], union_holdout=["mp_20_test"]))
    assert old[0].status == "built"
    new = prepare_dataset("mp_union", make_ctx([union_root]))  # a stale union is not reused
    assert [r.status for r in new] == ["built"] * 3
    assert new[0].meta["union"]["holdout"] == ["mp_20_test", "mpts_52_test"]


def test_formula_key_is_the_reduced_formula():
    assert formula_key(np.array([8, 22, 22, 8, 8, 8])) == formula_key(np.array([22, 8, 8]))
    assert formula_key(np.array([22, 8, 8])) != formula_key(np.array([22, 22, 8, 8, 8]))
