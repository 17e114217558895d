"""Embedded MongoDB for laptops, demos and tests: a ``secantusdb`` server (Mongo wire protocol) on loopback.

    python scripts/devserver.py start --port 27018 --data-dir .mongo/27018
    python scripts/devserver.py run --port 27018 --data-dir .mongo/27018 -- python scripts/demo.py
    python scripts/devserver.py stop --data-dir .mongo/27018

A development tool, not part of the shipped library (``make dist`` does not package it).

**One server per data folder.** The Makefile's folder follows the port (``.mongo/<port>``; ``MONGO_DIR``
overrides it), so two checkouts' targets on two ports never share one. A folder's server is recorded in its
``secantusd.pid`` (pid and port) only once it answers; a start on a folder whose server is alive on the same port
reuses it (and does not own it: its ``stop`` is left to whoever started it), and a start on a folder in use by a
server on another port — or by an unrecorded server — fails with one message naming that process and the
overrides, touching nothing of the running server's. ``run`` starts the server if needed, runs a command, and stops
the server afterwards only if it started it (Ctrl-C included).

Production points the ``mongo_default`` connection at a real MongoDB instead (docker compose uses ``mongo:7``).
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

from shoplake.process import alive, find_processes, stop_processes

log = logging.getLogger(__name__)

PID_FILE = "secantusd.pid"
#: what secantusd's storage engine says when another process holds the folder
IN_USE_MESSAGE = "already being managed by another process"


class DataDirInUse(RuntimeError):
    """The data folder belongs to another running server: the message names it and what to do."""


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


def recorded(data_dir: Path) -> dict | None:
    """The server recorded in ``data_dir`` (``{"pid", "port"}``) while it runs; None when none is (or it ended)."""
    try:
        text = (data_dir / PID_FILE).read_text().strip()
    except OSError:
        return None
    try:
        rec = json.loads(text)
        rec = rec if isinstance(rec, dict) else {"pid": int(rec), "port": None}  # an older plain pid
    except ValueError:
        return None
    return rec if alive(int(rec["pid"])) else None


def holders(storage: Path) -> list[int]:
    """Pids of secantusd processes serving ``storage`` (read from /proc: a server nobody recorded included)."""
    path = str(storage)
    return find_processes(cmdline=lambda argv: any("secantusd" in a for a in argv[:2]) and path in argv)


def _in_use(data_dir: Path, pid: int, port: int | None, asked: int) -> DataDirInUse:
    where = f"127.0.0.1:{port}" if port else "an unrecorded port"
    return DataDirInUse(
        f"the embedded Mongo data folder {data_dir} is in use by secantusd pid {pid} ({where}); a second server "
        f"cannot open it for port {asked}. Use that server (SHOPLAKE_MONGO_PORT={port or '<its port>'}), stop it "
        f"(`python scripts/devserver.py stop --data-dir {data_dir}`, or `kill {pid}`), or give this one its own "
        "folder (MONGO_DIR=<folder>; by default the folder follows SHOPLAKE_MONGO_PORT)"
    )


def start(port: int, data_dir: Path, timeout_s: float = 60.0) -> int:
    """Start the server in the background; returns its pid, or 0 when a server was already there (not ours).

    Raises:
        DataDirInUse: ``data_dir`` is served by another process on another port (or by an unrecorded one).
    """
    data_dir.mkdir(parents=True, exist_ok=True)
    storage = data_dir / "storage"
    rec = recorded(data_dir)
    if rec is not None:
        if rec.get("port") in (port, None) and _ping(port):  # None: recorded by an older release (a plain pid)
            log.info("secantusd pid %s already serves %s on 127.0.0.1:%s", rec["pid"], data_dir, port)
            return 0
        raise _in_use(data_dir, rec["pid"], rec.get("port"), port)
    others = holders(storage)
    if others:
        raise _in_use(data_dir, others[0], None, port)
    if _ping(port):
        log.info("a Mongo server (not started from %s) already answers on 127.0.0.1:%s: using it", data_dir, port)
        return 0
    storage.mkdir(exist_ok=True)
    log_path = data_dir / "secantusd.log"
    log_start = log_path.stat().st_size if log_path.exists() else 0
    with log_path.open("ab") as log_file:
        proc = subprocess.Popen(
            [_server_binary(), "--host", "127.0.0.1", "--port", str(port), "--storage-path", str(storage)],
            stdout=log_file,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            with log_path.open("rb") as f:
                f.seek(log_start)
                said = f.read().decode(errors="replace")
            if IN_USE_MESSAGE in said:  # lost a race with another start on the same folder
                others = holders(storage)
                raise _in_use(data_dir, others[0] if others else 0, None, port)
            raise RuntimeError(f"secantusd exited with {proc.returncode}: {said.strip()[-500:]} (log {log_path})")
        if _ping(port):
            # recorded only now that it answers: a start that fails never overwrites a running server's record
            (data_dir / PID_FILE).write_text(json.dumps({"pid": proc.pid, "port": port}))
            log.info("secantusd pid %s listening on 127.0.0.1:%s (data in %s)", proc.pid, port, storage)
            return proc.pid
        time.sleep(0.2)
    proc.terminate()
    raise TimeoutError(f"secantusd did not answer on port {port} within {timeout_s}s (log {log_path})")


def stop(data_dir: Path, timeout_s: float = 20.0) -> bool:
    """Stop the server recorded in ``data_dir``; False if none was running."""
    pid_file = data_dir / PID_FILE
    rec = recorded(data_dir)
    pid_file.unlink(missing_ok=True)
    if rec is None:
        return False
    pid = int(rec["pid"])
    if not alive(pid):
        return False
    stop_processes([pid], timeout_s=timeout_s)
    alive(pid)  # reap it if it is our child
    return True


def run(port: int, data_dir: Path, command: list[str]) -> int:
    """Run ``command`` with the server up; stop the server afterwards only if this call started it."""
    started = start(port, data_dir)
    child = None

    def forward(signum: int, _frame: object) -> None:
        if child is not None and child.poll() is None:
            child.send_signal(signum)

    previous = {s: signal.signal(s, forward) for s in (signal.SIGINT, signal.SIGTERM)}
    try:
        child = subprocess.Popen(command)
        return child.wait()
    finally:
        for s, handler in previous.items():
            signal.signal(s, handler)
        if child is not None and child.poll() is None:
            child.terminate()
            child.wait()
        if started:
            stop(data_dir)


def main(argv: list[str] | None = None) -> int:
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    argv = sys.argv[1:] if argv is None else argv
    command: list[str] = []
    if "--" in argv:
        at = argv.index("--")
        argv, command = argv[:at], argv[at + 1 :]
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("action", choices=["start", "stop", "status", "run"])
    p.add_argument("--port", type=int, default=int(os.environ.get("SHOPLAKE_MONGO_PORT", 27018)))
    p.add_argument("--data-dir", type=Path, default=None, help="default: .mongo/<port>")
    a = p.parse_args(argv)
    data_dir = (a.data_dir or Path(".mongo") / str(a.port)).resolve()
    try:
        if a.action == "start":
            start(a.port, data_dir)
        elif a.action == "run":
            if not command:
                p.error("run needs a command after --")
            return run(a.port, data_dir, command)
        elif a.action == "stop":
            log.info("stopped" if stop(data_dir) else "nothing to stop")
        else:
            up = _ping(a.port)
            log.info("127.0.0.1:%s %s", a.port, "answers" if up else "does not answer")
            return 0 if up else 1
    except DataDirInUse as exc:
        log.error("%s", exc)
        return 3
    return 0


if __name__ == "__main__":
    sys.exit(main())
