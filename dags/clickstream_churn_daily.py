"""
### clickstream_churn_daily — shop clickstream → per-user engagement → churn (no return) model zoo → predictions

**Purpose.** Predict which shoppers do not come back, from their view / cart / remove_from_cart / purchase events
(the REES46 e-commerce events layout).

**Inputs.** Event CSVs matching `SHOPLAKE_CLICKSTREAM_SOURCE` (a glob; the shared sample by default); each run
takes the events of its day.

**Steps** (`ds` = the run's day, or the `ds` Param):
1. `curate_churn_source` (Spark) — the day's events → `raw/clickstream_events/ds=` → `curated/clickstream_events/ds=`;
   unparseable times, unknown event types, missing users/products, negative prices and duplicate events →
   quarantine with a reason. `check_curated` checks every line is accounted for.
2. `build_churn_features` (Spark) — the `window_days` curated days ending at `ds`. The label period is the last
   `label_horizon_hours` before the window's last event: users active before it get features from their earlier
   events only (counts per event type, sessions, products, categories, brands, prices, cart / purchase / remove
   rates, active span, recency) and `label` = no event in the label period → `enriched/clickstream_churn_features/`.
3. `check_features` — train when both classes have `min_class_users` users (else score or stop, logged).
4. `train_churn_models` (Spark MLlib) — the four-model zoo with CrossValidator on weighted F1, balanced class weights →
   `model/clickstream_churn/version=<ds>/`; `current.json` moves only if not worse.
5. `predict_churn` (Spark) — the current model scores every user → `enriched/clickstream_churn_predictions/ds=`.

**Defaults** (30-day window, 7-day label period) fit a month-long stream; the shared sample holds under three hours
of one day, so demos and tests run it with `window_days=1`, `label_horizon_hours=1`.

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
    description="Shop clickstream churn (no return): events → features → MLlib model zoo → predictions",
    tags=["clickstream", "churn", "ingest", "training", "scoring", "spark", "mllib"],
    default_args={"owner": "data-platform", "retries": 2, "retry_delay": timedelta(minutes=2)},
    params=churn_params("clickstream"),
    doc_md=__doc__,
)
def clickstream_churn_daily():
    churn_pipeline("clickstream")


validate_hand_offs(clickstream_churn_daily())
