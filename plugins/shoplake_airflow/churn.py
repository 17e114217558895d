"""The churn pipeline's tasks, shared by the three churn DAGs (one per source: Sparkify, Telco, clickstream).

Every churn DAG is the same chain over its source::

    resolve_partition → curate_<rows> (Spark) → check_curated → build_features (Spark) → check_features
        ├─ labels usable ──→ train_models (Spark) → check_model → predict_churn (Spark) → check_predictions
        └─ labels too thin, a model exists ───────────────────────→ predict_churn → check_predictions

``check_features`` branches: the zoo trains only when both classes have ``min_class_users`` users; otherwise the
current model (if any) still scores the partition, and with no model the run ends there, the reason in the log.
"""

from __future__ import annotations

import logging
from typing import Any

from airflow.sdk import Param, chain, task

from shoplake.ml.churn import MODELS
from shoplake.ml.churn_config import ChurnJobConfig as Defaults
from shoplake_airflow.assets import CHURN_ASSETS
from shoplake_airflow.context import xcom_ds
from shoplake_airflow.settings import settings
from shoplake_airflow.spark import spark_job

log = logging.getLogger(__name__)

#: what the curate task is called per source (verb_noun)
ROWS = {"sparkify": "events", "telco": "customers", "clickstream": "events"}
TRAIN, PREDICT = "train_models", "predict_churn"


def churn_params(source: str, **defaults: Any) -> dict[str, Param]:
    """Params of a churn DAG: the window, the label definition of ``source`` and the model zoo's knobs."""
    d = {f: getattr(Defaults, f) for f in ("window_days", "folds", "grid", "test_fraction", "seed", "min_class_users")}
    d.update(churn_pages=Defaults.churn_pages, label_horizon_hours=Defaults.label_horizon_hours, models=list(MODELS))
    d.update(defaults)
    params = {
        "ds": Param(None, type=["null", "string"], format="date", description="partition date (default: run's)"),
        "models": Param(d["models"], type="array", items={"enum": list(MODELS)}, minItems=1, description="zoo"),
        "folds": Param(d["folds"], type="integer", minimum=2, maximum=10, description="CrossValidator folds"),
        "grid": Param(d["grid"], enum=["small", "tiny"], description="hyperparameter grid (tiny: 1 point/model)"),
        "test_fraction": Param(d["test_fraction"], type="number", minimum=0.05, maximum=0.5, description="held out"),
        "seed": Param(d["seed"], type="integer", description="split, folds and tree seeds"),
        "min_class_users": Param(
            d["min_class_users"], type="integer", minimum=4, description="fewest churned (and retained) to train"
        ),
    }
    if source != "telco":  # the customer table is a snapshot: no window
        params["window_days"] = Param(d["window_days"], type="integer", minimum=1, maximum=366, description="days")
    if source == "sparkify":
        params["churn_pages"] = Param(d["churn_pages"], type="string", description="pages meaning churn, comma-sep.")
    if source == "clickstream":
        params["label_horizon_hours"] = Param(
            d["label_horizon_hours"], type="number", exclusiveMinimum=0, description="no event this long = churned"
        )
    return params


def _job_args(source: str, ds: str) -> list[str]:
    """Flags every churn job takes, templated from the run's Params."""
    args = ["--source", source, "--ds", ds, "--lake-root", settings().lake_root]
    args += ["--source-path", settings().churn_source(source), "--min-class-users", "{{ params.min_class_users }}"]
    if source != "telco":
        args += ["--window-days", "{{ params.window_days }}"]
    if source == "sparkify":
        args += ["--churn-pages", "{{ params.churn_pages }}"]
    if source == "clickstream":
        args += ["--label-horizon-hours", "{{ params.label_horizon_hours }}"]
    return args


def _train_args() -> list[str]:
    args = ["--models", "{{ params.models | join(',') }}"]
    for name in ("folds", "grid", "test_fraction", "seed"):
        args += ["--" + name.replace("_", "-"), f"{{{{ params.{name} }}}}"]
    return args


def next_steps(features: dict[str, Any]) -> list[str]:
    """Where ``check_features`` branches: train and predict, predict with the current model, or stop."""
    if features["trainable"]:
        return [TRAIN, PREDICT]
    if features["current_version"]:
        log.warning("not training: %s; scoring with model version %s", features["reason"], features["current_version"])
        return [PREDICT]
    log.warning("not training and nothing to score with: %s", features["reason"])
    return []


def churn_pipeline(source: str) -> None:
    """Add the churn chain of ``source`` to the DAG being defined (call inside a ``@dag`` function)."""
    assets = CHURN_ASSETS[source]

    @task
    def resolve_partition(**context) -> dict:
        from shoplake_airflow.context import run_window

        return {"ds": context["params"]["ds"] or run_window(context).last_day}

    @task(outlets=[assets.curated])
    def check_curated(partition: dict, **context) -> dict:
        from shoplake.ml.churn_pipeline import check_curated as check
        from shoplake_airflow.context import emit_partition_event

        return emit_partition_event(context, assets.curated, check(settings().lake_root, source, partition["ds"]))

    @task.branch(outlets=[assets.features])
    def check_features(partition: dict, **context) -> list[str]:
        from shoplake.ml.churn_pipeline import check_features as check
        from shoplake_airflow.context import emit_partition_event

        result = check(settings().lake_root, source, partition["ds"], context["params"]["min_class_users"])
        return next_steps(emit_partition_event(context, assets.features, result))

    @task(outlets=[assets.model])
    def check_model(partition: dict, **context) -> dict:
        from shoplake.ml.churn_pipeline import check_model as check
        from shoplake_airflow.context import emit_partition_event

        return emit_partition_event(context, assets.model, check(settings().lake_root, source, partition["ds"]))

    @task(outlets=[assets.predictions])
    def check_predictions(partition: dict, **context) -> dict:
        from shoplake.ml.churn_pipeline import check_predictions as check
        from shoplake_airflow.context import emit_partition_event

        result = check(settings().lake_root, source, partition["ds"])
        return emit_partition_event(context, assets.predictions, result)

    ds = xcom_ds("resolve_partition")
    args = _job_args(source, ds)
    partition = resolve_partition()
    curate = spark_job(f"curate_{ROWS[source]}", "jobs/spark/curate_churn_source.py", args, ds=ds)
    build = spark_job("build_features", "jobs/spark/build_churn_features.py", args, ds=ds)
    train = spark_job(TRAIN, "jobs/spark/train_churn_models.py", args + _train_args(), ds=ds)
    # runs after a successful check_model, or straight from check_features when training was skipped
    predict = spark_job(PREDICT, "jobs/spark/predict_churn.py", args, ds=ds, trigger_rule="none_failed_min_one_success")
    features = check_features(partition)
    chain(partition, curate, check_curated(partition), build, features, train, check_model(partition), predict)
    chain(features, predict, check_predictions(partition))
