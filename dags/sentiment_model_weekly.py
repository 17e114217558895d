"""
### sentiment_model_weekly — retrain the offline sentiment model (MiniLM embeddings + logistic head)

**Purpose.** Keep shoplake's default sentiment model current: embed the labelled Steam reviews (`voted_up`) of
the last `window_days` curated partitions with all-MiniLM-L6-v2, fit a logistic-regression head, evaluate on the
newest 20 % against VADER (AUC, accuracy, F1 per class, ROC plot).

**Inputs.** `curated/steam_reviews/ds=…` for the window ending at the run's day (the `ds` Param of a manual run,
else the last day of the data interval; `resolve_partition` decides it, as in every DAG).

**Outputs.** `model/sentiment_head/version=<ds>/` (model, `metrics.json`, `roc.png`, config snapshot);
`model/sentiment_head/current.json` moves to it last, and only if its held-out AUC is not worse than the
current model's. `steam_reviews_daily` scores with whatever `current.json` names.

**Runs.** Weekly on the gpu queue/pool (embedding is the heavy part). Manual runs take the window and the
regularisation from Params. Rerunning a week replaces that week's version.

**Owner.** data-platform.
"""

from __future__ import annotations

from datetime import timedelta

from airflow.sdk import CronDataIntervalTimetable, chain, dag

from shoplake.pipelines.sentiment_model import SentimentTrainConfig
from shoplake_airflow.assets import CURATED_STEAM_REVIEWS, SENTIMENT_MODEL
from shoplake_airflow.context import HISTORY_START, resolve_partition
from shoplake_airflow.gpu import gpu_job
from shoplake_airflow.params import config_params, ds_param, param_flags
from shoplake_airflow.settings import settings

#: knobs of a manual run (Params derived from the job's config)
TRAIN_PARAMS = ("window_days", "c", "seed", "min_negatives")


@dag(
    schedule=CronDataIntervalTimetable("0 3 * * 1", timezone="UTC"),
    start_date=HISTORY_START,
    catchup=False,
    max_active_runs=1,
    description="Retrain the offline sentiment model (MiniLM embeddings + logistic head) on curated Steam reviews",
    tags=["steam", "sentiment", "training", "gpu"],
    default_args={"owner": "data-platform", "retries": 2, "retry_delay": timedelta(minutes=5)},
    params={"ds": ds_param("last day of the training window"), **config_params(SentimentTrainConfig, TRAIN_PARAMS)},
    doc_md=__doc__,
)
def sentiment_model_weekly():
    args = param_flags(TRAIN_PARAMS)
    if settings().mlflow_tracking_uri:
        args += ["--mlflow-uri", settings().mlflow_tracking_uri]
    train = gpu_job(
        "train_sentiment_head",
        "jobs/train/train_sentiment_head.py",
        args,
        inlets=[CURATED_STEAM_REVIEWS],
        outlets=[SENTIMENT_MODEL],
    )
    chain(resolve_partition(), train)


sentiment_model_weekly()
