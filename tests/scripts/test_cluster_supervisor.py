"""The native cluster's supervision and readiness, without the cluster: `cluster.py supervise` restarts a service
that exits and kills what it left in its process group; `status` wants the service's own process; `up`'s readiness
checks ignore what a previous process of the service left (an old heartbeat, an old "ready" line)."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import textwrap
import time
from datetime import UTC, datetime
from pathlib import Path

import psutil
import pytest

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "scripts"))
import cluster  # noqa: E402
from checks import wait_until  # noqa: E402

#: a service that starts a helper in its own process group (as a worker starts its pool) and records the helper
SERVICE = textwrap.dedent("""
    import subprocess, sys, time
    helper = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(300)"])
    open(sys.argv[1], "a").write(f"{helper.pid}\\n")
    time.sleep(300)
""")


def _until(probe, timeout_s: float = 20):
    return wait_until("the condition", probe, timeout_s)


def _dead(pid: int) -> bool:
    try:
        return psutil.Process(pid).status() == psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return True


def test_a_service_that_dies_is_started_again_and_what_it_left_is_killed(tmp_path):
    helpers = tmp_path / "helpers"
    driver = textwrap.dedent(f"""
        import sys
        sys.path.insert(0, {str(ROOT / "scripts")!r})
        import cluster
        cluster.Cluster.command = lambda self, service: [sys.executable, "-c", {SERVICE!r}, {str(helpers)!r}]
        cluster.Cluster.from_env().supervise("scheduler")
    """)
    env = {**os.environ, "SHOPLAKE_CLUSTER_DIR": str(tmp_path / "c")}
    sup = subprocess.Popen([sys.executable, "-c", driver], env=env, start_new_session=True)
    child_file = tmp_path / "c" / "pids" / "scheduler.child"
    try:
        first = int(_until(lambda: child_file.exists() and child_file.read_text()))
        first_helper = int(_until(lambda: helpers.exists() and helpers.read_text().split()[0]))
        os.kill(first, signal.SIGKILL)  # the service dies; its helper would live on, orphaned
        second = int(_until(lambda: child_file.read_text() != str(first) and child_file.read_text()))
        assert second != first
        assert psutil.Process(second).is_running()
        assert _until(lambda: _dead(first_helper)), "the dead service's helper outlived it"
        second_helper = int(_until(lambda: len(helpers.read_text().split()) == 2 and helpers.read_text().split()[1]))
        # stopping the supervisor stops the service and its whole group, and forgets the pid
        sup.send_signal(signal.SIGTERM)
        assert sup.wait(timeout=40) == 0
        assert _dead(second)
        assert _dead(second_helper)
        assert not child_file.exists()
    finally:
        if sup.poll() is None:
            os.killpg(sup.pid, signal.SIGKILL)


def test_a_service_that_keeps_dying_is_restarted_with_growing_delays():
    waits, streak = [], 0
    for ran in (0.5, 0.5, 0.5, 0.5, 0.5, 0.5, 0.5, cluster.STABLE_S + 1, 0.5):
        streak, wait = cluster.restart_delay(ran, streak)
        waits.append(wait)
    assert waits == [1, 2, 4, 8, 16, 30, 30, 1, 2]


@pytest.fixture
def quiet_cluster(tmp_path, monkeypatch):
    c = cluster.Cluster.from_env({"SHOPLAKE_CLUSTER_DIR": str(tmp_path)})
    monkeypatch.setattr(c, "postgres_running", lambda: True)
    monkeypatch.setattr(c, "redis_running", lambda: True)
    return c


def test_status_wants_the_service_itself_and_a_fresh_scheduler_heartbeat(quiet_cluster, monkeypatch):
    c = quiet_cluster
    c.path("pids", "scheduler.pid").write_text(str(os.getpid()))  # a supervisor alive…
    monkeypatch.setattr(c, "health", lambda: {"scheduler": {"status": "healthy"}})
    assert c.status()["scheduler"] is False  # …but no service under it
    sleeper = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    try:
        c.path("pids", "scheduler.child").write_text(str(sleeper.pid))
        assert c.status()["scheduler"] is True
        assert c.status()["scheduler-heartbeat"] is True
        monkeypatch.setattr(c, "health", lambda: {"scheduler": {"status": "unhealthy"}})  # a stale heartbeat
        assert c.status()["scheduler-heartbeat"] is False
    finally:
        sleeper.kill()
        sleeper.wait()
    assert c.status()["scheduler"] is False  # the service died


def test_readiness_ignores_what_a_previous_process_left(quiet_cluster, monkeypatch):
    c = quiet_cluster

    def health(at: float) -> dict:
        beat = datetime.fromtimestamp(at, UTC).isoformat()
        parts = {p: {"status": "healthy", "latest_heartbeat": beat} for p in ("scheduler", "triggerer",
                                                                              "dag_processor")}  # fmt: skip
        parts["scheduler"] = {"status": "healthy", "latest_scheduler_heartbeat": beat}
        return {"metadatabase": {"status": "healthy"}, **parts}

    since = time.time()
    monkeypatch.setattr(c, "health", lambda: health(since - 20))  # the dead scheduler's last heartbeat
    assert c.healthy() is True
    assert c.healthy(since) is False
    monkeypatch.setattr(c, "health", lambda: health(since + 1))
    assert c.healthy(since) is True

    log = c.path("logs", "worker-default.log")
    log.write_text(f"old\n[x] default@{c.worker_hostname('default')} ready.\n")
    offset = log.stat().st_size  # the worker restarted here
    assert c.worker_ready("default") is True
    assert c.worker_ready("default", offset) is False
    with open(log, "a") as f:
        f.write(json.dumps("booting") + f"\n[y] default@{c.worker_hostname('default')} ready.\n")
    assert c.worker_ready("default", offset) is True


def test_down_kills_what_carries_the_cluster_mark_and_nothing_else(tmp_path):
    c = cluster.Cluster.from_env({"SHOPLAKE_CLUSTER_DIR": str(tmp_path)})
    sleep = [sys.executable, "-c", "import time; time.sleep(60)"]
    # a task process left outside any service's group, another cluster's process, and a user's own
    ours = subprocess.Popen(sleep, env={**os.environ, cluster.CLUSTER_ID_ENV: str(c.dir)}, start_new_session=True)
    other = subprocess.Popen(sleep, env={**os.environ, cluster.CLUSTER_ID_ENV: str(tmp_path / "other")})
    mine = subprocess.Popen(sleep)
    try:
        assert c.sweep() == [ours.pid]
        assert ours.wait(timeout=10) == -signal.SIGKILL
        assert other.poll() is None
        assert mine.poll() is None
    finally:
        for p in (ours, other, mine):
            p.kill()
            p.wait()
    # a shell pointed at the cluster (`eval "$(cluster.py env)"`) does not carry the mark to what the user starts
    assert f"export {cluster.CLUSTER_ID_ENV}=" not in c.shell_env()
    assert cluster.CLUSTER_ID_ENV in c.airflow_env()
