"""The launch commands are reachable through `genms` (raw commands bypass Hydra)."""

from __future__ import annotations

from genms.cli import main, raw_command


def test_raw_commands_receive_their_arguments_unparsed():
    cmd, rest = raw_command(["sweep", "train", "energy", "optim.lr=1e-3,3e-4", "-m"])
    assert cmd.target == "genms.launch.sweep:main" and rest == [
        "train",
        "energy",
        "optim.lr=1e-3,3e-4",
        "-m",
    ]
    cmd, rest = raw_command(["slurm", "render", "train_sweep", "command=genms -m train diffusion"])
    assert cmd.target == "genms.launch.slurm:main" and rest == [
        "train_sweep",
        "command=genms -m train diffusion",
    ]
    assert raw_command(["train", "energy"]) is None


def test_genms_slurm_render_through_the_cli(capsys):
    assert (
        main(["slurm", "render", "train_sweep", "gpus=2", "command=train energy seed=0,1,2"]) == 0
    )
    out = capsys.readouterr().out
    assert "#SBATCH --gpus-per-node=2" in out and "#SBATCH --array=0-2" in out
