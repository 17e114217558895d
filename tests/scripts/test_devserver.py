"""The embedded Mongo's start/stop: stop ends the server and leaves no zombie behind, whoever started it."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import devserver
import pytest
from object_stores import free_port


def _state(pid: int) -> str | None:
    """The kernel's state letter for ``pid`` (``Z`` for a zombie), None once it is gone."""
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[-1].split()[0]
    except OSError:
        return None


@pytest.mark.integration  # a real secantusdb server
def test_stop_ends_the_server_this_process_started_and_reaps_it(tmp_path):
    port = free_port()
    pid = devserver.start(port, tmp_path / "mongo")
    assert pid > 0
    assert devserver.running(pid)
    assert devserver.stop(tmp_path / "mongo") is True
    # reaped, not a zombie: kill(pid, 0) alone still finds a zombie, which made stop wait out its whole timeout
    assert _state(pid) is None
    assert not devserver.running(pid)
    assert not devserver._ping(port)
    assert devserver.stop(tmp_path / "mongo") is False  # nothing left to stop


def test_an_ended_child_is_not_running_and_a_live_one_is():
    live = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(30)"])
    try:
        assert devserver.running(live.pid)
    finally:
        live.kill()
    ended = subprocess.Popen([sys.executable, "-c", "pass"])
    while _state(ended.pid) not in ("Z", None):  # ended, not yet reaped
        pass
    assert not devserver.running(ended.pid)
    assert _state(ended.pid) is None  # running() reaped it
    live.wait()
    assert not devserver.running(os.getpid() + 10_000_000)  # no such pid
