"""
### steam_reviews_daily — Steam reviews: source → MongoDB → raw → curated → enriched (sentiment)

**Purpose.** First half of the Steam purchase-prediction pipeline: land each day's Steam store reviews in the
lake, typed and cleaned, ready for sentiment scoring and training.

**Steps** (each owns the run's day `ds`: the `ds` Param of a manual run, else the UTC date of the data interval):

0. `resolve_partition` — decides `ds` (one rule for every DAG; a run with neither fails at once, not retried).

1. `load_reviews` — reviews created on the UTC day `ds` (half-open `[ds, ds+1)`) from the Steam source
   (saved responses by default, the live endpoint with `SHOPLAKE_STEAM_SOURCE=api`) are upserted into Mongo
   (`mongo_default`) by `recommendationid`. Unusable records → `quarantine/load_steam_reviews/ds=…`.
2. `extract_reviews` — the day's documents → `raw/steam_reviews/ds=…` (pymongoarrow, explicit schema);
   mistyped, missing, out-of-range or duplicate documents → `quarantine/raw_steam_reviews/ds=…` with reasons.
   A day the source holds no review of ends here **skipped**, with the reason (every later task skips: no empty
   partition, no asset event) — e.g. the interval a scheduler runs when the DAG is unpaused on a dump of the past.
3. `curate_steam_reviews` — Spark job `jobs/spark/curate_steam_reviews.py` (local spark-submit or EMR, chosen by
   `SHOPLAKE_SPARK_BACKEND`): cleaned text, types, dedupe, features, language →
   `curated/steam_reviews/ds=…`; rejects → `quarantine/curated_steam_reviews/ds=…`.
4. `check_curated` — every raw row is curated or quarantined; emits the `curated.steam_reviews` asset event
   with `{"ds", "path", "rows"}`.
5. `score_sentiment` — `jobs/gpu/score_sentiment.py` on queue/pool `gpu`, in a fresh process: the model of each
   review's language (`SHOPLAKE_SENTIMENT_MODELS`, e.g. `en=<lake model>,*=<multilingual hub id@revision>`;
   by default `SHOPLAKE_SENTIMENT_MODEL` for English and `SHOPLAKE_SENTIMENT_MULTILINGUAL_MODEL`, the offline USE
   multilingual head, for every other language) scores it → `enriched/steam_reviews/ds=…` (label,
   score, positive_prob, model_id, model_revision, language_code, sentiment_status). Reviews in a language no
   configured model supports get null scores and `sentiment_status = 'unsupported_language'`.
6. `check_enriched` — every curated row was scored; emits `enriched.steam_reviews`.
7. `build_features` — curated reviews joined with their sentiment → `enriched/steam_purchase_features/ds=…`
   (the purchase model's input; `steam_purchase_model_weekly` trains on a window of them); rows without a score
   or target → `quarantine/features_steam_reviews/ds=…`. Emits `enriched.steam_purchase_features`.

**Reruns and backfills.** Every write replaces exactly its `ds` partition (a new version, then its pointer), so
clearing a task or rerunning a day gives identical data. Backfill with
`airflow backfill create --dag-id steam_reviews_daily --from-date 2019-03-01 --to-date 2019-03-03`.

**Owner.** data-platform.
"""

from __future__ import annotations

from datetime import timedelta

from airflow.sdk import chain, dag, task

from shoplake_airflow.assets import (
    CURATED_STEAM_REVIEWS,
    ENRICHED_STEAM_PURCHASE_FEATURES,
    ENRICHED_STEAM_REVIEWS,
    RAW_STEAM_REVIEWS,
)
from shoplake_airflow.context import emit_partition_event, resolve_partition, skip_empty_day
from shoplake_airflow.handoffs import validate_hand_offs
from shoplake_airflow.jobs import job_task
from shoplake_airflow.params import ds_param
from shoplake_airflow.schedules import SINCE_HISTORY, on_cron
from shoplake_airflow.settings import settings


@dag(
    schedule=on_cron("@daily"),
    **SINCE_HISTORY,
    max_active_runs=2,
    description="Steam reviews of one day: source → Mongo → raw → curated (Spark) → sentiment → purchase features",
    tags=["steam", "ingest", "scoring", "spark", "gpu"],
    # a task lost with its worker is failed after the shared heartbeat timeout (30 s) and retried this much later:
    # about a minute from the loss to the retry (docs/operations.md, "Faults")
    default_args={"owner": "data-platform", "retries": 2, "retry_delay": timedelta(seconds=30)},
    params={"ds": ds_param("UTC day whose reviews to process")},
    doc_md=__doc__,
)
def steam_reviews_daily():
    @task
    def load_reviews(partition: dict) -> dict:
        from shoplake.pipelines.steam_reviews import load_window
        from shoplake_airflow.hooks import steam_collection

        cfg = settings()
        source = {"source": cfg.steam_source_dir, "app_ids": cfg.steam_app_ids, "api_url": cfg.steam_api_url}
        return load_window(steam_collection(), cfg.lake_root, partition["ds"], **source)

    @task(outlets=[RAW_STEAM_REVIEWS])
    def extract_reviews(partition: dict, **context) -> dict:
        from shoplake.pipelines.steam_reviews import extract_window_to_raw
        from shoplake_airflow.hooks import steam_collection

        cfg = settings()
        result = extract_window_to_raw(
            steam_collection(), cfg.lake_root, partition["ds"], max_review_chars=cfg.max_review_chars
        )
        return emit_partition_event(context, RAW_STEAM_REVIEWS, skip_empty_day(result))

    @task(outlets=[CURATED_STEAM_REVIEWS])
    def check_curated(raw: dict, **context) -> dict:
        from shoplake.pipelines import steam_reviews

        result = steam_reviews.check_curated(settings().lake_root, raw["ds"], raw_rows=raw["rows"])
        return emit_partition_event(context, CURATED_STEAM_REVIEWS, result)

    @task(outlets=[ENRICHED_STEAM_REVIEWS])
    def check_enriched(scored: dict, curated: dict, **context) -> dict:
        from shoplake.pipelines import steam_reviews

        result = steam_reviews.check_enriched(settings().lake_root, curated["ds"], scored, curated["rows"])
        return emit_partition_event(context, ENRICHED_STEAM_REVIEWS, result)

    @task(inlets=[CURATED_STEAM_REVIEWS, ENRICHED_STEAM_REVIEWS], outlets=[ENRICHED_STEAM_PURCHASE_FEATURES])
    def build_features(enriched: dict, **context) -> dict:
        from shoplake.pipelines.steam_reviews import build_purchase_features

        result = build_purchase_features(settings().lake_root, enriched["ds"], curated_rows=enriched["rows"])
        return emit_partition_event(context, ENRICHED_STEAM_PURCHASE_FEATURES, result)

    cfg = settings()
    # jobs declare what they read; the check task after each one emits the outlet's event (with its ds)
    curate = job_task("curate_steam_reviews")
    model_args = ["--models", cfg.sentiment_model_map, "--model-cache", cfg.model_cache, *cfg.sentiment_engine_args]
    score = job_task("score_sentiment", model_args)
    partition = resolve_partition()
    raw = extract_reviews(partition)
    curated = check_curated(raw)
    enriched = check_enriched(score.output, curated)
    chain(partition, load_reviews(partition), raw, curate, curated, score, enriched, build_features(enriched))


validate_hand_offs(steam_reviews_daily())
