"""The Spark task factory: local spark-submit and the EMR group, rendered for a ds and checked offline."""

import datetime as dt
from pathlib import Path

import botocore.session
import pytest
from botocore.exceptions import ParamValidationError
from botocore.validate import validate_parameters

from shoplake.config import EmrSettings, Settings
from shoplake_airflow.spark import spark_job

DS = "2019-03-01"
EMR_MODEL = botocore.session.get_session().get_service_model("emr")


class FakeTI:
    """Just enough of a task instance for the templates the factory writes."""

    def xcom_pull(self, task_ids=None, key="return_value", **_):
        return ["s-STEP123"] if task_ids.endswith("add_step") else {"ds": DS, "path": "/lake/raw", "rows": 3}


def _render(task):
    task.render_template_fields({"ds": "1999-01-01", "ti": FakeTI()})
    return task


def _build(cfg: Settings):
    from airflow.sdk import DAG

    with DAG("factory_test", schedule=None, start_date=dt.datetime(2019, 1, 1, tzinfo=dt.UTC)) as dag:
        # the factory adds --ds (the run's partition, from resolve_partition) and --lake-root itself
        spark_job("curate_reviews", "jobs/spark/curate_steam_reviews.py", [], cfg=cfg)
    return dag


def emr_settings(**emr) -> Settings:
    defaults = {"code_uri": "s3://shop-code/releases/0.1.0", "log_uri": "s3://shop-logs/emr/"}
    return Settings(lake_root="s3://shop-lake/lake", spark_backend="emr", emr=EmrSettings(**{**defaults, **emr}))


def test_local_backend_is_spark_submit_with_the_partition_ds():
    dag = _build(Settings(lake_root="/lake"))
    task = _render(dag.get_task("curate_reviews"))
    assert type(task).__name__ == "JobSparkSubmitOperator"
    assert task.application_args == ["--ds", DS, "--lake-root", "/lake"]
    assert task.name == f"curate_reviews-{DS}"
    assert Path(task.application).is_file()
    assert task._conn_id == "spark_local"
    assert task.conf["spark.sql.session.timeZone"] == "UTC"
    archive = Settings(lake_root="/lake").spark_cds_archive
    assert task.conf["spark.driver.extraJavaOptions"] == f"-XX:+UseSerialGC -XX:SharedArchiveFile={archive}"


def test_emr_requests_validate_against_botocore():
    dag = _build(emr_settings())
    assert sorted(dag.task_ids) == [
        "curate_reviews.add_step",
        "curate_reviews.create_cluster",
        "curate_reviews.terminate_cluster",
        "curate_reviews.wait_step",
    ]
    create = _render(dag.get_task("curate_reviews.create_cluster"))
    flow = create.job_flow_overrides
    validate_parameters(flow, EMR_MODEL.operation_model("RunJobFlow").input_shape)
    assert flow["Name"] == f"shoplake-curate_reviews-{DS}"
    assert flow["LogUri"] == "s3://shop-logs/emr/"

    add = _render(dag.get_task("curate_reviews.add_step"))
    request = {"JobFlowId": "j-ABCDEF123", "Steps": add.steps}
    validate_parameters(request, EMR_MODEL.operation_model("AddJobFlowSteps").input_shape)
    step = add.steps[0]
    assert step["Name"] == f"curate_reviews-{DS}"
    args = step["HadoopJarStep"]["Args"]
    assert args[:3] == ["spark-submit", "--deploy-mode", "cluster"]
    assert "s3://shop-code/releases/0.1.0/shoplake.zip" in args
    assert args[-5:] == [
        "s3://shop-code/releases/0.1.0/jobs/spark/curate_steam_reviews.py",
        "--ds",
        DS,
        "--lake-root",
        "s3://shop-lake/lake",  # the lake of the settings the factory was given
    ]

    wait = _render(dag.get_task("curate_reviews.wait_step"))
    assert wait.deferrable is True
    assert wait.step_id == "s-STEP123"
    terminate = dag.get_task("curate_reviews.terminate_cluster")
    assert terminate.is_teardown
    assert terminate.trigger_rule == "all_done_setup_success"
    assert dag.get_task("curate_reviews.create_cluster").is_setup


def test_the_validator_catches_a_broken_request():
    dag = _build(emr_settings())
    flow = _render(dag.get_task("curate_reviews.create_cluster")).job_flow_overrides
    flow["Instances"]["InstanceGroups"][0]["InstanceCount"] = "one"
    with pytest.raises(ParamValidationError, match="InstanceCount"):
        validate_parameters(flow, EMR_MODEL.operation_model("RunJobFlow").input_shape)


def test_emr_with_an_existing_cluster_only_adds_and_waits():
    dag = _build(emr_settings(cluster_id="j-LONGLIVED"))
    assert sorted(dag.task_ids) == ["curate_reviews.add_step", "curate_reviews.wait_step"]
    add = _render(dag.get_task("curate_reviews.add_step"))
    assert add.job_flow_id == "j-LONGLIVED"


def test_emr_without_code_uri_is_a_clear_error():
    with pytest.raises(ValueError, match="SHOPLAKE_EMR_CODE_URI"):
        _build(emr_settings(code_uri=""))
