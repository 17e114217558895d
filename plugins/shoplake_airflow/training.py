"""The one place that reads ``SHOPLAKE_TRAIN_BACKEND``: the purchase-model training step as tasks.

* ``auto`` (default) — a branch task, ``choose_<task>_backend``, counts the window's feature rows from the Parquet
  footers and follows ``local`` up to ``SHOPLAKE_SPARK_TRAIN_ROWS`` rows, ``spark`` (task ``<task>_spark``) above,
  logging which and why; the other path is skipped;
* ``local``     — ``jobs/train/train_purchase_model.py`` on the gpu queue/pool (XGBoost ``hist`` on CUDA when the
  worker has a GPU, else CPU);
* ``spark``     — ``jobs/spark/train_purchase_model_spark.py`` (xgboost.spark) through :func:`spark_job`, so it runs on
  local Spark or EMR like every Spark job;
* ``sagemaker`` — a task group: export the train/validation channels to S3, a SageMaker training job with the
  built-in XGBoost algorithm (deferrable), then the same job evaluates, gates and publishes its ``model.tar.gz``.

Every backend ends with the same version directory, ``current.json`` gating and MLflow run.
"""

from __future__ import annotations

from typing import Any

from shoplake.config import Settings
from shoplake.ml.xgb import HYPERPARAMETERS, NATIVE_NAMES
from shoplake.paths import PURCHASE_MODELS, sagemaker_channels_path, sagemaker_output_path
from shoplake_airflow.context import PARTITION_DS
from shoplake_airflow.gpu import gpu_job, python_job
from shoplake_airflow.handoffs import pulled
from shoplake_airflow.params import param_flags
from shoplake_airflow.settings import settings as current_settings
from shoplake_airflow.spark import spark_job

#: knobs of a manual run (DAG Params of the same names, derived from ``PurchaseTrainConfig``)
TRAIN_PARAMS = ("window_days", "target", "min_rows", *HYPERPARAMETERS)
#: the model the SageMaker backend trains (its channels and output live under this model's root)
SAGEMAKER_MODEL = PURCHASE_MODELS["steam_purchase"]


def train_args(cfg: Settings) -> list[str]:
    """Job flags besides ``--ds`` / ``--lake-root``: the window, target and hyperparameters from the run's Params."""
    args = param_flags(TRAIN_PARAMS)
    if cfg.mlflow_tracking_uri:
        args += ["--mlflow-uri", cfg.mlflow_tracking_uri]
    return args


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
    auto = pulled(export, "scale_pos_weight", expression=True)
    hp["scale_pos_weight"] = f"{{{{ params.scale_pos_weight if params.scale_pos_weight > 0 else {auto} }}}}"
    return hp


def train_job(task_id: str, ds: str = PARTITION_DS, *, cfg: Settings | None = None) -> Any:
    """Tasks that train, evaluate and publish the purchase model for partition ``ds`` (a template; default: the run's).

    Returns:
        An operator (local), an operator or task group (spark: local or EMR) or a task group (sagemaker), to be
        chained like one task. The DAG's check task reads the published version back from the lake.
    """
    cfg = cfg or current_settings()
    args = train_args(cfg)
    if cfg.train_backend == "spark":
        return spark_job(task_id, SPARK_APP, [*args, "--backend", "spark"], ds=ds, cfg=cfg)
    if cfg.train_backend == "sagemaker":
        return _sagemaker_job(task_id, ds, args, cfg)
    if cfg.train_backend == "auto":
        return _auto_job(task_id, ds, args, cfg)
    return gpu_job(task_id, LOCAL_APP, args, ds=ds, cfg=cfg)


LOCAL_APP = "jobs/train/train_purchase_model.py"
SPARK_APP = "jobs/spark/train_purchase_model_spark.py"


def _first_ids(node: Any) -> list[str]:
    """Task ids a branch follows to start ``node`` (an operator, or a task group's roots)."""
    if hasattr(node, "task_id"):
        return [node.task_id]
    return [t.task_id for t in node.roots]


def _auto_job(task_id: str, ds: str, args: list[str], cfg: Settings) -> Any:
    """``choose_<task_id>_backend`` → the local job (``task_id``) or the Spark job (``<task_id>_spark``).

    The downstream task needs ``trigger_rule="none_failed_min_one_success"`` (one path is always skipped).
    """
    from airflow.sdk import TaskGroup, task

    with TaskGroup(group_id=f"{task_id}_backends", prefix_group_id=False) as group:
        local = gpu_job(task_id, LOCAL_APP, args, ds=ds, cfg=cfg)
        spark = spark_job(f"{task_id}_spark", SPARK_APP, [*args, "--backend", "spark"], ds=ds, cfg=cfg)
        paths = {"local": _first_ids(local), "spark": _first_ids(spark)}

        @task.branch(task_id=f"choose_{task_id}_backend")
        def choose(day: str, **context: Any) -> list[str]:
            from shoplake.pipelines.purchase_model import choose_backend

            limit = current_settings().spark_train_rows
            choice = choose_backend(current_settings().lake_root, day, context["params"]["window_days"], limit)
            return paths[choice["backend"]]

        choose(ds) >> [local, spark]
    return group


def _sagemaker_job(task_id: str, ds: str, args: list[str], cfg: Settings) -> Any:
    from airflow.providers.amazon.aws.operators.sagemaker import SageMakerTrainingOperator
    from airflow.sdk import TaskGroup

    if not cfg.sagemaker.role_arn or "://" not in cfg.lake_root:
        raise ValueError("SHOPLAKE_TRAIN_BACKEND=sagemaker needs SHOPLAKE_SAGEMAKER_ROLE_ARN and an s3:// lake root")
    channels = sagemaker_channels_path(cfg.lake_root, SAGEMAKER_MODEL, ds)
    with TaskGroup(group_id=task_id) as group:
        # data preparation needs no GPU: the default queue and pool
        export = python_job(
            "export_channels", "jobs/train/train_purchase_model.py", [*args, "--export-uri", channels], ds=ds, cfg=cfg
        )
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
        artifact = pulled(train, "Training", "ModelArtifacts", "S3ModelArtifacts")
        publish = python_job(
            "publish_model",
            "jobs/train/train_purchase_model.py",
            [*args, "--backend", "sagemaker", "--booster-path", artifact],
            ds=ds,
            cfg=cfg,
        )
        export >> train >> publish
    return group
