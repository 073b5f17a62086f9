"""``genms sample`` and ``genms eval csp`` end to end on a tiny bundle (in-process Hydra)."""

from __future__ import annotations

import json

from genms.cli import COMMANDS, run_command
from genms.crystal.convert import from_cif

from .conftest import FIXTURES

SMALL = [
    "sampler.steps=2",
    "sampler.buckets=[8,12,20]",
    "sampler.max_batch=8",
    "sampler.min_batch=4",
]


def test_sample_writes_cifs(tiny_bundle, tmp_path):
    out = tmp_path / "cifs"
    written = run_command(
        COMMANDS[("sample", "")],
        "sample",
        [
            "formulae=[NaCl,SrTiO3]",
            "n=2",
            "formula_units=2",
            f"out_dir={out}",
            f"sampler.bundle={tiny_bundle}",
            *SMALL,
            f"hydra.run.dir={tmp_path / 'hydra'}",
        ],
    )
    assert len(written) == 4
    crystal = from_cif((out / "SrTiO3_001.cif").read_text())
    assert crystal.n_atoms == 10 and sorted(set(crystal.atomic_numbers.tolist())) == [8, 22, 38]


def test_eval_csp_writes_the_result_json(tiny_bundle, tmp_path):
    output = tmp_path / "csp.json"
    result = run_command(
        COMMANDS[("eval", "csp")],
        "eval csp",
        [
            f"eval.csv={FIXTURES / 'mp20_test_sample.csv'}",
            "eval.limit=4",
            "eval.k=[1,3]",
            "eval.workers=1",
            f"eval.output={output}",
            f"eval.results_out={tmp_path / 'items.jsonl'}",
            *[f"eval.{o}" for o in SMALL],
            f"hydra.run.dir={tmp_path / 'hydra'}",
        ],
    )
    saved = json.loads(output.read_text())
    for key in (
        "match_rate_k1",
        "rmse_k1",
        "match_rate_k3",
        "rmse_k3",
        "structures_per_second",
        "n_test",
        "hardware",
        "command",
        "checkpoint",
        "samples_seen",
        "achieved_tflops",
    ):
        assert key in saved, key
    assert saved["samples_seen"] == saved["checkpoint"]["training"].get("samples_seen")
    assert saved["n_test"] == 4 and saved["n_samples"] == 12 and saved["n_test_k3"] == 4
    assert 0.0 <= saved["match_rate_k1"] <= saved["match_rate_k3"] <= 1.0
    assert saved["executed_flops"] > 0 and result["matching_finished"]
    assert saved["sampler"]["steps"] == saved["sampling_steps"]  # resolved settings, for ship
    assert len((tmp_path / "items.jsonl").read_text().splitlines()) == 8  # 4 items x (first, rest)


def test_sample_a_formula_given_twice_writes_every_structure(tiny_bundle, tmp_path):
    out = tmp_path / "cifs"
    written = run_command(
        COMMANDS[("sample", "")],
        "sample",
        [
            "formulae=[NaCl,NaCl]",
            "n=2",
            "formula_units=1",
            f"out_dir={out}",
            f"sampler.bundle={tiny_bundle}",
            *SMALL,
            f"hydra.run.dir={tmp_path / 'hydra'}",
        ],
    )
    assert len(written) == len(set(written)) == 4
    assert sorted(p.name for p in out.glob("*.cif")) == [f"NaCl_{j:03d}.cif" for j in range(4)]


def test_a_second_sample_call_into_the_same_folder_keeps_the_first_files(
    tiny_bundle, tmp_path, capsys
):
    """The documented `genms sample SrTiO3 NaCl n=8` then `genms sample SrTiO3 n=4
    formula_units=2` both write to ./samples: the second call must not overwrite the first's
    SrTiO3_000..003 (which would leave a folder mixing the two calls under one numbering)."""
    out = tmp_path / "cifs"
    first = out / "NaCl_000.cif"

    def call(n):
        return run_command(
            COMMANDS[("sample", "")],
            "sample",
            ["formulae=[NaCl]", f"n={n}", "formula_units=1", f"out_dir={out}",
             f"sampler.bundle={tiny_bundle}", *SMALL, f"hydra.run.dir={tmp_path / 'hydra'}"],
        )

    call(2)
    before = first.read_text()
    written = call(2)
    assert [p.rsplit("/", 1)[-1] for p in written] == ["NaCl_002.cif", "NaCl_003.cif"]
    assert first.read_text() == before
    assert "already holds NaCl_000.cif … NaCl_001.cif" in capsys.readouterr().err


def test_a_missing_bundle_is_one_line_not_a_traceback(tmp_path, capsys):
    missing = tmp_path / "nowhere"
    for key, name, options in (
        (("sample", ""), "sample", ["formulae=[NaCl]", f"sampler.bundle={missing}"]),
        (("eval", "csp"), "eval csp", [
            f"eval.csv={FIXTURES / 'mp20_test_sample.csv'}",
            "eval.limit=1",
            f"eval.sampler.bundle={missing}",
            f"eval.output={tmp_path / 'csp.json'}",
        ]),
    ):
        try:
            run_command(COMMANDS[key], name, [*options, f"hydra.run.dir={tmp_path / 'h'}"])
        except SystemExit as exc:
            assert exc.code == 2
        else:
            raise AssertionError(f"genms {name} ran without a bundle")
        err = capsys.readouterr().err
        assert f"genms {name}: no denoiser bundle at {missing}" in err, err
        assert "Traceback" not in err and "sampler.bundle=PATH" in err
    assert not (tmp_path / "csp.json").exists()
