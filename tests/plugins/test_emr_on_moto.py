"""The EMR task group with its real Airflow operators (create cluster → add step → deferrable step sensor →
terminate cluster) run by ``dag.test()`` against moto's server, found through the ``aws_default`` connection's
``endpoint_url`` — no ``AWS_ENDPOINT_URL`` in the environment.

moto accepts the cluster and the step but never runs the step (it stays RUNNING): a thread of the test stands in
for the cluster and moves the step to COMPLETED (or FAILED) in moto's backend once the sensor has deferred.
"""

from __future__ import annotations

import datetime as dt
import json
import threading
import time

import pytest

pytestmark = [pytest.mark.objectstore, pytest.mark.integration]

pytest.importorskip("moto")

DS = "2019-03-02"
REGION = "us-east-1"


@pytest.fixture
def aws_connection(monkeypatch, airflow_db):
    from object_stores import TEST_CREDENTIALS, moto_server

    with moto_server(in_process=True) as url:  # the test reads moto's EMR backend
        for key, value in TEST_CREDENTIALS.items():
            monkeypatch.setenv(key, value)
        monkeypatch.delenv("AWS_ENDPOINT_URL", raising=False)
        extra = {"endpoint_url": url, "region_name": REGION}
        monkeypatch.setenv("AIRFLOW_CONN_AWS_DEFAULT", json.dumps({"conn_type": "aws", "extra": extra}))
        yield url


def _emr_backend():
    from moto.core import DEFAULT_ACCOUNT_ID
    from moto.emr.models import emr_backends

    return emr_backends[DEFAULT_ACCOUNT_ID][REGION]


def _finish_step(outcome: str, after_s: float, done: threading.Event) -> threading.Thread:
    """The cluster's part: once a step exists, wait ``after_s`` (the sensor pokes once, then defers), then set it
    to ``outcome``."""

    def run() -> None:
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline and not done.is_set():
            steps = [s for c in _emr_backend().clusters.values() for s in c.steps]
            if steps:
                time.sleep(after_s)
                for step in steps:
                    step.state = outcome
                    step.end_datetime = dt.datetime.now(dt.UTC)
                return
            time.sleep(0.2)

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    return thread


def _dag(cfg):
    from airflow.sdk import DAG

    from shoplake_airflow.context import resolve_partition
    from shoplake_airflow.params import ds_param
    from shoplake_airflow.spark import spark_job

    with DAG(
        "emr_on_moto", schedule=None, start_date=dt.datetime(2019, 1, 1, tzinfo=dt.UTC), params={"ds": ds_param()}
    ) as dag:
        resolve_partition() >> spark_job("curate_reviews", "jobs/spark/curate_steam_reviews.py", [], cfg=cfg)
    _serialize(dag)
    return dag


def _serialize(dag) -> None:
    """Store the test's DAG as the DAG processor would (``dag.test()`` runs serialized DAGs only)."""
    from airflow.dag_processing.bundles.manager import DagBundlesManager
    from airflow.dag_processing.collection import update_dag_parsing_results_in_db
    from airflow.serialization.serialized_objects import LazyDeserializedDAG
    from airflow.utils.session import create_session

    DagBundlesManager().sync_bundles_to_db()
    with create_session() as session:
        update_dag_parsing_results_in_db(
            "dags-folder", None, [LazyDeserializedDAG.from_dag(dag)], {}, None, set(), session=session
        )


def _settings():
    from shoplake.config import EmrSettings, Settings

    emr = EmrSettings(code_uri="s3://shop-code/releases/0.1.0", log_uri="s3://shop-logs/emr/", poll_s=1, max_wait_s=60)
    return Settings(lake_root="s3://shop-lake/lake", spark_backend="emr", emr=emr)


def _clusters(url: str) -> list[dict]:
    import boto3

    emr = boto3.client("emr", endpoint_url=url, region_name=REGION)
    out = []
    for summary in emr.list_clusters()["Clusters"]:
        steps = emr.list_steps(ClusterId=summary["Id"])["Steps"]
        out.append({"name": summary["Name"], "state": summary["Status"]["State"], "steps": steps})
    return out


@pytest.mark.parametrize("outcome", ["COMPLETED", "FAILED"])
def test_the_emr_group_runs_against_the_endpoint_and_always_terminates_its_cluster(aws_connection, outcome):
    done = threading.Event()
    thread = _finish_step(outcome, after_s=2.0, done=done)
    try:
        dr = _dag(_settings()).test(run_conf={"ds": DS})
    finally:
        done.set()
        thread.join(timeout=5)
    states = {ti.task_id: ti.state for ti in dr.get_task_instances()}
    wait = "success" if outcome == "COMPLETED" else "failed"
    assert states == {
        "resolve_partition": "success",
        "curate_reviews.create_cluster": "success",
        "curate_reviews.add_step": "success",
        "curate_reviews.wait_step": wait,
        "curate_reviews.terminate_cluster": "success",  # the teardown runs whatever the step did
    }
    assert dr.state == ("success" if outcome == "COMPLETED" else "failed")
    [cluster] = _clusters(aws_connection)
    assert cluster["name"] == f"shoplake-curate_reviews-{DS}"
    assert cluster["state"] == "TERMINATED"
    [step] = cluster["steps"]
    assert step["Name"] == f"curate_reviews-{DS}"
    assert step["Status"]["State"] == outcome
    args = step["Config"]["Args"]
    assert args[:3] == ["spark-submit", "--deploy-mode", "cluster"]
    assert args[-4:] == ["--ds", DS, "--lake-root", "s3://shop-lake/lake"]
