"""
### sparkify_churn_daily — Sparkify listeners: event logs → per-user features → churn model zoo → predictions

**Purpose.** Predict which Sparkify (music streaming) users churn, from their listening behaviour.

**Inputs.** The day's event log `<SHOPLAKE_SPARKIFY_SOURCE>/log_data/YYYY/MM/YYYY-MM-DD-events.json` (NDJSON, the
mini_sparkify schema; the shared sample by default).

**Steps** (`ds` = the run's day, or the `ds` Param):
1. `curate_churn_source` (Spark) — the day's log → `raw/sparkify_events/ds=` (unparseable lines →
   `quarantine/raw_sparkify_events`) → `curated/sparkify_events/ds=` (out-of-day, page-less or duplicate events →
   `quarantine/curated_sparkify_events` with a reason). `check_curated` checks every line is accounted for.
2. `build_churn_features` (Spark) — the `window_days` curated days ending at `ds`, one row per user: activity, songs,
   thumbs, adverts, friends, playlists, downgrades, upgrades, errors, sessions, active days, tenure, level, gender;
   `label` = the user visited one of `churn_pages` (default *Cancellation Confirmation*; those pages and *Cancel*
   never count as activity) → `enriched/sparkify_churn_features/ds=`.
3. `check_features` — branches: train when both classes have `min_class_users` users, else score with the current
   model, else stop (the reason is logged). The shared November 2018 sample has **no** Cancellation Confirmation
   event: with the default definition its runs build features and stop; see docs/churn.md for other definitions.
4. `train_churn_models` (Spark MLlib) — LogisticRegression, RandomForest, GBT, LinearSVC, each tuned by CrossValidator
   on weighted F1 with balanced class weights; held-out weighted and churn-class F1, accuracy, AUC, a majority
   baseline → `model/sparkify_churn/version=<ds>/` (best model, metrics.json, comparison.csv/png, config).
   `current.json` moves only if the new model's weighted F1 is not below the champion's on the same users.
5. `predict_churn` (Spark) — the current model scores every user → `enriched/sparkify_churn_predictions/ds=`.

**Reruns and backfills.** Each step replaces its own `ds` partition or version; backfill the days first (e.g.
`airflow backfill create --dag-id sparkify_churn_daily --from-date 2018-11-01 --to-date 2018-11-30`), each run
reading the window that ends on its day.

**Owner.** data-platform.
"""

from __future__ import annotations

from datetime import timedelta

from airflow.sdk import dag

from shoplake_airflow.churn import churn_params, churn_pipeline
from shoplake_airflow.handoffs import validate_hand_offs
from shoplake_airflow.schedules import SINCE_HISTORY, on_cron


@dag(
    schedule=on_cron("@daily"),
    **SINCE_HISTORY,
    max_active_runs=1,  # runs gate against each other's champion model
    description="Sparkify listener churn: event log → features → MLlib model zoo → predictions",
    tags=["sparkify", "churn", "ingest", "training", "scoring", "spark", "mllib"],
    default_args={"owner": "data-platform", "retries": 2, "retry_delay": timedelta(minutes=2)},
    params=churn_params("sparkify"),
    doc_md=__doc__,
)
def sparkify_churn_daily():
    churn_pipeline("sparkify")


validate_hand_offs(sparkify_churn_daily())
