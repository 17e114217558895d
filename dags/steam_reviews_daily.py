"""
### steam_reviews_daily — Steam reviews: source → MongoDB → raw → curated → enriched (sentiment)

**Purpose.** First half of the Steam purchase-prediction pipeline: land each day's Steam store reviews in the
lake, typed and cleaned, ready for sentiment scoring and training.

**Steps** (each owns the run's day, `ds` = UTC date of `data_interval_start`):

1. `load_reviews` — reviews created in `[data_interval_start, data_interval_end)` from the Steam source
   (saved responses by default, the live endpoint with `SHOPLAKE_STEAM_SOURCE=api`) are upserted into Mongo
   (`mongo_default`) by `recommendationid`. Unusable records → `quarantine/load_steam_reviews/ds=…`.
2. `extract_reviews` — the window's documents → `raw/steam_reviews/ds=…` (pymongoarrow, explicit schema);
   mistyped, missing, out-of-range or duplicate documents → `quarantine/raw_steam_reviews/ds=…` with reasons.
3. `curate_reviews` — Spark job `jobs/spark/curate_steam_reviews.py` (local spark-submit or EMR, chosen by
   `SHOPLAKE_SPARK_BACKEND`): cleaned text, types, dedupe, features, language →
   `curated/steam_reviews/ds=…`; rejects → `quarantine/curated_steam_reviews/ds=…`.
4. `check_curated` — every raw row is curated or quarantined; emits the `curated.steam_reviews` asset event
   with `{"ds", "path", "rows"}`.
5. `score_sentiment` — `jobs/gpu/score_sentiment.py` on queue/pool `gpu`, in a fresh process: the sentiment
   model (`SHOPLAKE_SENTIMENT_MODEL`, pinned revision) scores every curated review →
   `enriched/steam_reviews/ds=…` (label, score, positive_prob, model_id, model_revision).
6. `check_enriched` — every curated row was scored; emits `enriched.steam_reviews`.
7. `build_features` — curated reviews joined with their sentiment → `enriched/steam_purchase_features/ds=…`
   (the purchase model's input; `steam_purchase_model_weekly` trains on a window of them); rows without a score
   or target → `quarantine/features_steam_reviews/ds=…`. Emits `enriched.steam_purchase_features`.

**Reruns and backfills.** Every write replaces exactly its `ds` partition (temp write, then swap), so clearing a
task or rerunning a day gives identical data. Backfill with
`airflow backfill create --dag-id steam_reviews_daily --from-date 2019-03-01 --to-date 2019-03-03`.

**Owner.** data-platform.
"""

from __future__ import annotations

from datetime import timedelta

import pendulum
from airflow.sdk import CronDataIntervalTimetable, chain, dag, task

from shoplake_airflow.assets import (
    CURATED_STEAM_REVIEWS,
    ENRICHED_STEAM_PURCHASE_FEATURES,
    ENRICHED_STEAM_REVIEWS,
    RAW_STEAM_REVIEWS,
)
from shoplake_airflow.context import emit_partition_event, xcom_ds
from shoplake_airflow.gpu import gpu_job
from shoplake_airflow.settings import settings
from shoplake_airflow.spark import spark_job


@dag(
    # a data-interval timetable: each run owns [start, end) of one UTC day (a cron *trigger* has no interval)
    schedule=CronDataIntervalTimetable("@daily", timezone="UTC"),
    start_date=pendulum.datetime(2019, 2, 1, tz="UTC"),
    catchup=False,
    max_active_runs=2,
    tags=["steam", "ingest", "spark"],
    default_args={"owner": "data-platform", "retries": 2, "retry_delay": timedelta(minutes=1)},
    doc_md=__doc__,
)
def steam_reviews_daily():
    @task
    def load_reviews(**context) -> dict:
        from shoplake.ingest.steam_pipeline import load_window
        from shoplake_airflow.context import run_window
        from shoplake_airflow.hooks import steam_collection

        return load_window(steam_collection(), settings(), run_window(context))

    @task(outlets=[RAW_STEAM_REVIEWS])
    def extract_reviews(**context) -> dict:
        from shoplake.ingest.steam_pipeline import extract_window_to_raw
        from shoplake_airflow.context import run_window
        from shoplake_airflow.hooks import steam_collection

        result = extract_window_to_raw(steam_collection(), settings(), run_window(context))
        return emit_partition_event(context, RAW_STEAM_REVIEWS, result)

    @task(outlets=[CURATED_STEAM_REVIEWS])
    def check_curated(raw: dict, **context) -> dict:
        from shoplake.ingest.steam_pipeline import check_curated as check

        result = check(settings(), raw["ds"], raw_rows=raw["rows"])
        return emit_partition_event(context, CURATED_STEAM_REVIEWS, result)

    @task(outlets=[ENRICHED_STEAM_REVIEWS])
    def check_enriched(scored: str, curated: dict, **context) -> dict:
        import json

        from shoplake.ingest.steam_pipeline import check_enriched as check

        result = check(settings(), json.loads(scored), curated["rows"])
        return emit_partition_event(context, ENRICHED_STEAM_REVIEWS, result)

    @task(outlets=[ENRICHED_STEAM_PURCHASE_FEATURES])
    def build_features(enriched: dict, **context) -> dict:
        from shoplake.ingest.steam_pipeline import build_purchase_features

        result = build_purchase_features(settings(), enriched["ds"], curated_rows=enriched["rows"])
        return emit_partition_event(context, ENRICHED_STEAM_PURCHASE_FEATURES, result)

    cfg = settings()
    ds = xcom_ds("extract_reviews")  # every job works on the partition the extract wrote
    curate = spark_job(
        "curate_reviews", "jobs/spark/curate_steam_reviews.py", ["--ds", ds, "--lake-root", cfg.lake_root], ds=ds
    )
    score = gpu_job(
        "score_sentiment",
        "jobs/gpu/score_sentiment.py",
        [
            "--ds",
            ds,
            "--lake-root",
            cfg.lake_root,
            "--model",
            cfg.sentiment_model,
            "--revision",
            cfg.sentiment_revision,
            "--model-cache",
            cfg.model_cache,
        ],
    )
    raw = extract_reviews()
    curated = check_curated(raw)
    enriched = check_enriched(score.output, curated)
    chain(load_reviews(), raw, curate, curated, score, enriched, build_features(enriched))


steam_reviews_daily()
