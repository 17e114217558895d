"""Backfill through a real scheduler: `airflow standalone` + `airflow backfill create` (marked slow)."""

import os
import signal
import socket
import sqlite3
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

from shoplake.io.lake import read_counts
from shoplake.paths import Zone, partition_path

pytestmark = [pytest.mark.slow, pytest.mark.integration, pytest.mark.spark]

BIN = Path(sys.executable).parent


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _wait_http(url: str, timeout_s: float) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(url, timeout=2):
                return
        except OSError:
            time.sleep(2)
    raise TimeoutError(f"{url} did not answer within {timeout_s}s")


def backfill_states(db: Path) -> list[str]:
    """States of the backfill runs, read from the metadata DB (SQLite) the standalone scheduler writes."""
    with sqlite3.connect(db, timeout=30) as conn:
        rows = conn.execute("SELECT state FROM dag_run WHERE run_type = 'backfill'").fetchall()
    return sorted(r[0] for r in rows)


ROOT = Path(__file__).resolve().parents[2]


def test_backfill_creates_one_partition_per_day(tmp_path, mongo_port, tiny_sentiment_model):
    """docs/operations.md's path without a GPU: `make airflow-init`, `airflow standalone`, log in, backfill."""
    port = _free_port()
    lake = tmp_path / "lake"
    env = {
        **os.environ,
        "AIRFLOW_HOME": str(tmp_path / "airflow"),
        "AIRFLOW__API__PORT": str(port),
        "AIRFLOW__CORE__EXECUTION_API_SERVER_URL": f"http://127.0.0.1:{port}/execution/",
        "AIRFLOW__CORE__DAGS_ARE_PAUSED_AT_CREATION": "True",
        "SHOPLAKE_LAKE_ROOT": str(lake),
        "SHOPLAKE_STEAM_COLLECTION": "steam_backfill",
        "SHOPLAKE_SENTIMENT_MODEL": tiny_sentiment_model,
    }

    def airflow(*args: str) -> subprocess.CompletedProcess:
        return subprocess.run([str(BIN / "airflow"), *args], env=env, capture_output=True, text=True, timeout=300)

    # `make standalone` (docs/operations.md) runs `make airflow-init` first: metadata DB and the gpu pool (1 slot, no
    # GPU). -o: the venv is installed already (by `make test`); never reinstall it from inside a test
    make = subprocess.run(
        ["make", "-C", str(ROOT), "-o", ".venv/.installed", "airflow-init"],
        env=env, capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    assert make.returncode == 0, make.stdout[-2000:] + make.stderr[-2000:]
    pool = airflow("pools", "get", "gpu", "--output", "json")
    assert pool.returncode == 0, pool.stderr[-1000:]
    assert '"slots": "1"' in pool.stdout.replace("'", '"') or '"slots": 1' in pool.stdout, pool.stdout

    log = (tmp_path / "standalone.log").open("w")
    proc = subprocess.Popen(
        [str(BIN / "airflow"), "standalone"], env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True
    )
    try:
        _wait_http(f"http://127.0.0.1:{port}/api/v2/monitor/health", 240)
        deadline = time.monotonic() + 120
        while airflow("dags", "unpause", "steam_reviews_daily").returncode != 0:  # until the DAG is parsed
            assert time.monotonic() < deadline, "steam_reviews_daily never showed up"
            time.sleep(3)
        # docs/operations.md: log in as admin with the password standalone generated into $AIRFLOW_HOME
        passwords = tmp_path / "airflow" / "simple_auth_manager_passwords.json.generated"
        assert "admin" in passwords.read_text()
        for _ in range(3):  # SQLite may answer "database is locked" while the scheduler writes: try again
            created = airflow(
                "backfill",
                "create",
                "--dag-id",
                "steam_reviews_daily",
                "--from-date",
                "2019-03-01",
                "--to-date",
                "2019-03-02",
                "--max-active-runs",
                "2",
            )
            if created.returncode == 0 or "database is locked" not in created.stderr:
                break
            time.sleep(5)
        assert created.returncode == 0, created.stderr[-2000:]
        deadline = time.monotonic() + 420
        while True:
            states = backfill_states(tmp_path / "airflow" / "airflow.db")
            if states == ["success", "success"] or "failed" in states:
                break
            assert time.monotonic() < deadline, f"backfill still {states}"
            time.sleep(5)
        assert states == ["success", "success"], (tmp_path / "standalone.log").read_text()[-3000:]
    finally:
        os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(timeout=60)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
        log.close()

    for ds, rows in (("2019-03-01", 318), ("2019-03-02", 363)):
        counts = read_counts(partition_path(str(lake), Zone.CURATED, "steam_reviews", ds))
        assert counts == {"in": rows, "curated": rows, "quarantined": 0}
        assert (lake / "enriched" / "steam_reviews" / f"ds={ds}").is_dir()
    # unpausing also lets the scheduler run the latest interval (catchup is off); the backfill wrote exactly its days
    backfilled = sorted(p.name for p in (lake / "curated" / "steam_reviews").iterdir() if p.name < "ds=2020")
    assert backfilled == ["ds=2019-03-01", "ds=2019-03-02"]
