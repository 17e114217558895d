"""
### sentiment_model_weekly — retrain the offline sentiment model (MiniLM embeddings + logistic head)

**Purpose.** Keep shoplake's default sentiment model current: embed the labelled Steam reviews (`voted_up`) of
the last `window_days` curated partitions with all-MiniLM-L6-v2, fit a logistic-regression head, evaluate on the
newest 20 % against VADER (AUC, accuracy, F1 per class, ROC plot).

**Inputs.** `curated/steam_reviews/ds=…` for the window ending at the run's day.

**Outputs.** `model/sentiment_head/version=<ds>/` (model, `metrics.json`, `roc.png`, config snapshot);
`model/sentiment_head/current.json` moves to it last, and only if its held-out AUC is not worse than the
current model's. `steam_reviews_daily` scores with whatever `current.json` names.

**Runs.** Weekly on the gpu queue/pool (embedding is the heavy part). Manual runs take the window and the
regularisation from Params. Rerunning a week replaces that week's version.

**Owner.** data-platform.
"""

from __future__ import annotations

from datetime import timedelta

import pendulum
from airflow.sdk import CronDataIntervalTimetable, Param, dag

from shoplake_airflow.assets import SENTIMENT_MODEL
from shoplake_airflow.gpu import gpu_job
from shoplake_airflow.settings import settings


@dag(
    schedule=CronDataIntervalTimetable("0 3 * * 1", timezone="UTC"),
    start_date=pendulum.datetime(2019, 2, 4, tz="UTC"),
    catchup=False,
    max_active_runs=1,
    tags=["sentiment", "training", "gpu"],
    default_args={"owner": "data-platform", "retries": 2, "retry_delay": timedelta(minutes=5)},
    params={
        "window_days": Param(28, type="integer", minimum=1, maximum=365, description="curated days to learn from"),
        "c": Param(4.0, type="number", exclusiveMinimum=0, description="inverse L2 regularisation of the head"),
        "seed": Param(13, type="integer", description="seed of the head's solver"),
    },
    doc_md=__doc__,
)
def sentiment_model_weekly():
    gpu_job(
        "train_sentiment_head",
        "jobs/train/train_sentiment_head.py",
        [
            "--ds",
            "{{ macros.ds_add(data_interval_end | ds, -1) }}",
            "--lake-root",
            settings().lake_root,
            "--window-days",
            "{{ params.window_days }}",
            "--c",
            "{{ params.c }}",
            "--seed",
            "{{ params.seed }}",
        ],
        outlets=[SENTIMENT_MODEL],
    )


sentiment_model_weekly()
