"""
### telco_churn_weekly — customer table snapshot → features → churn model zoo → predictions

**Purpose.** Predict which subscription customers churn from their contract, services and charges (the IBM Telco
customer table layout).

**Inputs.** The customer table CSV at `SHOPLAKE_TELCO_SOURCE` (the shared sample by default), read whole: each run
takes a snapshot for the last day of its week.

**Steps** (`ds` = the last day of the run's week, or the `ds` Param):
1. `curate_churn_source` (Spark) — the snapshot → `raw/telco_customers/ds=` (malformed lines quarantined) →
   `curated/telco_customers/ds=`: typed columns, blank `TotalCharges` of brand-new customers → 0.0 with
   `total_charges_imputed`; duplicate ids, negative tenure or charges, a Churn other than Yes/No →
   `quarantine/curated_telco_customers` with a reason. `check_curated` checks every line is accounted for.
2. `build_churn_features` (Spark) — contract, services, billing (categorical, one-hot in the model), senior citizen,
   tenure, charges, average monthly spend; `label` = Churn → `enriched/telco_churn_features/ds=`.
3. `check_features` — train when both classes have `min_class_users` customers (else score or stop, logged).
4. `train_churn_models` (Spark MLlib) — LogisticRegression, RandomForest, GBT, LinearSVC with CrossValidator on weighted
   F1 and balanced class weights → `model/telco_churn/version=<ds>/` (best model, metrics with weighted and
   churn-class F1, comparison table and plot, config); `current.json` moves only if not worse.
5. `predict_churn` (Spark) — the current model scores every customer → `enriched/telco_churn_predictions/ds=`.

**Reruns.** Each step replaces its own `ds` partition or version.

**Owner.** data-platform.
"""

from __future__ import annotations

from datetime import timedelta

from airflow.sdk import dag

from shoplake_airflow.churn import churn_params, churn_pipeline
from shoplake_airflow.handoffs import validate_hand_offs
from shoplake_airflow.schedules import SINCE_HISTORY, on_cron


@dag(
    schedule=on_cron("0 5 * * 1"),
    **SINCE_HISTORY,
    max_active_runs=1,  # runs gate against each other's champion model
    description="Telco customer churn: customer table snapshot → features → MLlib model zoo → predictions",
    tags=["telco", "churn", "ingest", "training", "scoring", "spark", "mllib"],
    default_args={"owner": "data-platform", "retries": 2, "retry_delay": timedelta(minutes=5)},
    params=churn_params("telco"),
    doc_md=__doc__,
)
def telco_churn_weekly():
    churn_pipeline("telco")


validate_hand_offs(telco_churn_weekly())
