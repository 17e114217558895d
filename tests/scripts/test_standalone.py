"""`make standalone` on a port that is not Airflow's default: a triggered DAG's task succeeds (task processes report
to the execution API on that port), each run's note names its day, the interval unpausing schedules on a day the
source does not hold ends skipped, and Ctrl-C stops every process the run started, its Mongo included."""

from __future__ import annotations

import json
import os
import signal
import sqlite3
import subprocess
import sys
from pathlib import Path

import devserver
import pytest
import standalone
from checks import wait_until
from object_stores import free_port

ROOT = Path(__file__).resolve().parents[2]


def _wait(what: str, check, timeout_s: float, log: Path | None = None):
    return wait_until(what, check, timeout_s, every_s=1, log=log)


def _task_state(db: Path, dag_id: str, run_id: str, task_id: str) -> str | None:
    with sqlite3.connect(db) as conn:
        row = conn.execute(
            "SELECT state FROM task_instance WHERE dag_id = ? AND run_id = ? AND task_id = ?", (dag_id, run_id, task_id)
        ).fetchone()
    return row[0] if row else None


def _note(db: Path, run_id: str) -> str | None:
    with sqlite3.connect(db) as conn:
        row = conn.execute(
            "SELECT n.content FROM dag_run_note n JOIN dag_run r ON r.id = n.dag_run_id WHERE r.run_id = ?", (run_id,)
        ).fetchone()
    return row[0] if row else None


def _run_ids(db: Path, prefix: str) -> list[str]:
    with sqlite3.connect(db) as conn:
        rows = conn.execute("SELECT run_id FROM dag_run WHERE run_id LIKE ?", (f"{prefix}%",)).fetchall()
    return [r[0] for r in rows]


@pytest.mark.integration
@pytest.mark.slow  # airflow standalone: about a minute
def test_standalone_on_another_port_runs_a_task_and_ctrl_c_leaves_nothing(tmp_path):
    api_port, mongo_port = free_port(), free_port()
    assert api_port != 8080
    env = {
        **os.environ,
        "AIRFLOW_HOME": str(tmp_path / "airflow"),
        "AIRFLOW__API__PORT": str(api_port),
        "SHOPLAKE_MONGO_PORT": str(mongo_port),
        "MONGO_DIR": str(tmp_path / "mongo"),
        "SHOPLAKE_STANDALONE_DIR": str(tmp_path / "standalone"),
        "SHOPLAKE_LAKE_ROOT": str(tmp_path / "lake"),
        "AIRFLOW_CONN_MONGO_DEFAULT": f"mongo://127.0.0.1:{mongo_port}/shoplake",
    }
    for leftover in ("AIRFLOW__CORE__EXECUTION_API_SERVER_URL", "AIRFLOW__CORE__EXECUTOR"):
        env.pop(leftover, None)  # the script derives both
    sa = standalone.Standalone(env)
    proc = subprocess.Popen([sys.executable, str(ROOT / "scripts" / "standalone.py"), "up", "--follow"], env=env,
                            cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)  # fmt: skip
    try:
        _wait("a healthy standalone", sa.healthy, 240, sa.log_path)
        token = sa.state()["token"]
        assert devserver._ping(mongo_port)
        db = tmp_path / "airflow" / "airflow.db"
        airflow = [str(Path(sys.executable).parent / "airflow")]

        def triggered() -> str | None:
            out = subprocess.run([*airflow, "dags", "trigger", "steam_reviews_daily", "--conf",
                                  json.dumps({"ds": "2019-03-01"}), "--output", "json"],
                                 env={**env, **sa.airflow_env(token)}, capture_output=True, text=True)  # fmt: skip
            if out.returncode:
                return None  # not parsed yet
            with sqlite3.connect(db) as conn:
                row = conn.execute("SELECT run_id FROM dag_run WHERE dag_id = 'steam_reviews_daily'").fetchone()
            return row[0] if row else None

        run_id = _wait("steam_reviews_daily triggered", triggered, 180, sa.log_path)
        unpaused = subprocess.run([*airflow, "dags", "unpause", "steam_reviews_daily"],
                                  env={**env, **sa.airflow_env(token)}, capture_output=True, text=True)  # fmt: skip
        assert unpaused.returncode == 0, unpaused.stderr

        def ended() -> str | None:
            state = _task_state(db, "steam_reviews_daily", run_id, "resolve_partition")
            return state if state in ("success", "failed", "up_for_retry") else None

        state = _wait("resolve_partition ending", ended, 180, sa.log_path)
        assert state == "success", sa.log_path.read_text(errors="replace")[-4000:]
        assert sa.processes(token), "the run's processes carry its token"
        # the run's page shows which day it processes (its note, written by the plugin's scheduler listener)
        assert _note(db, run_id) == "ds=2019-03-01 (ds Param)"
        # unpausing also let the scheduler run the latest interval, a day the sample does not hold: it ends
        # skipped at extract_reviews (nothing written, no asset event), its note naming that day
        scheduled = _wait("the scheduled run", lambda: _run_ids(db, "scheduled__"), 120, sa.log_path)[0]

        def extract_ended() -> str | None:
            state = _task_state(db, "steam_reviews_daily", scheduled, "extract_reviews")
            return state if state in ("success", "failed", "skipped", "up_for_retry") else None

        assert _wait("the scheduled run's extract", extract_ended, 180, sa.log_path) == "skipped"
        assert _note(db, scheduled).endswith("(data interval)")
    finally:
        proc.send_signal(signal.SIGINT)  # Ctrl-C in `make standalone FOLLOW=1`
        proc.wait(120)
    assert proc.returncode == 130, proc.stderr.read()
    assert sa.processes(token) == []
    assert not sa.healthy()
    assert not devserver._ping(mongo_port)
    assert sa.state() is None


def test_down_stops_every_process_carrying_the_runs_token_whatever_its_session(tmp_path):
    """A task's spark-submit moves to its own session: down finds it by the run's token, not by process group."""
    token = "t0ken"
    env = {**os.environ, standalone.TOKEN_VAR: token}
    stray = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(120)"], env=env, start_new_session=True)
    other = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(120)"])  # not the run's: left alone
    try:
        sa = standalone.Standalone({"SHOPLAKE_STANDALONE_DIR": str(tmp_path), "PATH": os.environ["PATH"]})
        (tmp_path / standalone.STATE_FILE).write_text(
            json.dumps({"pid": 2**22 + 12345, "port": 1, "token": token, "mongo_started": False})
        )
        assert sa.processes(token) == [stray.pid]
        assert sa.down(grace_s=10) == 1
        assert stray.wait(10) is not None
        assert sa.state() is None
        assert other.poll() is None
    finally:
        for p in (stray, other):
            p.kill()
            p.wait()
