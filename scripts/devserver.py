"""Embedded MongoDB for laptops, demos and tests: a ``secantusdb`` server (Mongo wire protocol) on loopback.

    python scripts/devserver.py start --port 27018 --data-dir .mongo
    python scripts/devserver.py stop --data-dir .mongo

A development tool, not part of the shipped library (``make dist`` does not package it).

Production points the ``mongo_default`` connection at a real MongoDB instead (docker compose uses ``mongo:7``).
"""

from __future__ import annotations

import argparse
import contextlib
import logging
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

log = logging.getLogger(__name__)

PID_FILE = "secantusd.pid"


def _ping(port: int, timeout_ms: int = 500) -> bool:
    from pymongo import MongoClient
    from pymongo.errors import PyMongoError

    try:
        with MongoClient(f"mongodb://127.0.0.1:{port}", serverSelectionTimeoutMS=timeout_ms) as client:
            client.admin.command("ping")
        return True
    except PyMongoError:
        return False


def _server_binary() -> str:
    here = Path(sys.executable).parent / "secantusd-py"
    found = str(here) if here.exists() else shutil.which("secantusd-py")
    if not found:
        raise FileNotFoundError("secantusd-py not found: pip install secantusdb (see requirements.txt)")
    return found


def start(port: int, data_dir: Path, timeout_s: float = 60.0) -> int:
    """Start the server in the background (no-op if one answers on ``port``); returns its pid (0 if reused)."""
    if _ping(port):
        log.info("a Mongo server already answers on 127.0.0.1:%s", port)
        return 0
    data_dir.mkdir(parents=True, exist_ok=True)
    storage = data_dir / "storage"
    storage.mkdir(exist_ok=True)
    log_file = (data_dir / "secantusd.log").open("ab")
    proc = subprocess.Popen(
        [_server_binary(), "--host", "127.0.0.1", "--port", str(port), "--storage-path", str(storage)],
        stdout=log_file,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    (data_dir / PID_FILE).write_text(str(proc.pid))
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"secantusd exited with {proc.returncode}; see {data_dir / 'secantusd.log'}")
        if _ping(port):
            log.info("secantusd pid %s listening on 127.0.0.1:%s (data in %s)", proc.pid, port, storage)
            return proc.pid
        time.sleep(0.2)
    proc.terminate()
    raise TimeoutError(f"secantusd did not answer on port {port} within {timeout_s}s")


def stop(data_dir: Path, timeout_s: float = 20.0) -> bool:
    """Stop the server started by :func:`start` with this ``data_dir``; False if none was running."""
    pid_file = data_dir / PID_FILE
    if not pid_file.exists():
        return False
    pid = int(pid_file.read_text())
    pid_file.unlink()
    try:
        os.kill(pid, signal.SIGTERM)
    except ProcessLookupError:
        return False
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if not running(pid):
            return True
        time.sleep(0.2)
    with contextlib.suppress(ProcessLookupError):
        os.kill(pid, signal.SIGKILL)
    running(pid)  # reap it if it is our child
    return True


def running(pid: int) -> bool:
    """Whether ``pid`` still runs. An ended process is not "running" while it waits to be reaped: our own child is
    reaped here, and another's zombie (an orphan whose new parent does not reap, as under some container inits) is
    recognised from /proc — ``kill(pid, 0)`` alone finds both and would wait out every timeout."""
    with contextlib.suppress(ChildProcessError):
        if os.waitpid(pid, os.WNOHANG)[0] == pid:
            return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:  # no /proc (macOS) or it just went
        return True
    return stat.rsplit(")", 1)[-1].split()[0] not in ("Z", "X")


def main(argv: list[str] | None = None) -> int:
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("action", choices=["start", "stop", "status"])
    p.add_argument("--port", type=int, default=int(os.environ.get("SHOPLAKE_MONGO_PORT", 27018)))
    p.add_argument("--data-dir", type=Path, default=Path(".mongo"))
    a = p.parse_args(argv)
    if a.action == "start":
        start(a.port, a.data_dir.resolve())
    elif a.action == "stop":
        log.info("stopped" if stop(a.data_dir.resolve()) else "nothing to stop")
    else:
        up = _ping(a.port)
        log.info("127.0.0.1:%s %s", a.port, "answers" if up else "does not answer")
        return 0 if up else 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
