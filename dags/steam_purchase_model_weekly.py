"""
### steam_purchase_model_weekly — train, evaluate and publish the Steam purchase model (XGBoost)

**Purpose.** Second half of the Steam pipeline: predict `steam_purchase` (the reviewer bought the game on Steam)
from review patterns, sentiment, votes, playtime, author stats and the game; `voted_up` is reported beside it.

**Inputs.** `enriched/steam_purchase_features/ds=…` (written by `steam_reviews_daily`) for the `window_days`
days ending at the run's day: the last day of the data interval, or the `ds` Param of a manual run.

**Steps.**
1. `check_features` — the window has feature partitions and enough rows.
2. `train_purchase_model` — on the backend of `SHOPLAKE_TRAIN_BACKEND`: `local` (gpu queue/pool, XGBoost `hist`
   on CUDA when present), `spark` (xgboost.spark via local Spark or EMR) or `sagemaker` (built-in XGBoost).
   Time-based split (oldest train, then validation for early stopping, newest held out); AUC, PR-AUC, F1, ROC
   plot, feature importance, model card and config snapshot → `model/steam_purchase/version=<ds>/`; MLflow run
   + registered model `steam_purchase`. `current.json` (and the MLflow `champion` alias) move last, only if the
   new model's held-out AUC is not worse than the champion's on the same rows.
3. `check_model` — the version is complete; emits `model.steam_purchase`.

**Manual runs.** Trigger with Params to change the window, target or hyperparameters. Rerunning a day replaces
that day's version (and re-gates it).

**Owner.** data-platform.
"""

from __future__ import annotations

from datetime import timedelta

import pendulum
from airflow.sdk import CronDataIntervalTimetable, Param, chain, dag, task

from shoplake.ml.purchase_config import PurchaseTrainConfig as Defaults
from shoplake_airflow.assets import ENRICHED_STEAM_PURCHASE_FEATURES, STEAM_PURCHASE_MODEL
from shoplake_airflow.context import emit_partition_event, xcom_ds
from shoplake_airflow.settings import settings
from shoplake_airflow.training import train_job


@dag(
    schedule=CronDataIntervalTimetable("0 4 * * 1", timezone="UTC"),
    start_date=pendulum.datetime(2019, 2, 4, tz="UTC"),
    catchup=False,
    max_active_runs=1,  # runs gate against each other's champion: one at a time
    tags=["steam", "training", "xgboost"],
    default_args={"owner": "data-platform", "retries": 2, "retry_delay": timedelta(minutes=5)},
    params={
        "ds": Param(
            None, type=["null", "string"], format="date", description="last day of the window (default: run's)"
        ),
        "window_days": Param(Defaults.window_days, type="integer", minimum=1, maximum=365, description="days"),
        "target": Param(Defaults.target, enum=["steam_purchase", "voted_up"], description="label to learn"),
        "n_estimators": Param(Defaults.n_estimators, type="integer", minimum=1, description="max boosting rounds"),
        "max_depth": Param(Defaults.max_depth, type="integer", minimum=1, maximum=16, description="tree depth"),
        "learning_rate": Param(Defaults.learning_rate, type="number", exclusiveMinimum=0, maximum=1, description="eta"),
        "subsample": Param(Defaults.subsample, type="number", exclusiveMinimum=0, maximum=1, description="row share"),
        "colsample_bytree": Param(
            Defaults.colsample_bytree, type="number", exclusiveMinimum=0, maximum=1, description="column share"
        ),
        "min_child_weight": Param(Defaults.min_child_weight, type="number", minimum=0, description="leaf hessian"),
        "scale_pos_weight": Param(
            Defaults.scale_pos_weight, type="number", minimum=0, description="0 = negatives/positives of train"
        ),
        "seed": Param(Defaults.seed, type="integer", description="seed of the booster"),
    },
    doc_md=__doc__,
)
def steam_purchase_model_weekly():
    @task(inlets=[ENRICHED_STEAM_PURCHASE_FEATURES])
    def check_features(**context) -> dict:
        from shoplake.ml.purchase_training import feature_partitions
        from shoplake_airflow.context import run_window

        params = context["params"]
        ds = params["ds"] or run_window(context).last_day
        paths = feature_partitions(settings().lake_root, ds, params["window_days"])
        return {"ds": ds, "path": paths[-1], "partitions": len(paths)}

    @task(outlets=[STEAM_PURCHASE_MODEL])
    def check_model(features: dict, **context) -> dict:
        from shoplake.ml.purchase_training import check_published

        result = check_published(settings().lake_root, context["params"]["target"], features["ds"])
        return emit_partition_event(context, STEAM_PURCHASE_MODEL, result)

    features = check_features()
    chain(features, train_job("train_purchase_model", xcom_ds("check_features")), check_model(features))


steam_purchase_model_weekly()
