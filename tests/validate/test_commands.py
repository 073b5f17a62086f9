"""``genms validate`` and ``genms eval dft`` through the CLI (EMT in place of GPAW)."""

from __future__ import annotations

import json

import pytest
from ase.build import bulk
from ase.io import write

import genms.validate.commands as commands
from genms.cli import main

from .helpers import cu3au_atoms, write_run_folder

EMT = ["dft.code=emt", "launch.launcher=inprocess", "mlip.enabled=false"]


def _cache(tmp_path) -> str:
    return f"references.cache_dir={tmp_path / 'cache'}"


def test_validate_cifs_prints_table_and_resumes(tmp_path, capsys):
    write(tmp_path / "cu3au.cif", cu3au_atoms())
    write(tmp_path / "au.cif", bulk("Au", "fcc", a=4.2))
    out = tmp_path / "out"
    args = [
        "validate",
        str(tmp_path / "cu3au.cif"),
        str(tmp_path / "au.cif"),
        f"out_dir={out}",
        _cache(tmp_path),
        *EMT,
    ]
    assert main(args) == 0
    text = capsys.readouterr().out
    assert "Cu3Au" in text and "2 run, 0 resumed" in text
    summary = json.loads((out / "summary.json").read_text())["summary"]
    assert summary["n_structures"] == 2 and summary["converged_fraction"] == 1.0
    assert main(args) == 0
    assert "0 run, 2 resumed" in capsys.readouterr().out


def test_validate_bad_input_exits_2_with_a_message(tmp_path, capsys):
    with pytest.raises(SystemExit) as exc:
        main(["validate", str(tmp_path / "nothing.cif"), f"out_dir={tmp_path}", *EMT])
    assert exc.value.code == 2
    assert "no such file" in capsys.readouterr().out


def test_validate_bad_setting_exits_2(tmp_path, capsys):
    write(tmp_path / "a.cif", bulk("Cu"))
    with pytest.raises(SystemExit) as exc:
        main(["validate", str(tmp_path / "a.cif"), "protocol=fancy", f"out_dir={tmp_path}", *EMT])
    err = capsys.readouterr().err  # checked with the config, before any input is read
    assert exc.value.code == 2 and err.startswith("genms validate: protocol must be one of")


def test_validate_exits_1_when_nothing_succeeds(tmp_path, capsys):
    write(tmp_path / "na.cif", bulk("Na"))  # EMT has no Na
    with pytest.raises(SystemExit) as exc:
        main(
            [
                "validate",
                str(tmp_path / "na.cif"),
                f"out_dir={tmp_path / 'o'}",
                _cache(tmp_path),
                *EMT,
            ]
        )
    assert exc.value.code == 1 and "No EMT-potential" in capsys.readouterr().out


def test_eval_dft_on_family_runs_writes_the_benchmark_json(tmp_path, capsys):
    root = tmp_path / "e2e"
    write_run_folder(root / "perovskite", [("Cu3Au", 1, "kept", -0.3), ("Cu3Au", 2, "kept", -0.2)])
    write_run_folder(root / "spinel", [("Au", 1, "kept", 0.1)])
    output = tmp_path / "dft_validation.json"
    assert (
        main(
            [
                "eval",
                "dft",
                f"runs=[{root}]",
                "per_family=2",
                f"output={output}",
                f"out_dir={tmp_path / 'o'}",
                _cache(tmp_path),
                *EMT,
            ]
        )
        == 0
    )
    report = json.loads(output.read_text())
    for key in (
        "n_structures",
        "converged_fraction",
        "mean_e_form_dft",
        "mean_e_form_gnn",
        "mae_gnn_vs_dft",
        "mean_e_form_mlip",
        "wall_seconds_per_structure",
        "settings",
    ):
        assert key in report
    assert report["n_structures"] == 3 and report["converged_fraction"] == 1.0
    assert report["settings"]["code"] == "emt"
    assert {s["family"] for s in report["structures"]} == {"perovskite", "spinel"}
    gnn = {s["id"]: s["e_form_gnn"] for s in report["structures"]}
    assert gnn["perovskite-01_Cu3Au"] == -0.3
    assert report["mae_gnn_vs_dft"] == pytest.approx(
        sum(abs(s["e_form_gnn"] - s["e_form_dft"]) for s in report["structures"]) / 3)
    assert "wrote" in capsys.readouterr().out


def test_eval_dft_without_runs_explains_how_to_make_them(tmp_path, capsys):
    with pytest.raises(SystemExit) as exc:
        main(["eval", "dft", f"runs=[{tmp_path / 'none'}]", f"out_dir={tmp_path / 'o'}", *EMT])
    assert exc.value.code == 2 and "eval end-to-end" in capsys.readouterr().out


@pytest.mark.parametrize("name", ["binary.cif", "binary.json"])
def test_validate_binary_file_is_a_one_line_error(tmp_path, capsys, name):
    (tmp_path / name).write_bytes(b"data_x\n\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1\x00\x00\xff\xfe")
    with pytest.raises(SystemExit) as exc:
        main(
            [
                "validate",
                str(tmp_path / name),
                f"out_dir={tmp_path / 'o'}",
                *EMT,
                f"hydra.run.dir={tmp_path / 'h'}",
            ]
        )
    out = capsys.readouterr().out
    assert exc.value.code == 2 and "Traceback" not in out and "UnicodeDecodeError" not in out
    assert "not a text" in out and "is not UTF-8" in out and len(out.strip().splitlines()) == 1


def test_validate_prints_markup_in_a_path_as_text(tmp_path, capsys):
    folder = tmp_path / "[bold]x[/]"  # a folder "[bold]x[" holding a folder "]"
    folder.mkdir(parents=True)
    (folder / "a.cif").write_bytes(b"\xff\xfe")
    with pytest.raises(SystemExit) as exc:
        main(
            [
                "validate",
                str(folder / "a.cif"),
                f"out_dir={tmp_path / 'o'}",
                *EMT,
                f"hydra.run.dir={tmp_path / 'h'}",
            ]
        )
    out = capsys.readouterr().out
    assert exc.value.code == 2 and "[bold]x[/]" in out and "MarkupError" not in out


@pytest.mark.parametrize(
    ("installed", "overrides", "expected"),
    [
        # a fresh install: neither backend; the fix names both installs
        ((), [], "GPAW is not installed (and neither is chgnet"),
        # CHGNet only, without chgnet: one line with its install, not a run that skips all
        ((), ["protocol=none"], "protocol=none runs only the CHGNet pre-relaxation"),
        (("chgnet",), [], "or use protocol=none for the CHGNet step only"),
        (("gpaw",), ["protocol=none", "mlip.enabled=false"], "leaves nothing to run"),
    ],
)
def test_validate_without_its_backends_says_what_to_install(
    tmp_path, capsys, monkeypatch, installed, overrides, expected
):
    monkeypatch.setattr(commands, "_installed", lambda module: module in installed)
    write(tmp_path / "au.cif", bulk("Au", "fcc", a=4.2))
    out = tmp_path / "out"
    with pytest.raises(SystemExit) as exit_:
        main(["validate", str(tmp_path / "au.cif"), f"out_dir={out}", *overrides])
    assert exit_.value.code == 2
    text = " ".join(capsys.readouterr().out.split())
    assert expected in text and "Traceback" not in text
    if "chgnet" not in installed and "mlip.enabled=false" not in overrides:
        assert "pip install torch==2.13.0 && pip install -e '.[chgnet]'" in text
    assert not out.exists()  # nothing was started
