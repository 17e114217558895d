"""The one place that reads ``SHOPLAKE_TRAIN_BACKEND``: the purchase-model training step as tasks.

* ``auto`` (default) — a branch task, ``choose_train_purchase_model_backend``, counts the window's feature rows from
  the Parquet footers and follows ``local`` up to ``SHOPLAKE_SPARK_TRAIN_ROWS`` rows, ``spark`` above,
  logging which and why; the other path is skipped;
* ``local``     — the job ``train_purchase_model`` on the gpu queue/pool (XGBoost ``hist`` on CUDA when the
  worker has a GPU, else CPU);
* ``spark``     — the job ``train_purchase_model_spark`` (xgboost.spark), on local Spark or EMR like every Spark
  job;
* ``sagemaker`` — a task group named after the job, ``train_purchase_model``: the job exports the train/validation
  channels to S3 (``export_channels``), a SageMaker training job with the built-in XGBoost algorithm (deferrable),
  then the same job evaluates, gates and publishes its ``model.tar.gz`` (``publish_model``).

The jobs, their Params and flags are declared in :mod:`shoplake_airflow.jobs`.

Every backend ends with the same version directory, ``current.json`` gating and MLflow run.
"""

from __future__ import annotations

from typing import Any

from shoplake.config import Settings
from shoplake.ml.xgb import NATIVE_NAMES
from shoplake.paths import PURCHASE_MODELS, sagemaker_channels_path, sagemaker_output_path
from shoplake_airflow.context import PARTITION_DS
from shoplake_airflow.handoffs import pulled
from shoplake_airflow.jobs import job_task
from shoplake_airflow.settings import settings as current_settings

#: the job of every backend but ``spark`` (which runs ``train_purchase_model_spark``)
JOB, SPARK_JOB = "train_purchase_model", "train_purchase_model_spark"
#: the model the SageMaker backend trains (its channels and output live under this model's root)
SAGEMAKER_MODEL = PURCHASE_MODELS["steam_purchase"]
#: what the SageMaker group hands on: a key of the export job's result, and the path to the trained model in the
#: training operator's result (``{"Training": DescribeTrainingJob's answer}``) — both checked against their producers
#: (tests/plugins/test_training_factory.py: the job's result and botocore's output shape)
EXPORT_HANDOFF = ("scale_pos_weight",)
ARTIFACT_HANDOFF = ("Training", "ModelArtifacts", "S3ModelArtifacts")


def sagemaker_training_config(job_name: str, channels_uri: str, hyperparameters: dict[str, str], cfg: Settings) -> dict:
    """``CreateTrainingJob`` request for SageMaker's built-in XGBoost on the exported CSV channels."""
    sm = cfg.sagemaker
    output = sm.output_uri or sagemaker_output_path(cfg.lake_root, SAGEMAKER_MODEL)

    def channel(name: str) -> dict[str, Any]:
        return {
            "ChannelName": name,
            "ContentType": "text/csv",
            "DataSource": {
                "S3DataSource": {
                    "S3DataType": "S3Prefix",
                    "S3Uri": f"{channels_uri.rstrip('/')}/{name}/",
                    "S3DataDistributionType": "FullyReplicated",
                }
            },
        }

    return {
        "TrainingJobName": job_name,
        "AlgorithmSpecification": {"TrainingImage": sm.image_uri, "TrainingInputMode": "File"},
        "RoleArn": sm.role_arn,
        "HyperParameters": hyperparameters,
        "InputDataConfig": [channel("train"), channel("validation")],
        "OutputDataConfig": {"S3OutputPath": output},
        "ResourceConfig": {"InstanceType": sm.instance_type, "InstanceCount": 1, "VolumeSizeInGB": 30},
        "StoppingCondition": {"MaxRuntimeInSeconds": sm.max_runtime_s},
        "Tags": [{"Key": "project", "Value": "shoplake"}],
    }


def sagemaker_hyperparameters(export: Any) -> dict[str, str]:
    """Built-in XGBoost hyperparameters, templated from the run's Params (SageMaker takes strings); ``export`` is the
    task that exported the channels (it computed the automatic ``scale_pos_weight``)."""
    hp = {"objective": "binary:logistic", "eval_metric": "auc", "tree_method": "hist"}
    hp.update({native: f"{{{{ params.{name} }}}}" for name, native in NATIVE_NAMES.items()})
    # scale_pos_weight 0 means "negatives / positives of the training rows": the export task computed it
    auto = pulled(export, *EXPORT_HANDOFF, expression=True)
    hp["scale_pos_weight"] = f"{{{{ params.scale_pos_weight if params.scale_pos_weight > 0 else {auto} }}}}"
    return hp


def train_job(ds: str = PARTITION_DS, *, cfg: Settings | None = None) -> Any:
    """Tasks that train, evaluate and publish the purchase model for partition ``ds`` (a template; default: the run's).

    Returns:
        An operator (local), an operator or task group (spark: local or EMR) or a task group (sagemaker), to be
        chained like one task. The DAG's check task reads the published version back from the lake.
    """
    cfg = cfg or current_settings()
    if cfg.train_backend == "spark":
        return job_task(SPARK_JOB, ["--backend", "spark"], ds=ds, cfg=cfg)
    if cfg.train_backend == "sagemaker":
        return _sagemaker_job(ds, cfg)
    if cfg.train_backend == "auto":
        return _auto_job(ds, cfg)
    return job_task(JOB, ds=ds, cfg=cfg)


def _first_ids(node: Any) -> list[str]:
    """Task ids a branch follows to start ``node`` (an operator, or a task group's roots)."""
    if hasattr(node, "task_id"):
        return [node.task_id]
    return [t.task_id for t in node.roots]


def _auto_job(ds: str, cfg: Settings) -> Any:
    """``choose_train_purchase_model_backend`` → the local job or the Spark job.

    The downstream task needs ``trigger_rule="none_failed_min_one_success"`` (one path is always skipped).
    """
    from airflow.sdk import TaskGroup, task

    with TaskGroup(group_id=f"{JOB}_backends", prefix_group_id=False) as group:
        local = job_task(JOB, ds=ds, cfg=cfg)
        spark = job_task(SPARK_JOB, ["--backend", "spark"], ds=ds, cfg=cfg)
        paths = {"local": _first_ids(local), "spark": _first_ids(spark)}

        @task.branch(task_id=f"choose_{JOB}_backend")
        def choose(day: str, **context: Any) -> list[str]:
            from shoplake.pipelines.purchase_model import choose_backend

            limit = current_settings().spark_train_rows
            choice = choose_backend(current_settings().lake_root, day, context["params"]["window_days"], limit)
            return paths[choice["backend"]]

        choose(ds) >> [local, spark]
    return group


def _sagemaker_job(ds: str, cfg: Settings) -> Any:
    from airflow.providers.amazon.aws.operators.sagemaker import SageMakerTrainingOperator
    from airflow.sdk import TaskGroup

    if not cfg.sagemaker.role_arn or "://" not in cfg.lake_root:
        raise ValueError("SHOPLAKE_TRAIN_BACKEND=sagemaker needs SHOPLAKE_SAGEMAKER_ROLE_ARN and an s3:// lake root")
    channels = sagemaker_channels_path(cfg.lake_root, SAGEMAKER_MODEL, ds)
    with TaskGroup(group_id=JOB) as group:
        # data preparation needs no GPU: the default queue and pool
        export = job_task(JOB, ["--export-uri", channels], task_id="export_channels", ds=ds, cfg=cfg, cpu=True)
        train = SageMakerTrainingOperator(
            task_id="train",
            config=sagemaker_training_config(
                f"shoplake-steam-purchase-{ds}", channels, sagemaker_hyperparameters(export), cfg
            ),
            aws_conn_id=cfg.emr.aws_conn_id,
            action_if_job_exists="timestamp",  # a rerun of the day starts a new job, named <name>-<timestamp>
            deferrable=True,
            check_interval=cfg.sagemaker.poll_s,
        )
        artifact = pulled(train, *ARTIFACT_HANDOFF)
        publish = job_task(
            JOB, ["--backend", "sagemaker", "--booster-path", artifact], task_id="publish_model", ds=ds, cfg=cfg,
            cpu=True,
        )  # fmt: skip
        export >> train >> publish
    return group
