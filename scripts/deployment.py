"""The Airflow settings of every shoplake deployment, from one place.

* ``deploy/airflow.env`` — what every deployment shares (executor, parallelism, queues, pools…). docker-compose.yaml
  reads it as every Airflow service's ``env_file``; the native cluster (``scripts/cluster.py``) and the laptop's
  standalone (``scripts/standalone.py``) read it here.
* ``deploy/standalone.env`` — the few settings a one-machine ``airflow standalone`` changes (LocalExecutor: no
  broker, no Celery worker).
* Derived here, the same way for every deployment: the API server's host and port (``AIRFLOW__API__HOST``,
  ``AIRFLOW__API__PORT``) and the execution API URL task processes report to
  (``AIRFLOW__CORE__EXECUTION_API_SERVER_URL``), which must follow the port: a task process that reports to another
  port fails before its first line of work (its error is in the scheduler's log, not in the task's Logs tab).

``tests/test_deploy.py`` checks compose, the cluster and standalone against this module.
"""

from __future__ import annotations

from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
#: the Airflow settings compose, the native cluster and standalone share
COMMON_ENV = ROOT / "deploy" / "airflow.env"
#: what standalone changes of them
STANDALONE_ENV = ROOT / "deploy" / "standalone.env"
KINDS = ("cluster", "standalone")
DEFAULT_API_PORT = 8080


def read_env_file(path: Path) -> dict[str, str]:
    """``KEY=VALUE`` lines of an env file (``#`` comment lines and blank lines skipped), as compose reads them."""
    out = {}
    for raw in path.read_text().splitlines():
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        key, sep, value = line.partition("=")
        if not sep or not key.strip():
            raise ValueError(f"{path}: {raw!r} is not KEY=VALUE")
        out[key.strip()] = value.strip()
    return out


def execution_api_url(host: str, port: int) -> str:
    """Where task processes report (Airflow's execution API, served by the API server)."""
    return f"http://{host}:{port}/execution/"


def api_port(env: dict[str, str]) -> int:
    """The API server's port from ``AIRFLOW__API__PORT`` (8080 when unset)."""
    return int(env.get("AIRFLOW__API__PORT") or DEFAULT_API_PORT)


def airflow_settings(kind: str, host: str = "127.0.0.1", port: int = DEFAULT_API_PORT) -> dict[str, str]:
    """The Airflow settings of one deployment ``kind`` whose API server listens on ``host:port``.

    Args:
        kind: ``cluster`` (CeleryExecutor, as compose) or ``standalone`` (one machine, LocalExecutor).
        host: the API server's interface; task processes reach it there.
        port: the API server's port.
    """
    if kind not in KINDS:
        raise ValueError(f"deployment kind must be one of {KINDS}, got {kind!r}")
    out = read_env_file(COMMON_ENV)
    if kind == "standalone":
        out.update(read_env_file(STANDALONE_ENV))
    out.update(
        {
            "AIRFLOW__API__HOST": host,
            "AIRFLOW__API__PORT": str(port),
            "AIRFLOW__CORE__EXECUTION_API_SERVER_URL": execution_api_url(host, port),
        }
    )
    return out
