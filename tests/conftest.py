"""Test environment: mirrors Airflow's sys.path (dags/, plugins/) and sets every connection as an env var.

Environment is set at import time, before anything imports Airflow, so Airflow's config sees a throw-away
AIRFLOW_HOME (SQLite) and the lake lives in a temporary directory.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
_TMP = Path(tempfile.mkdtemp(prefix="shoplake-tests-"))


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


_MONGO_PORT = int(os.environ.get("SHOPLAKE_TEST_MONGO_PORT") or _free_port())
os.environ.update(
    {
        "AIRFLOW_HOME": str(_TMP / "airflow"),
        "AIRFLOW__CORE__DAGS_FOLDER": str(ROOT / "dags"),
        "AIRFLOW__CORE__PLUGINS_FOLDER": str(ROOT / "plugins"),
        "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
        "AIRFLOW__CORE__PARALLELISM": "4",
        "AIRFLOW__CORE__UNIT_TEST_MODE": "False",
        "AIRFLOW__API__HOST": "127.0.0.1",
        "AIRFLOW_CONN_MONGO_DEFAULT": f"mongo://127.0.0.1:{_MONGO_PORT}",
        "AIRFLOW_CONN_SPARK_LOCAL": '{"conn_type": "spark", "host": "local[2]"}',
        "SHOPLAKE_LAKE_ROOT": str(_TMP / "lake"),
        "SHOPLAKE_MONGO_DB": "shoplake_test",
        "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}",
        "PYSPARK_PYTHON": sys.executable,
        "SPARK_LOCAL_IP": "127.0.0.1",
        "PYSPARK_DRIVER_PYTHON": sys.executable,
        # gcsfs 2026.x reads this once, at import: left on, every bucket of the GCS emulator waits on a gRPC probe
        # for hierarchical namespaces (a minute, with retries) — whichever test imports gcsfs first decides
        "GCSFS_EXPERIMENTAL_ZB_HNS_SUPPORT": "false",
    }
)
# the Makefile exports the embedded defaults' routing (a '*' route to the repository lake's multilingual model):
# tests start from the code's defaults and set a route where they test one
for routing in ("SHOPLAKE_SENTIMENT_MULTILINGUAL_MODEL", "SHOPLAKE_SENTIMENT_MODELS"):
    os.environ.pop(routing, None)
for extra in (ROOT / "plugins", ROOT / "dags", ROOT / "jobs" / "spark", ROOT / "scripts", ROOT / "tests" / "fixtures"):
    if str(extra) not in sys.path:
        sys.path.insert(0, str(extra))

from shoplake.config import Settings  # noqa: E402  (after the environment is set)

SAMPLE_DIR = Path(Settings.from_env().sample_data_dir)
STEAM_SAMPLE = SAMPLE_DIR / "steam_reviews" / "reviews"


#: test folders, longest files first: with ``-n 2 --dist loadfile`` (``make test``) each worker takes the next file,
#: and a long file started last runs alone at the end (the native cluster's scenario alone is about five minutes)
_LONG_FIRST = ("tests/scripts/", "tests/dags/", "tests/bench/", "tests/jobs/", "tests/lake/ml/")


def pytest_collection_modifyitems(config, items):
    """Files of the long folders first, in :data:`_LONG_FIRST` order; within a file, and among the rest, the
    collection order is kept (a stable sort)."""

    def rank(item) -> int:
        path = item.nodeid.replace("\\", "/")
        return next((i for i, folder in enumerate(_LONG_FIRST) if path.startswith(folder)), len(_LONG_FIRST))

    items.sort(key=rank)


def pytest_sessionfinish(session, exitstatus):
    shutil.rmtree(_TMP, ignore_errors=True)


@pytest.fixture(scope="session")
def steam_sample() -> Path:
    """The shared Steam sample (read in place, never copied into the repo)."""
    if not STEAM_SAMPLE.is_dir():
        pytest.skip(f"shared sample data not found at {STEAM_SAMPLE} (set SHOPLAKE_SAMPLE_DATA)")
    return STEAM_SAMPLE


@pytest.fixture(scope="session")
def lake_root() -> str:
    return os.environ["SHOPLAKE_LAKE_ROOT"]


@pytest.fixture(scope="session")
def mongo_port():
    """A real Mongo wire-protocol server (secantusdb) on loopback for the whole session."""
    import devserver

    data = _TMP / "mongo"
    devserver.start(_MONGO_PORT, data)
    yield _MONGO_PORT
    devserver.stop(data)


@pytest.fixture
def mongo_collection(mongo_port, request):
    """A fresh collection per test."""
    from pymongo import MongoClient

    client = MongoClient(f"mongodb://127.0.0.1:{mongo_port}")
    name = "t_" + "".join(c if c.isalnum() else "_" for c in request.node.name)[:60]
    coll = client["shoplake_unit"][name]
    coll.drop()
    yield coll
    coll.drop()
    client.close()


@pytest.fixture(scope="session")
def spark():
    """A session-wide local SparkSession (2 cores, UTC, no UI)."""
    if shutil.which("java") is None and not os.environ.get("JAVA_HOME"):
        pytest.skip("Spark needs Java (make java)")
    import logging

    from pyspark.sql import SparkSession

    # py4j logs from __del__ at interpreter exit, after pytest closed its capture streams
    logging.getLogger("py4j").setLevel(logging.WARNING)

    from shoplake_airflow.spark import local_conf

    builder = SparkSession.builder.master("local[2]").appName("shoplake-tests")
    conf = {
        **local_conf(Settings.from_env()),
        "spark.sql.shuffle.partitions": "2",
        "spark.sql.warehouse.dir": str(_TMP / "warehouse"),
    }
    for key, value in conf.items():  # the same settings the local backend submits jobs with
        builder = builder.config(key, value)
    session = builder.getOrCreate()
    session.sparkContext.setLogLevel("ERROR")
    yield session
    session.stop()


@pytest.fixture(scope="session")
def airflow_db():
    """Airflow's metadata DB (SQLite in the temporary AIRFLOW_HOME), migrated once."""
    subprocess.run([str(Path(sys.executable).parent / "airflow"), "db", "migrate"], check=True, capture_output=True)
    return os.environ["AIRFLOW_HOME"]


@pytest.fixture(scope="module")
def service_lake(tmp_path_factory) -> str:
    """A lake with the prediction service's models (``tests/fixtures/serve_lake.py``), built once per test module
    (tests may move its pointers)."""
    from serve_lake import build

    root = str(tmp_path_factory.mktemp("serve") / "lake")
    build(root)
    return root


@pytest.fixture(scope="session")
def tiny_sentiment_model(tmp_path_factory) -> str:
    """A tiny random sequence classifier saved offline (stands in for the hub model in DAG runs)."""
    pytest.importorskip("transformers")
    sys.path.insert(0, str(ROOT / "tests" / "fixtures"))
    from tiny_models import build_sequence_classifier

    return str(build_sequence_classifier(tmp_path_factory.mktemp("tiny_sentiment")))
