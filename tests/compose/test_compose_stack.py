"""The deployment users run: the project's ``Dockerfile`` built and ``docker-compose.yaml`` started as shipped, on a
Docker engine of the test's own, then a day of ``steam_reviews_daily`` through Airflow's REST API on the Celery
workers in containers, the purchase training, the prediction service, a worker killed mid-Spark-task, and
``down -v``. ``make test-compose`` runs it (``.ci/run`` after ``make test``); it skips with one line where Docker
cannot run here, and fails instead under CI (``SHOPLAKE_REQUIRE_COMPOSE=1``).

Slow by nature (images of several GB): one test walks the whole life of the stack and prints what it measured.
"""

from __future__ import annotations

import os
import socket
import sys
import time
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))

import stack

DAY = "2019-03-01"
RUN_ID = f"compose-{DAY}"


def _say(what: str) -> None:
    sys.stderr.write(f"[compose] {what}\n")
    sys.stderr.flush()


@pytest.fixture(scope="module")
def engine():
    why = stack.why_docker_cannot_run()
    if why:
        if os.environ.get("SHOPLAKE_REQUIRE_COMPOSE") == "1":
            pytest.fail(f"the compose test must run here: {why}")
        pytest.skip(why)
    eng = stack.Engine()
    eng.ensure()
    yield eng
    eng.stop()


def _wait_run(api: stack.Api, dag: str, run_id: str, timeout_s: float, on_task=None) -> dict:
    started = time.monotonic()
    seen: dict[str, tuple] = {}
    while time.monotonic() - started < timeout_s:
        run = api.get(f"/api/v2/dags/{dag}/dagRuns/{run_id}")
        tis = api.get(f"/api/v2/dags/{dag}/dagRuns/{run_id}/taskInstances")["task_instances"]
        now = {t["task_id"]: (t["state"], t["try_number"]) for t in tis}
        if now != seen:
            _say(f"{dag} {int(time.monotonic() - started)} s: {run['state']} {now}")
            seen = now
        if on_task is not None:
            on_task(now)
        if run["state"] in ("success", "failed"):
            return {"state": run["state"], "tasks": now, "seconds": time.monotonic() - started}
        time.sleep(3)
    raise TimeoutError(f"{dag} {run_id} did not end within {timeout_s:.0f} s: {seen}")


def _trigger(api: stack.Api, dag: str, run_id: str, logical: str, conf: dict) -> None:
    api.patch(f"/api/v2/dags/{dag}", {"is_paused": False})
    api.post(f"/api/v2/dags/{dag}/dagRuns", {"dag_run_id": run_id, "logical_date": logical, "conf": conf})


def _commits_of_day(table: Path, ds: str) -> list[int]:
    """Versions of the table's commits that wrote day ``ds`` (read from its Delta log: shoplake.io.delta.history)."""
    from shoplake.io import delta

    return [c["version"] for c in delta.history(str(table)) if c["ds"] == ds and c["operation"] == "WRITE"]


@pytest.mark.compose
def test_the_stack_as_shipped_runs_a_day_survives_a_killed_worker_and_leaves_nothing(engine, tmp_path):
    t0 = time.monotonic()
    stack.build_base_image()
    _say(f"stand-ins built: {stack.build_standins()} (s per image; cached layers on a rerun)")
    context = stack.context_bytes()
    _say(f"build context after .dockerignore: {context / 1e6:.1f} MB")
    assert context < 50e6
    seconds = stack.build_project_image()
    size = stack.image_size(stack.PROJECT_IMAGE)
    _say(f"{stack.PROJECT_IMAGE}: built in {seconds:.0f} s, {size / 1e9:.2f} GB")
    _say(f"rebuilt after a one-line edit under src/ in {stack.rebuild_after_source_edit(tmp_path):.0f} s")

    env = stack.new_env(tmp_path)
    stk = stack.Stack(tmp_path / "compose.env")
    stk.compose("down", "-v", "--remove-orphans", check=False)  # a run that died left its stack: start clean

    # a missing variable fails `up` before anything starts, naming it
    broken = stack.write_env(tmp_path / "broken.env", {k: v for k, v in env.items() if k != "AIRFLOW_JWT_SECRET"})
    refused = stk.compose("up", "-d", check=False, env_file=broken)
    assert refused.returncode != 0
    assert "set AIRFLOW_JWT_SECRET in .env" in refused.stderr + refused.stdout
    assert not stk.leftovers()["container"]

    # the image: the Airflow user, no secret of this run in any layer or setting
    user = stack.run([stack.DOCKER, "image", "inspect", "--format", "{{.Config.User}}", stack.PROJECT_IMAGE]).stdout
    assert user.strip() == "airflow"
    layers = stack.run([stack.DOCKER, "history", "--no-trunc", stack.PROJECT_IMAGE]).stdout
    inspected = stack.run([stack.DOCKER, "image", "inspect", stack.PROJECT_IMAGE]).stdout
    for key in ("POSTGRES_PASSWORD", "AIRFLOW_JWT_SECRET", "AIRFLOW_FERNET_KEY", "SHOPLAKE_API_KEY"):
        assert env[key] not in layers + inspected, key
    assert "PASSWORD=" not in layers

    try:
        started = time.monotonic()
        stk.compose("up", "-d", timeout=1800)  # returns once airflow-init is done (it trains the sentiment heads)
        stk.wait_healthy(900)
        _say(f"every service healthy {time.monotonic() - started:.0f} s after `up -d` began (a fresh volume set)")
        api = stack.Api("admin", env["AIRFLOW_ADMIN_PASSWORD"])
        _wait_for_dag(api, "steam_reviews_daily")
        _roles_are_enforced(stk, api)

        # a day on the Celery workers; the default worker killed while the Spark curate runs
        killed: dict[str, float] = {}
        worker = stk.container("airflow-worker")

        def kill_during_curate(tasks: dict) -> None:
            # SIGKILL to the container's first process from the host: the worker dies as it would of a crash or
            # the kernel's OOM killer, and the restart policy brings it back. (`docker kill` itself counts as a
            # manual stop, for which Docker ignores every restart policy: docs/operations.md says so.)
            if not killed and tasks.get("curate_steam_reviews", (None,))[0] == "running":
                # the moment the Spark driver runs the job's file in the worker: mid-job, however fast the day is
                # (a fixed wait missed it once the whole task took 8 s)
                deadline = time.monotonic() + 120
                while time.monotonic() < deadline and not any(  # ps: pid for docker top, ww: whole lines
                    "python" in [*line.split(), "", ""][1] and "curate_steam_reviews.py" in line
                    for line in stack.run(
                        [stack.DOCKER, "top", worker, "-ww", "-eo", "pid,args"], check=False
                    ).stdout.splitlines()
                ):
                    time.sleep(0.2)
                pid = stack.run([stack.DOCKER, "inspect", "--format", "{{.State.Pid}}", worker]).stdout.strip()
                os.kill(int(pid), 9)
                killed["at"] = time.monotonic()
                _say(f"SIGKILL to airflow-worker (pid {pid} on the host) while curate_steam_reviews runs")

        _trigger(api, "steam_reviews_daily", RUN_ID, "2019-03-02T00:00:00Z", {"ds": DAY})
        day = _wait_run(api, "steam_reviews_daily", RUN_ID, 1500, on_task=kill_during_curate)
        assert killed, "curate_steam_reviews was never seen running"
        assert day["state"] == "success", (day, _failed_task_logs(tmp_path, stk, day))
        assert day["tasks"]["curate_steam_reviews"][1] >= 2  # retried after the kill
        restarted = stack.run(
            [stack.DOCKER, "inspect", "--format", "{{.RestartCount}} {{.State.Status}}", worker]
        ).stdout
        assert restarted.split()[1] == "running"
        assert int(restarted.split()[0]) >= 1  # the restart policy brought the killed worker back
        _say(f"{DAY} ran to success in {day['seconds']:.0f} s with the kill")

        lake = stk.volume_path("lake")
        counts = _day_counts(lake, DAY)
        _say(f"lake volume, {DAY}: {counts}")
        expected = _source_reviews(DAY)
        assert counts["raw"] == expected
        assert counts["curated"] + counts["curated_quarantined"] == counts["raw"]
        assert counts["enriched"] == counts["curated"]
        assert counts["features"] == counts["curated"]
        # the killed try committed nothing; the retry committed once
        assert len(_commits_of_day(lake / "curated/steam_reviews", DAY)) == 1

        # the purchase model trains on that day in the containers
        _trigger(api, "steam_purchase_model_weekly", f"compose-train-{DAY}", "2019-03-02T01:00:00Z",
                 {"ds": DAY, "window_days": 1, "min_new_days": 0})  # fmt: skip
        train = _wait_run(api, "steam_purchase_model_weekly", f"compose-train-{DAY}", 900)
        assert train["state"] == "success", (train, _failed_task_logs(tmp_path, stk, train))
        assert (lake / "model/steam_purchase").is_dir()  # a version written (promoted or not: the gate decides)
        _say(f"steam_purchase_model_weekly on {DAY}: success in {train['seconds']:.0f} s")

        # the prediction service in its container: the key required
        import httpx

        body = {"texts": ["Fifty hours in and still fun"], "languages": ["en"]}
        with httpx.Client(base_url="http://127.0.0.1:8000", timeout=60) as client:
            assert client.post("/predict/sentiment", json=body).status_code == 401
            answer = client.post("/predict/sentiment", json=body, headers={"X-API-Key": env["SHOPLAKE_API_KEY"]})
        assert answer.status_code == 200, answer.text
        assert answer.json()["predictions"][0]["sentiment_status"] == "scored"
        _say("shoplake-serve: 401 without the key, a scored prediction with it")

        # a port already taken: up names it
        with socket.socket() as held:
            held.bind(("127.0.0.1", 0))
            held.listen()
            taken = stack.write_env(tmp_path / "taken.env", {**env, "SHOPLAKE_SERVE_PORT": str(held.getsockname()[1])})
            clash = stk.compose("up", "-d", "shoplake-serve", check=False, env_file=taken)
        assert clash.returncode != 0
        assert "already in use" in clash.stderr + clash.stdout or "already allocated" in clash.stderr + clash.stdout
    finally:
        logs = stk.compose("logs", "--tail", "200", check=False).stdout
        (tmp_path / "compose-logs.txt").write_text(logs)
        stk.copy_task_logs(tmp_path)
        _say(f"container and task logs kept in {tmp_path}")
        stk.compose("down", "-v", "--remove-orphans", timeout=600)
    assert stk.leftovers() == {"container": [], "network": [], "volume": []}
    _say(f"whole test: {time.monotonic() - t0:.0f} s")


def _failed_task_logs(tmp_path: Path, stk: stack.Stack, day: dict) -> str:
    """The last lines of each failed task's log, copied out of the workers (the assertion's message)."""
    out = []
    stk.copy_task_logs(tmp_path)
    for task, (state, _) in day["tasks"].items():
        if state == "failed":
            for log in sorted(tmp_path.glob(f"logs-*/**/task_id={task}/*.log")):
                out.append(f"--- {log}\n" + log.read_text(errors="replace")[-3000:])
    return "\n".join(out)


def _roles_are_enforced(stk: stack.Stack, admin: stack.Api) -> None:
    """FAB's roles through the REST API: a Viewer sees runs and cannot trigger one (403); a User may. Users are added
    the documented way (`airflow users create` in the API server's container)."""
    import secrets

    passwords = {}
    for user, role in (("viewer", "Viewer"), ("analyst", "User")):
        passwords[user] = secrets.token_hex(10)
        stk.compose("exec", "-T", "airflow-api-server", "airflow", "users", "create", "--username", user,
                    "--role", role, "--firstname", user, "--lastname", role, "--email", f"{user}@shoplake.invalid",
                    "--password", passwords[user])  # fmt: skip
    viewer, analyst = (stack.Api(u, passwords[u]) for u in ("viewer", "analyst"))
    dag = "lake_maintenance"  # paused: a run triggered here is created and never started
    run = {"logical_date": "2020-01-05T00:00:00Z", "conf": {}}
    assert viewer.request("GET", f"/api/v2/dags/{dag}/dagRuns", token=viewer.token)[0] == 200
    assert (
        viewer.request("POST", f"/api/v2/dags/{dag}/dagRuns", {**run, "dag_run_id": "viewer"}, token=viewer.token)[0]
        == 403
    )
    status, body = analyst.request("POST", f"/api/v2/dags/{dag}/dagRuns", {**run, "dag_run_id": "analyst"},
                                   token=analyst.token)  # fmt: skip
    assert status == 200, body
    assert admin.get(f"/api/v2/dags/{dag}")["is_paused"]
    _say("roles: Viewer reads runs and gets 403 on a trigger; User triggers")


def _wait_for_dag(api: stack.Api, dag: str, timeout_s: float = 300) -> None:
    started = time.monotonic()
    while time.monotonic() - started < timeout_s:
        status, _ = api.request("GET", f"/api/v2/dags/{dag}", token=api.token)
        if status == 200:
            return
        time.sleep(5)
    raise TimeoutError(f"{dag} not parsed within {timeout_s:.0f} s")


def _day_counts(lake: Path, ds: str) -> dict[str, int]:
    from shoplake.io.lake import partition_rows

    tables = {
        "raw": "raw/steam_reviews",
        "curated": "curated/steam_reviews",
        "curated_quarantined": "quarantine/curated_steam_reviews",
        "enriched": "enriched/steam_reviews",
        "features": "enriched/steam_purchase_features",
    }
    out = {}
    for key, table in tables.items():
        try:
            out[key] = partition_rows(f"{lake}/{table}/ds={ds}")
        except FileNotFoundError:
            out[key] = 0
    return out


def _source_reviews(ds: str) -> int:
    """Distinct reviews the sample's dump holds for day ``ds`` (created that day, UTC): what a native run loads,
    counted here on the host with shoplake's own reader of the mounted source."""
    import calendar

    from shoplake.config import Settings
    from shoplake.ingest.steam_source import read_saved_responses

    start = calendar.timegm(time.strptime(ds, "%Y-%m-%d"))
    ids = {
        str(r.review["recommendationid"])
        for r in read_saved_responses(Settings.from_env().steam_source_dir)
        if isinstance(r.review, dict) and start <= int(r.review.get("timestamp_created") or 0) < start + 86400
    }
    return len(ids)


def test_the_gpu_reservation_lives_in_an_override_and_the_shipped_file_needs_no_gpu():
    shipped = (stack.ROOT / "docker-compose.yaml").read_text()
    override = (stack.ROOT / "docker-compose.gpu.yaml").read_text()
    assert "driver: nvidia" not in shipped
    assert "driver: nvidia" in override
    assert "airflow-worker-gpu:" in override


def test_every_variable_the_compose_file_requires_is_in_env_example(tmp_path):
    import re

    shipped = (stack.ROOT / "docker-compose.yaml").read_text()
    required = set(re.findall(r"\$\{([A-Z_]+):\?", shipped))
    example = {line.split("=", 1)[0] for line in (stack.ROOT / ".env.example").read_text().splitlines()
               if "=" in line and not line.startswith("#")}  # fmt: skip
    assert required <= example, required - example
    assert set(stack.new_env(tmp_path)) >= required  # the test's own .env sets every one
