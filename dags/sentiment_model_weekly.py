"""
### sentiment_model_weekly — retrain the offline sentiment models (English MiniLM head, multilingual USE head)

**Purpose.** Keep shoplake's default sentiment models current: embed the labelled Steam reviews (`voted_up`) of
the last `window_days` curated partitions, fit a logistic-regression head, evaluate on the newest 20 % against VADER
(AUC with a 95 % interval per language, accuracy, F1 per class, ROC plot). Two models, two tasks:
`train_sentiment_head` (all-MiniLM-L6-v2, English reviews: the `en` route) and `train_multilingual_sentiment_head`
(Universal Sentence Encoder multilingual v3, packaged weights; the head learns from every labelled language and is
evaluated on every language, those without labels of their own as cross-lingual transfer: the `*` route).

**Inputs.** `curated/steam_reviews/ds=…` for the window ending at the run's day (the `ds` Param of a manual run,
else the last day of the data interval; `resolve_partition` decides it, as in every DAG).

**Outputs.** `model/sentiment_head/version=<ds>/` and `model/sentiment_multilingual/version=<ds>/` (model,
`metrics.json`, `roc.png`, config snapshot); each model's `current.json` moves to it last, and only if its held-out
AUC is not worse than the current model's. `steam_reviews_daily` and `product_reviews_daily` score with whatever
the `current.json` of each route names.

**Runs.** Weekly; the MiniLM head on the gpu queue/pool (embedding is the heavy part), the USE head on the
default queue (numpy on the CPU). Manual runs take the window and the
regularisation from Params. Rerunning a week replaces that week's version.

**Owner.** data-platform.
"""

from __future__ import annotations

from datetime import timedelta

from airflow.sdk import chain, dag

from shoplake_airflow.context import resolve_partition
from shoplake_airflow.handoffs import validate_hand_offs
from shoplake_airflow.jobs import job_params, job_task
from shoplake_airflow.params import ds_param
from shoplake_airflow.schedules import SINCE_HISTORY, on_cron


@dag(
    schedule=on_cron("0 3 * * 1"),
    **SINCE_HISTORY,
    max_active_runs=1,
    description="Retrain the offline sentiment models (English MiniLM head, multilingual USE head) on curated Steam "
    "reviews",
    tags=["steam", "sentiment", "training", "gpu"],
    default_args={"owner": "data-platform", "retries": 2, "retry_delay": timedelta(minutes=5)},
    params={"ds": ds_param("last day of the training window"), **job_params("train_sentiment_head")},
    doc_md=__doc__,
)
def sentiment_model_weekly():
    train = job_task("train_sentiment_head")
    # USE runs on numpy on the CPU: the default queue, no GPU slot held
    multilingual = job_task("train_multilingual_sentiment_head")
    chain(resolve_partition(), [train, multilingual])


validate_hand_offs(sentiment_model_weekly())
