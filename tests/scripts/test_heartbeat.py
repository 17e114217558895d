"""scripts/heartbeat.py: a silent step (a first ``pip install -q``) prints a line at a steady interval, passes the
command's output and exit code through, and takes the command as an argument list."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
HEARTBEAT = ROOT / "scripts" / "heartbeat.py"


def _beat(*cmd: str, every: str = "1") -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, str(HEARTBEAT), "--what", "installing", "--every", every, "--", *cmd],
                          capture_output=True, text=True, timeout=60)  # fmt: skip


def test_a_silent_command_gets_a_line_every_interval_and_its_output_passes_through():
    result = _beat(sys.executable, "-c", "import time; time.sleep(3.5); print('installed 12 packages')")
    assert result.returncode == 0
    lines = result.stdout.splitlines()
    assert lines[0] == "installing …"
    assert sum(line.startswith("installing: still running (") for line in lines) >= 2
    assert "installed 12 packages" in lines
    assert lines[-1].startswith("installing: done in ")


def test_the_command_exit_code_is_kept_and_its_arguments_reach_it_literally():
    result = _beat(sys.executable, "-c", "import sys; print(sys.argv[1]); sys.exit(3)", "$(touch /tmp/x); `id`")
    assert result.returncode == 3
    assert "$(touch /tmp/x); `id`" in result.stdout.splitlines()
    assert result.stdout.splitlines()[-1].startswith("installing: failed (exit 3) in ")


def test_the_first_install_goes_through_it():
    makefile = (ROOT / "Makefile").read_text()
    recipe = makefile.split("$(STAMP):", 1)[1].split("\n\n", 1)[0]
    assert "scripts/heartbeat.py" in recipe.split("-r requirements-dev.txt")[0].rsplit("\n", 2)[-2]
