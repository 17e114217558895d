"""
### product_reviews_daily — product reviews with star ratings: source → raw → curated (Spark), and the catalogue

**Purpose.** Land the product reviews (Sephora layout: product id, 1–5 stars, text, title, author, time) of one day
and the product catalogue (brand, categories, price) that ties reviews to brands, for the clickstream's product ↔
review map and the engagement model's review features.

**Inputs.** Review CSVs matching `SHOPLAKE_PRODUCT_REVIEWS_SOURCE` and catalogue CSVs matching
`SHOPLAKE_PRODUCT_CATALOG_SOURCE` (the shared Sephora sample by default; texts with line breaks inside quotes are
read whole).

**Steps** (`ds` = the run's day, or the `ds` Param):
1. `curate_product_reviews` (Spark) — the reviews submitted on `ds` (UTC) → `raw/product_reviews/ds=` →
   `curated/product_reviews/ds=`; unparseable CSV records, missing product ids, ratings that are not a whole
   number 1–5, unparseable times, empty texts and duplicate reviews → quarantine with a reason. Reviewer nicknames
   never reach curated (a SHA-256 key instead). The catalogue snapshot → `curated/product_catalog/ds=` (rows
   without a product id or brand, and repeated listings, quarantined).
2. `check_reviews` — every row accounted for (raw = curated + quarantined); emits the three Assets.
3. `score_product_reviews` — `jobs/gpu/score_product_reviews.py` on queue/pool `gpu`: the sentiment engine of the Steam
   pipeline (the model of each review's language, `SHOPLAKE_SENTIMENT_MODELS`) → `enriched/product_reviews/ds=`
   (`review_id`, label, score, `positive_prob`, model and revision); `check_sentiment` checks one row per review.

**Owner.** data-platform.
"""

from __future__ import annotations

from datetime import timedelta

from airflow.sdk import chain, dag, task

from shoplake_airflow.assets import (
    CURATED_PRODUCT_CATALOG,
    CURATED_PRODUCT_REVIEWS,
    ENRICHED_PRODUCT_REVIEWS,
    RAW_PRODUCT_REVIEWS,
)
from shoplake_airflow.context import emit_partition_event, empty_day, fail_without_retry, resolve_partition
from shoplake_airflow.handoffs import validate_hand_offs
from shoplake_airflow.jobs import job_task
from shoplake_airflow.params import ds_param
from shoplake_airflow.schedules import SINCE_HISTORY, on_cron
from shoplake_airflow.settings import settings


@dag(
    schedule=on_cron("@daily"),
    **SINCE_HISTORY,
    max_active_runs=4,
    description="Product reviews with star ratings and the product catalogue: source → raw → curated (Spark)",
    tags=["sephora", "reviews", "sentiment", "ingest", "scoring", "spark", "gpu"],
    default_args={"owner": "data-platform", "retries": 2, "retry_delay": timedelta(minutes=2)},
    params={"ds": ds_param("UTC day whose reviews to process")},
    doc_md=__doc__,
)
def product_reviews_daily():
    @task(outlets=[RAW_PRODUCT_REVIEWS, CURATED_PRODUCT_REVIEWS, CURATED_PRODUCT_CATALOG])
    def check_reviews(partition: dict, **context) -> dict:
        from shoplake.pipelines.product_reviews import check_curated

        with fail_without_retry():  # rows unaccounted for
            result = check_curated(settings().lake_root, partition["ds"])
        empty_day(result, "product reviews")
        emit_partition_event(
            context, RAW_PRODUCT_REVIEWS, {**result, "path": result["raw_path"], "rows": result["raw_rows"]}
        )
        emit_partition_event(
            context, CURATED_PRODUCT_CATALOG, {**result, "path": result["catalog_path"], "rows": result["catalog_rows"]}
        )
        return emit_partition_event(context, CURATED_PRODUCT_REVIEWS, result)

    @task(outlets=[ENRICHED_PRODUCT_REVIEWS])
    def check_sentiment(result: dict, curated: dict, **context) -> dict:
        from airflow.sdk.exceptions import AirflowFailException

        if result["rows"] != curated["rows"]:  # deterministic: the job scored another partition than it was given
            raise AirflowFailException(
                f"scored {result['rows']} reviews, curated has {curated['rows']} (ds={curated['ds']})"
            )
        return emit_partition_event(context, ENRICHED_PRODUCT_REVIEWS, result)

    args = []
    if settings().product_reviews_source:
        args += ["--reviews-source", settings().product_reviews_source]
    if settings().product_catalog_source:
        args += ["--catalog-source", settings().product_catalog_source]
    partition = resolve_partition()
    curate = job_task("curate_product_reviews", args)
    cfg = settings()
    model_args = ["--models", cfg.sentiment_model_map, "--model-cache", cfg.model_cache, *cfg.sentiment_engine_args]
    score = job_task("score_product_reviews", model_args)
    curated = check_reviews(partition)
    chain(partition, curate, curated, score, check_sentiment(score.output, curated))


validate_hand_offs(product_reviews_daily())
