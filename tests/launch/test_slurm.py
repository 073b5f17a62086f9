"""genms slurm render: directives, array sizing, the command, valid bash."""

from __future__ import annotations

import re
import shutil
import subprocess

import pytest

from genms.launch.slurm import RenderError, main, parse_args, render


def _directives(script: str) -> dict[str, str | None]:
    out = {}
    for line in script.splitlines():
        m = re.match(r"^#SBATCH --([\w-]+)(?:=(.*))?$", line)
        if m:
            out[m.group(1)] = m.group(2)
    return out


def _bash_ok(script: str, tmp_path) -> None:
    path = tmp_path / "job.sbatch"
    path.write_text(script)
    if shutil.which("bash"):
        subprocess.run(["bash", "-n", str(path)], check=True)


def test_train_sweep_counts_points_for_the_array_and_fills_resources(tmp_path):
    script = render(
        parse_args(
            [
                "train_sweep",
                "command=genms -m train diffusion optim.lr=1e-4,3e-4 seed=0,1,2",
                "gpus=4",
                "nodes=2",
                "time=2-00:00:00",
                "sbatch.mail-type=END",
            ]
        )
    )
    d = _directives(script)
    assert d["array"] == "0-5"  # 2 x 3 points
    assert d["nodes"] == "2" and d["gpus-per-node"] == "4" and d["time"] == "2-00:00:00"
    assert d["mail-type"] == "END"
    assert "\nset -- train diffusion optim.lr=1e-4,3e-4 seed=0,1,2\n" in script
    lines = script.splitlines()
    assert lines.index("set -- train diffusion optim.lr=1e-4,3e-4 seed=0,1,2") > max(
        i for i, ln in enumerate(lines) if ln.startswith("#SBATCH"))  # after every directive
    _bash_ok(script, tmp_path)
    # The rendered script passes those arguments to genms sweep.
    echo = script.replace("srun --kill-on-bad-exit=1 genms", "echo genms")
    if shutil.which("bash"):
        (tmp_path / "run.sh").write_text(echo)
        out = subprocess.run(
            ["bash", str(tmp_path / "run.sh")],
            capture_output=True,
            text=True,
            check=True,
            env={"SLURM_ARRAY_TASK_ID": "4", "PATH": "/usr/bin:/bin"},
        ).stdout
        assert (
            out.strip() == "genms sweep train diffusion optim.lr=1e-4,3e-4 seed=0,1,2 sweep.only=4"
        )


def test_explicit_array_in_hydra_list_form_is_normalised(tmp_path):
    script = render(
        parse_args(["train_sweep", "array=[0-3]", "--", "train", "energy", "seed=0,1,2,3"])
    )
    assert _directives(script)["array"] == "0-3"


def test_multinode_and_ray_templates_keep_quoting(tmp_path):
    mn = render(
        parse_args(["train_multinode", "nodes=4", "gpus=8", "--", "genms", "train", "diffusion"])
    )
    assert _directives(mn)["nodes"] == "4" and "set -- train diffusion" in mn
    ray = render(parse_args(["ray_cluster", "nodes=3", "partition=gpu", "--", "sweep", "generate",
                             "a spinel", "search.H=1,25"]))
    d = _directives(ray)
    assert d["nodes"] == "3" and d["partition"] == "gpu"  # partition added after the others
    assert "set -- sweep generate 'a spinel' search.H=1,25" in ray
    assert "RAY_USAGE_STATS_ENABLED=0" in ray and "--include-dashboard=false" in ray
    _bash_ok(ray, tmp_path)


def test_template_without_command_stays_generic():
    script = render(parse_args(["train_multinode"]))
    assert 'genms "$@"' in script and "set --" not in script


def test_dft_batch_keeps_its_positional_arguments(tmp_path):
    script = render(
        parse_args(["dft_batch", "array=0-9", "--", "inputs.txt", "runs/validate/big", "top=5"])
    )
    assert _directives(script)["array"] == "0-9"  # added: the template has no --array line
    assert "set -- inputs.txt runs/validate/big top=5" in script
    assert 'LIST=$1' in script and '"$@"' in script  # the template's own handling is untouched
    _bash_ok(script, tmp_path)


@pytest.mark.parametrize("args, message", [
    (["no_such_template"], "no SLURM template"),
    (["train_sweep", "gpus=two"], "positive integer"),
    (["train_sweep", "array=zero"], "not a SLURM array"),
    (["train_sweep", "colour=red"], "unknown option"),
    (["train_sweep", "time=soon"], "time="),
])
def test_bad_options_are_clear_errors(args, message):
    with pytest.raises(RenderError, match=message):
        render(parse_args(args))


def test_main_prints_and_writes_the_script_without_submitting(tmp_path, capsys):
    out = tmp_path / "job.sbatch"
    assert main(["train_sweep", f"out={out}", "command=train energy seed=0,1"]) == 0
    printed = capsys.readouterr().out
    assert printed == out.read_text() and "#SBATCH --array=0-1" in printed
    with pytest.raises(SystemExit, match="genms slurm render"):
        main(["train_sweep", "gpus=0"])
