"""``steam_purchase_model_weekly`` with ``SHOPLAKE_TRAIN_BACKEND=sagemaker`` run by ``dag.test()`` against moto's
server: the feature window in an ``s3://`` lake, ``export_channels`` writing the CSV channels to the bucket, the real
``SageMakerTrainingOperator`` (deferrable) calling CreateTrainingJob / DescribeTrainingJob through the
``aws_default`` connection's ``endpoint_url``, ``publish_model`` evaluating and publishing the artifact, the
champion pointer moved in the bucket; then ``publish_copy`` copies the champion to another cloud's bucket (the GCS
emulator) through the ``google_cloud_default`` connection.

moto records a training job as Completed at once and runs no container: moto's process here
(``tests/fixtures/moto_sagemaker.py``) plays the built-in XGBoost container inside CreateTrainingJob (reads the two
channels from the bucket, trains with the job's hyperparameters, writes ``model.tar.gz`` where the job's
``S3ModelArtifacts`` says).
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

pytestmark = [pytest.mark.objectstore, pytest.mark.integration]

pytest.importorskip("moto")
pytest.importorskip("xgboost")

DAYS = ["2019-03-01", "2019-03-02", "2019-03-03"]
BUCKET = "shoplake-sagemaker"
PARTNER = "shoplake-partner"


@pytest.fixture
def sagemaker_lake(monkeypatch, airflow_db, tmp_path):
    import boto3
    from object_stores import TEST_CREDENTIALS, fresh_filesystems, gcs_endpoint, moto_server

    from shoplake_airflow.settings import settings

    player = str(Path(__file__).resolve().parents[1] / "fixtures" / "moto_sagemaker.py")
    with moto_server(script=player) as url, gcs_endpoint(PARTNER) as partner:
        gcs = {"is_anonymous": True, "project": "shoplake-test", "gcs.endpoint": os.environ["STORAGE_EMULATOR_HOST"]}
        monkeypatch.setenv("AIRFLOW_CONN_GOOGLE_CLOUD_DEFAULT", json.dumps({"conn_type": "google_cloud_platform",
                                                                            "extra": gcs}))  # fmt: skip
        monkeypatch.setenv("SHOPLAKE_PUBLISH_URI", f"{partner}/models")
        for key, value in TEST_CREDENTIALS.items():
            monkeypatch.setenv(key, value)
        extra = {"endpoint_url": url, "region_name": "us-east-1"}
        monkeypatch.setenv("AIRFLOW_CONN_AWS_DEFAULT", json.dumps({"conn_type": "aws", "extra": extra}))
        monkeypatch.setenv("AWS_ENDPOINT_URL", url)  # the lake's own IO (fsspec) in the job processes
        monkeypatch.setenv("SHOPLAKE_LAKE_ROOT", f"s3://{BUCKET}/lake")
        monkeypatch.setenv("SHOPLAKE_TRAIN_BACKEND", "sagemaker")
        monkeypatch.setenv("SHOPLAKE_SAGEMAKER_POLL_S", "1")
        monkeypatch.setenv("SHOPLAKE_SAGEMAKER_ROLE_ARN", "arn:aws:iam::123456789012:role/shoplake-sagemaker")
        monkeypatch.setenv("SHOPLAKE_MLFLOW_TRACKING_URI", f"sqlite:///{tmp_path}/mlflow.db")
        boto3.client("s3", endpoint_url=url, region_name="us-east-1").create_bucket(Bucket=BUCKET)
        fresh_filesystems()
        settings.cache_clear()
        yield url, f"s3://{BUCKET}/lake"
    fresh_filesystems()
    settings.cache_clear()


def test_the_sagemaker_group_trains_and_publishes_through_the_endpoint(sagemaker_lake):
    import boto3
    from airflow.dag_processing.dagbag import DagBag
    from purchase_data import write_feature_days

    from conftest import DAGS
    from shoplake.ml.registry import read_current, read_pointer

    url, lake = sagemaker_lake
    write_feature_days(lake, DAYS)
    dag = DagBag(dag_folder=str(DAGS)).dags["steam_purchase_model_weekly"]
    for task in dag.tasks:  # a failure fails the test now, not after the DAG's 5-minute retry delays
        task.retries = 0
    dr = dag.test(run_conf={"ds": DAYS[-1], "window_days": 3, "min_rows": 100, "min_new_days": 0})
    states = {ti.task_id: ti.state for ti in dr.get_task_instances()}
    assert states == {
        "resolve_partition": "success",
        "check_features": "success",
        "train_purchase_model.export_channels": "success",
        "train_purchase_model.train": "success",
        "train_purchase_model.publish_model": "success",
        "check_model": "success",
        "publish_copy": "success",
    }

    sm = boto3.client("sagemaker", endpoint_url=url, region_name="us-east-1")
    job = sm.describe_training_job(TrainingJobName=f"shoplake-steam-purchase-{DAYS[-1]}")
    assert job["TrainingJobStatus"] == "Completed"
    channels = {c["ChannelName"]: c["DataSource"]["S3DataSource"]["S3Uri"] for c in job["InputDataConfig"]}
    assert channels["train"].startswith(f"{lake}/model/")
    assert float(job["HyperParameters"]["scale_pos_weight"]) > 1  # the export's negatives / positives, rendered
    current = read_current(lake, "steam_purchase")
    assert current["version"] == DAYS[-1]
    assert current["path"].startswith(lake)
    from shoplake.io.lake import filesystem

    fs, root = filesystem(current["path"])
    metrics = json.loads(fs.cat_file(f"{root}/metrics.json"))
    assert metrics["backend"] == "sagemaker"
    assert metrics["steam_purchase"]["auc"] > 0.8  # the default target; the synthetic days separate well

    from object_stores import fresh_filesystems

    fresh_filesystems()
    published = read_pointer(f"gs://{PARTNER}/models/steam_purchase")
    assert published["version"] == current["version"]
    gcs, copy = filesystem(published["path"])
    names = sorted(p[len(copy) + 1 :] for p in gcs.find(copy))
    assert names == sorted(p[len(root) + 1 :] for p in fs.find(root))
    assert all(gcs.cat_file(f"{copy}/{n}") == fs.cat_file(f"{root}/{n}") for n in names)
    result = dr.get_task_instance("publish_copy").xcom_pull(task_ids="publish_copy")
    assert result["path"] == published["path"]  # the same layout as in the lake: version=<ds>/v-… it names
    assert result["path"].startswith(f"gs://{PARTNER}/models/steam_purchase/version={DAYS[-1]}/v-")
    assert result["files"] == len(names)
