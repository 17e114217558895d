"""Airflow standalone on one machine, in the background, with every process it starts recorded and stopped.

    python scripts/standalone.py up [--follow]    # or `make standalone` (follows its log; Ctrl-C stops it all)
    python scripts/standalone.py status
    python scripts/standalone.py down             # or `make standalone-down`, from any terminal

``up`` starts the embedded Mongo (its data folder follows its port: ``.mongo/<port>``, ``MONGO_DIR`` overrides) and
``airflow standalone`` (scheduler, DAG processor, API server, triggerer, LocalExecutor) with the Airflow settings of
``scripts/deployment.py`` for ``AIRFLOW__API__PORT`` (8080 by default; any port works: the execution API URL task
processes report to follows it), waits until the API answers healthy, and prints where to log in. Everything it
starts carries a run token in its environment, so ``down`` finds every process of the run — the scheduler's task
processes, spark-submit and its JVM included, whatever process group they moved to — and stops them (TERM, then
KILL after a grace period), then the Mongo server if this run started it. State and the log live in
``SHOPLAKE_STANDALONE_DIR`` (``.standalone/``): ``standalone.json`` (pid, port, token) and ``standalone.log``
(the scheduler's output: where a task that cannot start says why).
"""

from __future__ import annotations

import argparse
import contextlib
import json
import logging
import os
import secrets
import signal
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import devserver  # sibling scripts: scripts/ is on sys.path when this runs
from deployment import ROOT, airflow_settings, api_port

from shoplake.process import alive, find_processes, stop_processes

log = logging.getLogger("shoplake.standalone")

BIN = Path(sys.executable).parent
#: the environment variable every process of one standalone run inherits (its value: the run's token)
TOKEN_VAR = "SHOPLAKE_STANDALONE_RUN"
STATE_FILE = "standalone.json"
COMPONENTS = ("metadatabase", "scheduler", "triggerer", "dag_processor")


class Standalone:
    """One standalone deployment: its folder, port and environment (all from ``env``, with defaults)."""

    def __init__(self, env: dict[str, str] | None = None) -> None:
        self.env = dict(os.environ if env is None else env)
        self.dir = Path(self.env.get("SHOPLAKE_STANDALONE_DIR") or ROOT / ".standalone").resolve()
        self.port = api_port(self.env)
        self.mongo_port = int(self.env.get("SHOPLAKE_MONGO_PORT") or 27018)
        self.mongo_dir = Path(self.env.get("MONGO_DIR") or ROOT / ".mongo" / str(self.mongo_port)).resolve()
        self.home = Path(self.env.get("AIRFLOW_HOME") or ROOT / ".airflow").resolve()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def log_path(self) -> Path:
        return self.dir / "standalone.log"

    def state(self) -> dict | None:
        try:
            return json.loads((self.dir / STATE_FILE).read_text())
        except (OSError, ValueError):
            return None

    def airflow_env(self, token: str) -> dict[str, str]:
        """The caller's environment, its defaults for what it leaves unset, then the deployment settings (which win)."""
        defaults = {
            "AIRFLOW__CORE__DAGS_FOLDER": str(ROOT / "dags"),
            "AIRFLOW__CORE__PLUGINS_FOLDER": str(ROOT / "plugins"),
            "AIRFLOW_CONN_MONGO_DEFAULT": f"mongo://127.0.0.1:{self.mongo_port}/shoplake",
            "SHOPLAKE_LAKE_ROOT": str(ROOT / "lake"),
        }
        own = {
            "AIRFLOW_HOME": str(self.home),
            "PATH": f"{BIN}{os.pathsep}{self.env.get('PATH', '')}",
            TOKEN_VAR: token,
        }
        return {**defaults, **self.env, **own, **airflow_settings("standalone", "127.0.0.1", self.port)}

    # ---- up ---------------------------------------------------------------------------------------------------
    def up(self, timeout_s: float = 300) -> None:
        state = self.state()
        if state and alive(state["pid"]):
            log.info("standalone already runs (pid %s) at http://127.0.0.1:%s", state["pid"], state["port"])
            return
        if state:  # a run that ended without `down` (a crash, a reboot): stop whatever of it is left first
            log.info("an earlier standalone run ended without a stop: stopping what is left of it")
            self.down()
        self.dir.mkdir(parents=True, exist_ok=True)
        token = secrets.token_hex(8)
        mongo_pid = devserver.start(self.mongo_port, self.mongo_dir)  # 0: a server that was already there
        env = self.airflow_env(token)
        with self.log_path.open("ab") as out:
            proc = subprocess.Popen([str(BIN / "airflow"), "standalone"], env=env, stdout=out,
                                    stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, start_new_session=True,
                                    cwd=ROOT)  # fmt: skip
        state = {"pid": proc.pid, "port": self.port, "token": token, "mongo_dir": str(self.mongo_dir),
                 "mongo_started": bool(mongo_pid), "airflow_home": str(self.home)}  # fmt: skip
        (self.dir / STATE_FILE).write_text(json.dumps(state, indent=2))
        deadline = time.monotonic() + timeout_s
        while not self.healthy():
            if proc.poll() is not None:
                raise SystemExit(f"airflow standalone exited with {proc.returncode}:\n{self.log_tail()}")
            if time.monotonic() > deadline:
                raise SystemExit(f"airflow standalone not healthy after {timeout_s:.0f} s:\n{self.log_tail()}")
            time.sleep(1)
        log.info(
            "standalone up: UI %s (user admin, password in %s); Mongo 127.0.0.1:%s; log %s; stop with "
            "`make standalone-down`",
            self.url, self.home / "simple_auth_manager_passwords.json.generated", self.mongo_port, self.log_path,
        )  # fmt: skip

    def healthy(self) -> bool:
        try:
            with urllib.request.urlopen(f"{self.url}/api/v2/monitor/health", timeout=5) as resp:
                health = json.load(resp)
        except (OSError, ValueError):
            return False
        return all((health.get(c) or {}).get("status") == "healthy" for c in COMPONENTS)

    def log_tail(self, chars: int = 3000) -> str:
        with contextlib.suppress(OSError):
            return self.log_path.read_text(errors="replace")[-chars:]
        return ""

    def follow(self) -> None:
        """Copy the log to stdout until Ctrl-C (or SIGTERM)."""
        with self.log_path.open("rb") as f:
            f.seek(0, os.SEEK_END)
            while True:
                chunk = f.read(65536)
                if chunk:
                    sys.stdout.buffer.write(chunk)
                    sys.stdout.flush()
                else:
                    state = self.state()
                    if not state or not alive(state["pid"]):
                        log.info("airflow standalone ended")
                        return
                    time.sleep(0.5)

    # ---- down -------------------------------------------------------------------------------------------------
    def processes(self, token: str) -> list[int]:
        """Every live process whose environment carries this run's token (read from /proc)."""
        return find_processes(env=(TOKEN_VAR, token))

    def down(self, grace_s: float = 30) -> int:
        """Stop every process of the run (and its Mongo, if it started it); returns how many were stopped."""
        state = self.state()
        if state is None:
            log.info("no standalone recorded in %s", self.dir)
            return 0
        pids = self.processes(state["token"])
        left = stop_processes(pids, groups=[state["pid"]], timeout_s=grace_s)
        left += stop_processes(self.processes(state["token"]), timeout_s=0)  # started while it stopped
        if left:
            log.warning("killed %d process(es) that outlived SIGTERM by %.0f s: %s", len(left), grace_s, left)
        alive(state["pid"])  # reap it if it is our child
        if state.get("mongo_started"):
            devserver.stop(Path(state["mongo_dir"]))
        (self.dir / STATE_FILE).unlink(missing_ok=True)
        log.info("standalone down: %d process(es) stopped%s", len(set(pids) | set(left)),
                 ", and its Mongo" if state.get("mongo_started") else "")  # fmt: skip
        return len(set(pids) | set(left))

    def status(self) -> dict:
        state = self.state() or {}
        return {
            "running": bool(state) and alive(state["pid"]),
            "healthy": bool(state) and self.healthy(),
            "url": self.url,
            "processes": len(self.processes(state["token"])) if state else 0,
            "log": str(self.log_path),
        }


def _interrupt(_signum: int, _frame: object) -> None:
    """A TERM (a closed terminal, ``kill``) stops everything as Ctrl-C does."""
    raise KeyboardInterrupt


def main(argv: list[str] | None = None) -> int:
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("action", choices=["up", "down", "status"])
    p.add_argument("--follow", action="store_true", help="up: then follow the log; Ctrl-C stops everything")
    p.add_argument("--timeout", type=float, default=300, help="up: seconds to wait for a healthy API")
    a = p.parse_args(argv)
    sa = Standalone()
    if a.action == "down":
        sa.down()
        return 0
    if a.action == "status":
        st = sa.status()
        sys.stdout.write(json.dumps(st, indent=2) + "\n")
        return 0 if st["healthy"] else 1
    signal.signal(signal.SIGTERM, _interrupt)
    try:
        sa.up(timeout_s=a.timeout)
        if a.follow:
            sa.follow()
            sa.down()
    except devserver.DataDirInUse as exc:
        log.error("%s", exc)
        return 3
    except (KeyboardInterrupt, SystemExit) as exc:
        if isinstance(exc, SystemExit) and exc.code:
            log.error("%s", exc.code)
        log.info("stopping standalone")
        sa.down()
        return 130 if isinstance(exc, KeyboardInterrupt) else 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
