"""The churn pipeline's tasks, shared by the three churn DAGs (one per source: Sparkify, Telco, clickstream).

Every churn DAG is the same chain over its source::

    resolve_partition → curate_churn_source (Spark) → check_curated → build_churn_features (Spark) → check_features
        ├─ labels usable ──→ train_churn_models (Spark) → check_model → predict_churn (Spark) → check_predictions
        └─ labels too thin, a model exists ───────────────────────→ predict_churn → check_predictions

``check_features`` branches: the zoo trains only when both classes have ``min_class_users`` users; otherwise the
current model (if any) still scores the partition, and with no model the run ends there, the reason in the log.
"""

from __future__ import annotations

import logging
from typing import Any

from airflow.sdk import Param, chain, task

from shoplake.ml.churn import ZooConfig
from shoplake.pipelines.churn import ChurnJobConfig
from shoplake_airflow.assets import CHURN_ASSETS
from shoplake_airflow.context import resolve_partition
from shoplake_airflow.jobs import job_task
from shoplake_airflow.params import config_params, ds_param, param_flags
from shoplake_airflow.settings import settings

log = logging.getLogger(__name__)

TRAIN, PREDICT = "train_churn_models", "predict_churn"
#: Params that only some sources have (the customer table is a snapshot: no window)
SOURCE_PARAMS = {
    "sparkify": ("window_days", "churn_pages"),
    "telco": (),
    "clickstream": ("window_days", "label_horizon_hours"),
}
#: the zoo's knobs a run may change (parallelism and balance stay the job's)
ZOO_PARAMS = tuple(f for f in ZooConfig.__dataclass_fields__ if f not in ("parallelism", "balance"))


def churn_params(source: str, **defaults: Any) -> dict[str, Param]:
    """Params of a churn DAG: the window, the label definition of ``source`` and the model zoo's knobs."""
    names = ("min_class_users", *SOURCE_PARAMS[source], *ZOO_PARAMS)
    return {"ds": ds_param("last day of the window"), **config_params(ChurnJobConfig, names, **defaults)}


def _job_args(source: str) -> list[str]:
    """Flags every churn job takes besides ``--ds`` / ``--lake-root`` and its declared Params: the source, its path
    and the source's own Params (``shoplake_airflow.jobs``)."""
    args = ["--source", source, "--source-path", settings().churn_source(source)]
    return args + param_flags(SOURCE_PARAMS[source])


def _train_args() -> list[str]:
    return ["--models", "{{ params.models | join(',') }}", *param_flags([n for n in ZOO_PARAMS if n != "models"])]


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

    @task(outlets=[assets.raw, assets.curated])
    def check_curated(partition: dict, **context) -> dict:
        from shoplake.pipelines import churn
        from shoplake_airflow.context import emit_partition_event

        result = churn.check_curated(settings().lake_root, partition["ds"], source)
        emit_partition_event(context, assets.raw, {**result, "path": result["raw_path"], "rows": result["raw_rows"]})
        return emit_partition_event(context, assets.curated, result)

    @task.branch(outlets=[assets.features])
    def check_features(partition: dict, **context) -> list[str]:
        from shoplake.pipelines import churn
        from shoplake_airflow.context import emit_partition_event

        result = churn.check_features(
            settings().lake_root, partition["ds"], source, context["params"]["min_class_users"]
        )
        return next_steps(emit_partition_event(context, assets.features, result))

    @task(outlets=[assets.model])
    def check_model(partition: dict, **context) -> dict:
        from shoplake.pipelines import churn
        from shoplake_airflow.context import emit_partition_event

        return emit_partition_event(
            context, assets.model, churn.check_model(settings().lake_root, partition["ds"], source)
        )

    @task(outlets=[assets.predictions])
    def check_predictions(partition: dict, **context) -> dict:
        from shoplake.pipelines import churn
        from shoplake_airflow.context import emit_partition_event

        result = churn.check_predictions(settings().lake_root, partition["ds"], source)
        return emit_partition_event(context, assets.predictions, result)

    args = _job_args(source)
    partition = resolve_partition()
    # jobs declare what they read; the check task after each one emits the outlet's event (with its ds)
    curate = job_task("curate_churn_source", args, assets=assets)
    build = job_task("build_churn_features", args, assets=assets)
    train = job_task(TRAIN, args + _train_args(), assets=assets)
    # runs after a successful check_model, or straight from check_features when training was skipped
    predict = job_task(PREDICT, args, assets=assets, trigger_rule="none_failed_min_one_success")
    features = check_features(partition)
    chain(partition, curate, check_curated(partition), build, features, train, check_model(partition), predict)
    chain(features, predict, check_predictions(partition))
