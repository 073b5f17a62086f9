"""The child-process launcher: a stopped parent leaves no calculation running."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


def test_sigterm_to_the_parent_kills_the_running_calculation(tmp_path: Path):
    pid_file = tmp_path / "child.pid"
    script = tmp_path / "parent.py"
    script.write_text(
        textwrap.dedent(f"""
        import sys
        from genms.validate import launch
        from genms.validate.config import LaunchConfig

        child = ("import os, time; open({str(pid_file)!r}, 'w').write(str(os.getpid())); "
                 "time.sleep(120)")
        launch.command = lambda cfg, job, result: [sys.executable, "-c", child]
        with launch.sigterm_as_exit():
            launch.run_calculation({{"label": "slow"}}, LaunchConfig(timeout_s=300),
                                   {str(tmp_path)!r})
    """)
    )
    parent = subprocess.Popen(
        [sys.executable, str(script)], cwd=Path(__file__).resolve().parents[2]
    )
    deadline = time.time() + 60
    while not pid_file.exists() or not pid_file.read_text():
        assert time.time() < deadline and parent.poll() is None, "the calculation never started"
        time.sleep(0.1)
    child = int(pid_file.read_text())
    parent.send_signal(signal.SIGTERM)
    assert parent.wait(timeout=30) == 128 + signal.SIGTERM
    deadline = time.time() + 10
    while _alive(child) and time.time() < deadline:
        time.sleep(0.1)
    assert not _alive(child)
