"""
### steam_purchase_model_weekly — train, evaluate and publish the Steam purchase model (XGBoost)

**Purpose.** Second half of the Steam pipeline: predict `steam_purchase` (the reviewer bought the game on Steam)
from review patterns, sentiment, votes, playtime, author stats and the game; `voted_up` is reported beside it.

**Inputs.** `enriched/steam_purchase_features/ds=…` (written by `steam_reviews_daily`) for the `window_days`
days ending at the run's day: the `ds` Param of a manual run, else the last day of the data interval.

**Steps.**
0. `resolve_partition` — decides `ds` (the same rule in every DAG).
**Schedule.** Data-aware: each `enriched.steam_purchase_features` event (a day of features from
`steam_reviews_daily`, its `ds` in the event) triggers a run, and so does Monday 04:00 UTC; a run trains only when
`min_new_days` (default 7) days of features arrived since the current model's version.

1. `check_features` — the window has feature partitions and at least `min_rows` rows, and `min_new_days` new days
   since the current model; otherwise the run ends
   *skipped* (not failed, not retried) with the reason in the log, e.g. a scheduled run over a window with no data.
2. `train_purchase_model` — on the backend of `SHOPLAKE_TRAIN_BACKEND`: `auto` (the default:
   `choose_train_purchase_model_backend` counts the window's rows and runs `train_purchase_model` locally up to
   `SHOPLAKE_SPARK_TRAIN_ROWS`, 1,000,000, else `train_purchase_model_spark`), `local` (gpu queue/pool, XGBoost
   `hist` on CUDA when present), `spark` (xgboost.spark via local Spark or EMR) or `sagemaker` (built-in XGBoost).
   Time-based split (oldest train, then validation for early stopping, newest held out); AUC, PR-AUC, F1, ROC
   plot, feature importance, model card and config snapshot → `model/steam_purchase/version=<ds>/`; MLflow run
   + registered model `steam_purchase`. `current.json` (and the MLflow `champion` alias) move last, only if the
   new model's held-out AUC is not worse than the champion's on the same rows.
3. `check_model` — the version is complete; emits `model.steam_purchase`.
4. `publish_copy` — copies the champion version, then its `current.json`, to `SHOPLAKE_PUBLISH_URI`
   (`gs://bucket/prefix` or `s3://…`) with the credentials of connection `SHOPLAKE_PUBLISH_CONN_ID`
   (`google_cloud_default`); skipped, saying so, when no destination is set.

**Manual runs.** Trigger with Params to change the window, target or hyperparameters. Rerunning a day replaces
that day's version (and re-gates it).

**Owner.** data-platform.
"""

from __future__ import annotations

from datetime import timedelta

from airflow.sdk import AssetOrTimeSchedule, CronDataIntervalTimetable, Param, chain, dag, task

from shoplake_airflow.assets import ENRICHED_STEAM_PURCHASE_FEATURES, STEAM_PURCHASE_MODEL
from shoplake_airflow.context import emit_partition_event, resolve_partition, skip_unless_trainable
from shoplake_airflow.handoffs import validate_hand_offs
from shoplake_airflow.jobs import job_params
from shoplake_airflow.params import ds_param
from shoplake_airflow.publish import publish_copy
from shoplake_airflow.schedules import SINCE_HISTORY
from shoplake_airflow.settings import settings
from shoplake_airflow.training import train_job


@dag(
    # data-aware: runs when a day of features lands, and every Monday 04:00 UTC; check_features trains only once
    # min_new_days new days arrived since the current model (a weekly cadence on daily data, any backfill speed)
    schedule=AssetOrTimeSchedule(
        timetable=CronDataIntervalTimetable("0 4 * * 1", timezone="UTC"), assets=ENRICHED_STEAM_PURCHASE_FEATURES
    ),
    **SINCE_HISTORY,
    max_active_runs=1,  # runs gate against each other's champion: one at a time
    description="Train, gate and publish the Steam purchase model (XGBoost) on a window of feature partitions",
    tags=["steam", "purchase", "training", "xgboost"],
    default_args={"owner": "data-platform", "retries": 2, "retry_delay": timedelta(minutes=5)},
    params={
        "ds": ds_param("last day of the training window"),
        "min_new_days": Param(
            7,
            type="integer",
            minimum=0,
            description="days of features newer than the current model needed to retrain (0 = retrain now)",
        ),
        **job_params("train_purchase_model"),
    },
    doc_md=__doc__,
)
def steam_purchase_model_weekly():
    @task(inlets=[ENRICHED_STEAM_PURCHASE_FEATURES])
    def check_features(partition: dict, **context) -> dict:
        from shoplake.pipelines import purchase_model

        params = context["params"]
        result = purchase_model.check_features(
            settings().lake_root, partition["ds"], params["window_days"], params["min_rows"],
            min_new_days=params["min_new_days"], target=params["target"],
        )  # fmt: skip
        return skip_unless_trainable(result)

    # with SHOPLAKE_TRAIN_BACKEND=auto one of the local / Spark training paths is always skipped
    @task(outlets=[STEAM_PURCHASE_MODEL], trigger_rule="none_failed_min_one_success")
    def check_model(features: dict, **context) -> dict:
        from shoplake.pipelines.purchase_model import check_published

        result = check_published(settings().lake_root, features["ds"], context["params"]["target"])
        return emit_partition_event(context, STEAM_PURCHASE_MODEL, result)

    partition = resolve_partition()
    features = check_features(partition)
    checked = check_model(features)
    chain(partition, features, train_job(), checked)
    publish_copy()(checked)


validate_hand_offs(steam_purchase_model_weekly())
