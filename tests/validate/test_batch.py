"""The batch runner: formation energies, results as they finish, resume, error capture."""

from __future__ import annotations

import json
import stat

import pytest
from ase.build import bulk
from ase.io import write

from genms.crystal.convert import from_ase
from genms.parallel.journal import JournalMismatch
from genms.validate import mlip
from genms.validate.batch import run_validation
from genms.validate.config import DFTSettings, LaunchConfig, MLIPConfig, ReferenceConfig
from genms.validate.dft import prepare_job, run_job
from genms.validate.report import summarize
from genms.validate.tasks import StructureTask

from .helpers import cu3au_atoms, cu3au_task, emt_config


def _emt_energy(atoms) -> float:
    return run_job(prepare_job(atoms, emt_config_physics(), "e"))["energy_ev"]


def emt_config_physics() -> dict:
    return DFTSettings(code="emt").physics()


def test_formation_energy_matches_hand_calculation(tmp_path):
    cfg = emt_config(tmp_path)
    run = run_validation([cu3au_task(e_form_gnn=-0.1)], cfg, tmp_path / "out")
    rec = run.records[0]
    mu_cu, mu_au = _emt_energy(bulk("Cu")), _emt_energy(bulk("Au"))
    expected = (_emt_energy(cu3au_atoms()) - 3 * mu_cu - mu_au) / 4
    assert rec["status"] == "ok" and rec["formula"] == "Cu3Au"
    assert rec["e_form_dft"] == pytest.approx(expected, abs=1e-9)
    assert rec["e_form_dft_anion_corrected"] == pytest.approx(expected)  # no anion
    assert rec["e_form_gnn"] == -0.1 and rec["dft"]["mode"] == "static"
    refs = json.loads((tmp_path / "out" / "references.json").read_text())
    assert refs["dft"]["Cu"]["energy_per_atom"] == pytest.approx(mu_cu)


def test_results_are_appended_and_a_rerun_skips_them(tmp_path):
    cfg = emt_config(tmp_path)
    tasks = [cu3au_task("a"), StructureTask("b", from_ase(bulk("Cu", "fcc", a=3.7)))]
    seen = []
    first = run_validation(tasks, cfg, tmp_path / "out", on_record=seen.append)
    assert [r["id"] for r in seen] == ["a", "b"] and first.n_run == 2
    lines = (tmp_path / "out" / "results.jsonl").read_text().splitlines()
    assert len(lines) == 3  # header + one line per structure
    again = run_validation(
        tasks + [StructureTask("c", from_ase(bulk("Au")))],
        cfg,
        tmp_path / "out",
        on_record=seen.append,
    )
    assert again.n_resumed == 2 and again.n_run == 1 and seen[-1]["id"] == "c"
    assert [r["id"] for r in again.records] == ["a", "b", "c"]
    assert again.records[0]["e_form_dft"] == first.records[0]["e_form_dft"]


def test_failures_are_recorded_without_stopping_the_batch(tmp_path):
    cfg = emt_config(tmp_path)
    # EMT has no Na parameters
    na = StructureTask("nacl", from_ase(bulk("NaCl", "rocksalt", a=5.6)))
    big = StructureTask("big", from_ase(bulk("Cu", cubic=True).repeat(4)))  # 256 atoms > max_atoms
    run = run_validation([na, cu3au_task(), big], cfg, tmp_path / "out")
    by_id = {r["id"]: r for r in run.records}
    assert by_id["nacl"]["status"] == "failed" and "Na" in by_id["nacl"]["error"]
    assert by_id["cu3au"]["status"] == "ok"
    assert by_id["big"]["status"] == "skipped" and "max_atoms" in by_id["big"]["error"]
    s = summarize(run.records)
    assert s["n_structures"] == 2 and s["n_skipped"] == 1 and s["converged_fraction"] == 0.5
    # A rerun keeps the failure unless asked to retry it.
    assert run_validation([na], cfg, tmp_path / "out").n_run == 0
    assert (
        run_validation([na], emt_config(tmp_path, retry_failed=True), tmp_path / "out").n_run == 1
    )


def test_a_failed_reference_fails_only_its_compounds(tmp_path):
    write(tmp_path / "Au.cif", bulk("Cu"))  # a broken reference structure for Au
    refs = ReferenceConfig(cache_dir=str(tmp_path / "cache"), structures_dir=str(tmp_path))
    cu = StructureTask("cu", from_ase(bulk("Cu", "fcc", a=3.65)))
    run = run_validation(
        [cu3au_task(), cu], emt_config(tmp_path, references=refs), tmp_path / "out"
    )
    bad, good = run.records
    assert (
        bad["status"] == "failed"
        and "no reference energy for Au" in bad["error"]
        and "only Au" in bad["error"]
    )
    assert bad["dft"]["energy_ev"] is not None  # the calculation itself is kept
    assert good["status"] == "ok" and good["e_form_dft"] > 0  # strained Cu lies above fcc Cu


def test_resuming_with_other_settings_is_refused(tmp_path):
    run_validation([cu3au_task()], emt_config(tmp_path), tmp_path / "out")
    with pytest.raises(JournalMismatch, match="different configuration"):
        run_validation([cu3au_task()], emt_config(tmp_path, protocol="relax"), tmp_path / "out")


def test_relax_ids_get_a_full_relaxation(tmp_path):
    cfg = emt_config(tmp_path, relax_ids=["b"])
    strained = cu3au_atoms(a=3.9)
    run = run_validation(
        [StructureTask("a", from_ase(strained)), StructureTask("b", from_ase(strained))],
        cfg,
        tmp_path / "out",
    )
    a, b = run.records
    assert a["dft"]["mode"] == "static" and b["dft"]["mode"] == "relax"
    assert b["e_form_dft"] < a["e_form_dft"]  # relaxing lowers the energy
    assert (tmp_path / "out" / "structures" / "b_dft.cif").exists()


def test_duplicate_ids_are_made_unique(tmp_path):
    run = run_validation([cu3au_task("x"), cu3au_task("x")], emt_config(tmp_path), tmp_path / "out")
    assert [r["id"] for r in run.records] == ["x", "x-2"]


def _script(path, body: str) -> str:
    path.write_text("#!/bin/sh\n" + body + "\n")
    path.chmod(path.stat().st_mode | stat.S_IEXEC)
    return str(path)


def test_subprocess_launcher_runs_and_isolates_crashes_and_hangs(tmp_path):
    ok = run_validation(
        [cu3au_task()], emt_config(tmp_path, launch=LaunchConfig()), tmp_path / "sub"
    )
    assert ok.records[0]["status"] == "ok" and ok.records[0]["e_form_dft"] is not None
    crash = LaunchConfig(mpi_ranks=2, mpiexec=_script(tmp_path / "crash.sh", "echo boom; exit 3"))
    rec = run_validation(
        [cu3au_task()], emt_config(tmp_path, launch=crash), tmp_path / "crash"
    ).records[0]
    assert rec["status"] == "failed" and "code 3" in rec["error"] and "boom" in rec["error"]
    hang = LaunchConfig(
        mpi_ranks=2, mpiexec=_script(tmp_path / "hang.sh", "exec sleep 30"), timeout_s=1.0
    )
    rec = run_validation(
        [cu3au_task()], emt_config(tmp_path, launch=hang), tmp_path / "hang"
    ).records[0]
    assert rec["status"] == "timeout" and "timeout_s" in rec["error"]


def test_mlip_missing_is_skipped_not_fatal(tmp_path, monkeypatch):
    monkeypatch.setattr(mlip, "available", lambda: False)
    run = run_validation(
        [cu3au_task()], emt_config(tmp_path, mlip=MLIPConfig(enabled=True)), tmp_path / "out"
    )
    assert run.records[0]["status"] == "ok" and run.records[0]["e_form_mlip"] is None
    with pytest.raises(mlip.MLIPUnavailable, match="pip install"):
        run_validation(
            [cu3au_task("y")],
            emt_config(tmp_path, mlip=MLIPConfig(enabled=True, required=True)),
            tmp_path / "out2",
        )
