"""The embedded Mongo's start/stop: stop ends the server and leaves no zombie behind, whoever started it; a data folder
serves one server, and a second start on it is refused by name without touching the first's record."""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

import devserver
import pytest
from object_stores import free_port

from shoplake.process import alive


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
    assert alive(pid)
    assert devserver.stop(tmp_path / "mongo") is True
    # reaped, not a zombie: kill(pid, 0) alone still finds a zombie, which made stop wait out its whole timeout
    assert _state(pid) is None
    assert not alive(pid)
    assert not devserver._ping(port)
    assert devserver.stop(tmp_path / "mongo") is False  # nothing left to stop


@pytest.mark.integration  # real secantusdb servers
def test_a_folder_in_use_is_refused_by_name_and_its_server_keeps_its_record(tmp_path):
    folder = tmp_path / "mongo"
    first, second = free_port(), free_port()
    pid = devserver.start(first, folder)
    try:
        record = (folder / devserver.PID_FILE).read_text()
        with pytest.raises(devserver.DataDirInUse) as refused:
            devserver.start(second, folder)
        message = str(refused.value)
        assert str(pid) in message
        assert "MONGO_DIR" in message
        assert f"127.0.0.1:{first}" in message
        # the refused start touched nothing: the record still names the running server, which still answers
        assert (folder / devserver.PID_FILE).read_text() == record
        assert devserver._ping(first)
        assert not devserver._ping(second)
        # the same folder and port: the running server is used, not owned (0), and not restarted
        assert devserver.start(first, folder) == 0
        assert devserver.recorded(folder)["pid"] == pid
    finally:
        assert devserver.stop(folder) is True
    assert not devserver._ping(first)
    assert devserver.holders(folder / "storage") == []


@pytest.mark.integration
def test_an_unrecorded_server_on_the_folder_is_found_and_named(tmp_path):
    folder = tmp_path / "mongo"
    (folder / "storage").mkdir(parents=True)
    port = free_port()
    stray = subprocess.Popen(
        [devserver._server_binary(), "--host", "127.0.0.1", "--port", str(port), "--storage-path",
         str(folder / "storage")],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    try:
        deadline = time.monotonic() + 30
        while not devserver._ping(port) and time.monotonic() < deadline:
            time.sleep(0.2)
        with pytest.raises(devserver.DataDirInUse, match=str(stray.pid)):
            devserver.start(free_port(), folder)
        assert not (folder / devserver.PID_FILE).exists()
    finally:
        stray.terminate()
        stray.wait(20)


@pytest.mark.integration
def test_run_stops_only_the_server_it_started(tmp_path):
    folder, port = tmp_path / "mongo", free_port()
    ping = [sys.executable, "-c", f"import sys; sys.path.insert(0, {str(Path(devserver.__file__).parent)!r}); "
            f"import devserver; sys.exit(0 if devserver._ping({port}) else 1)"]  # fmt: skip
    assert devserver.run(port, folder, ping) == 0
    assert not devserver._ping(port)  # it started the server, so it stopped it
    pid = devserver.start(port, folder)
    try:
        assert devserver.run(port, folder, ping) == 0
        assert devserver.recorded(folder)["pid"] == pid  # someone else's server: left running
    finally:
        devserver.stop(folder)
