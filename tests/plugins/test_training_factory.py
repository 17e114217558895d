"""The training task factory on each backend, rendered for a run's Params and checked offline (botocore)."""

import datetime as dt
import re
from pathlib import Path

import botocore.session
import pytest
from botocore.validate import validate_parameters

from shoplake.config import EmrSettings, SageMakerSettings, Settings
from shoplake.jobconfig import parse_job_args
from shoplake.pipelines.purchase_model import PurchaseTrainConfig
from shoplake_airflow.training import train_job

DS = "2019-03-03"
SAGEMAKER = botocore.session.get_session().get_service_model("sagemaker")
PARAMS = {"window_days": 14, "target": "steam_purchase", "seed": 3, "n_estimators": 50, "max_depth": 3,
          "learning_rate": 0.1, "subsample": 0.9, "colsample_bytree": 0.7, "min_child_weight": 2.0,
          "reg_lambda": 1.5, "scale_pos_weight": 0.0, "early_stopping_rounds": 20, "min_rows": 100}  # fmt: skip


class FakeTI:
    def xcom_pull(self, task_ids=None, key="return_value", **_):
        if task_ids.endswith(".export_channels"):  # a job's XCom: its JSON result line, parsed by JobOperator
            return {"train": 315, "validation": 45, "scale_pos_weight": 1.25}
        if task_ids.endswith(".train"):
            return {"Training": {"ModelArtifacts": {"S3ModelArtifacts": "s3://lake/out/job-1/output/model.tar.gz"}}}
        return {"ds": DS}


def _build(cfg: Settings):
    from airflow.sdk import DAG

    with DAG("training_factory", schedule=None, start_date=dt.datetime(2019, 1, 1, tzinfo=dt.UTC)) as dag:
        train_job(cfg=cfg)
    return dag


def _render(task):
    from airflow.sdk.execution_time import macros

    task.render_template_fields({"params": PARAMS, "ti": FakeTI(), "ds": "1999-01-01", "macros": macros})
    return task


def _argv(task) -> list[str]:
    """A job task's argument list (started without a shell)."""
    assert type(task).__name__ == "JobOperator"
    return task.argv


def _job_args(argv: list[str]) -> PurchaseTrainConfig:
    """The rendered flags parse into the job's config: nothing the job does not know, the Params applied."""
    return parse_job_args(PurchaseTrainConfig, argv, None)


def test_local_backend_runs_the_job_on_the_gpu_queue_with_the_run_params():
    task = _render(_build(Settings(lake_root="/lake")).get_task("train_purchase_model"))
    assert type(task).__name__ == "JobOperator"
    assert (task.queue, task.pool) == ("gpu", "gpu")
    argv = _argv(task)
    assert Path(argv[1]).name == "train_purchase_model.py"
    assert Path(argv[1]).is_file()
    cfg = _job_args(argv[2:])
    assert (cfg.ds, cfg.window_days, cfg.seed, cfg.max_depth, cfg.learning_rate) == (DS, 14, 3, 3, 0.1)
    assert (cfg.lake_root, cfg.reg_lambda, cfg.early_stopping_rounds, cfg.min_rows) == ("/lake", 1.5, 20, 100)
    assert cfg.mlflow_uri == ""


def test_spark_backend_submits_the_xgboost_spark_job():
    cfg = Settings(lake_root="/lake", train_backend="spark", mlflow_tracking_uri="http://mlflow:5000")
    task = _render(_build(cfg).get_task("train_purchase_model_spark"))
    assert type(task).__name__ == "JobSparkSubmitOperator"
    assert task.application.endswith("jobs/spark/train_purchase_model_spark.py")
    assert Path(task.application).is_file()
    job = _job_args(task.application_args)
    assert (job.backend, job.mlflow_uri, job.n_estimators) == ("spark", "http://mlflow:5000", 50)
    assert task.name == f"train_purchase_model_spark-{DS}"


def sagemaker_settings(**kw) -> Settings:
    sm = SageMakerSettings(role_arn="arn:aws:iam::123456789012:role/shoplake-sagemaker", **kw)
    return Settings(lake_root="s3://shop-lake/lake", train_backend="sagemaker", sagemaker=sm, emr=EmrSettings())


def test_sagemaker_backend_exports_trains_and_publishes_with_a_valid_request():
    dag = _build(sagemaker_settings())
    assert sorted(dag.task_ids) == [
        "train_purchase_model.export_channels",
        "train_purchase_model.publish_model",
        "train_purchase_model.train",
    ]
    export = _render(dag.get_task("train_purchase_model.export_channels"))
    assert export.queue != "gpu"
    channels = _job_args(_argv(export)[2:]).export_uri
    assert channels == f"s3://shop-lake/lake/model/steam_purchase/sagemaker_input/ds={DS}"

    train = _render(dag.get_task("train_purchase_model.train"))
    assert train.deferrable is True
    request = train.config
    validate_parameters(request, SAGEMAKER.operation_model("CreateTrainingJob").input_shape)
    assert re.fullmatch(r"[a-zA-Z0-9](-*[a-zA-Z0-9]){0,62}", request["TrainingJobName"])
    assert request["TrainingJobName"] == f"shoplake-steam-purchase-{DS}"
    hp = request["HyperParameters"]
    assert (hp["num_round"], hp["max_depth"], hp["eta"], hp["seed"]) == ("50", "3", "0.1", "3")
    assert (hp["lambda"], hp["early_stopping_rounds"]) == ("1.5", "20")
    assert hp["scale_pos_weight"] == "1.25"  # negatives/positives of the exported training rows
    uris = {c["ChannelName"]: c["DataSource"]["S3DataSource"]["S3Uri"] for c in request["InputDataConfig"]}
    assert uris == {"train": f"{channels}/train/", "validation": f"{channels}/validation/"}

    publish = _render(dag.get_task("train_purchase_model.publish_model"))
    job = _job_args(_argv(publish)[2:])
    assert job.booster_path == "s3://lake/out/job-1/output/model.tar.gz"
    assert job.backend == "sagemaker"
    assert dag.get_task("train_purchase_model.train").upstream_task_ids == {"train_purchase_model.export_channels"}


def test_sagemaker_without_a_role_or_on_a_local_lake_is_a_clear_error():
    with pytest.raises(ValueError, match="SHOPLAKE_SAGEMAKER_ROLE_ARN"):
        _build(Settings(lake_root="s3://b/lake", train_backend="sagemaker"))
    with pytest.raises(ValueError, match="s3:// lake root"):
        _build(Settings(lake_root="/lake", train_backend="sagemaker", sagemaker=sagemaker_settings().sagemaker))


def test_unknown_backend_is_refused():
    with pytest.raises(ValueError, match="SHOPLAKE_TRAIN_BACKEND"):
        Settings(lake_root="/lake", train_backend="vertex")


def test_auto_backend_branches_on_the_window_rows_counted_from_the_footers(tmp_path, monkeypatch):
    """Default ``auto``: the local job up to SHOPLAKE_SPARK_TRAIN_ROWS feature rows, the Spark job above."""
    import sys

    sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "fixtures"))
    from purchase_data import write_feature_days

    from shoplake_airflow import training

    lake = str(tmp_path / "lake")
    write_feature_days(lake, ["2019-03-01", "2019-03-02", DS])  # 150 rows a day
    dag = _build(Settings(lake_root=lake))
    choose = dag.get_task("choose_train_purchase_model_backend")
    assert choose.downstream_task_ids == {"train_purchase_model", "train_purchase_model_spark"}
    spark = _render(dag.get_task("train_purchase_model_spark"))
    assert "--backend spark" in " ".join(spark.application_args)
    for limit, window, want in ((450, 3, "train_purchase_model"), (449, 3, "train_purchase_model_spark"),
                                (300, 2, "train_purchase_model")):  # fmt: skip
        monkeypatch.setattr(
            training, "current_settings", lambda limit=limit: Settings(lake_root=lake, spark_train_rows=limit)
        )
        assert choose.python_callable(DS, params={"window_days": window}) == [want], (limit, window)


def test_the_artifact_hand_off_names_a_field_of_the_training_operators_result():
    """SageMakerTrainingOperator returns ``{"Training": <DescribeTrainingJob answer>}``: the path the publish task
    pulls must be a field of that answer's shape (botocore's model of the API), not a guess."""
    from shoplake_airflow.training import ARTIFACT_HANDOFF

    assert ARTIFACT_HANDOFF[0] == "Training"
    shape = SAGEMAKER.operation_model("DescribeTrainingJob").output_shape
    for name in ARTIFACT_HANDOFF[1:]:
        assert name in shape.members, f"{name} is not a field of {shape.name}"
        shape = shape.members[name]
    assert shape.type_name == "string"
