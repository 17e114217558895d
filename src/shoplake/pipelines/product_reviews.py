"""Product reviews with star ratings: source → raw → curated (Spark) with quarantine, the catalogue, and the
clickstream ↔ review mapping.

1. :func:`curate_product_reviews` — the day's review rows → ``raw/product_reviews/ds=`` →
   ``curated/product_reviews/ds=``, and the catalogue snapshot → ``curated/product_catalog/ds=``; rejects →
   ``quarantine/{raw,curated}_product_reviews`` and ``quarantine/curated_product_catalog`` with reasons; counts
   committed with every partition.
2. :func:`build_product_review_map` — the clickstream products of the window ↔ review brands →
   ``curated/product_review_map/ds=`` (match method per product) with the coverage in its committed counts; the
   engagement model joins the brand's rating features from it.

Rules and the matching are in ``shoplake.transforms.product_reviews``.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from shoplake.jobconfig import PartitionJob, option
from shoplake.paths import (
    PRODUCT_CATALOG,
    PRODUCT_REVIEW_MAP,
    PRODUCT_REVIEWS,
    Zone,
    partition_path,
    quarantine_path,
    window_partitions,
)
from shoplake.pipelines.steam_reviews import ScoreConfig

if TYPE_CHECKING:
    from pyspark.sql import SparkSession

log = logging.getLogger(__name__)


@dataclass(frozen=True, kw_only=True)
class ReviewsJobConfig(PartitionJob):
    """Arguments of the product review jobs."""

    ds: str = option(help="partition date YYYY-MM-DD (the UTC day of the reviews; the last day of the map's window)")
    reviews_source: str = option(
        "", help="review CSVs (path or glob); empty = SHOPLAKE_PRODUCT_REVIEWS_SOURCE or the sample"
    )
    catalog_source: str = option(
        "", help="product catalogue CSVs (path or glob); empty = SHOPLAKE_PRODUCT_CATALOG_SOURCE or the sample"
    )
    window_days: int = option(
        30, help="map: days of curated clickstream events, ending at ds, whose products are mapped (days)", minimum=1,
        maximum=366,
    )  # fmt: skip
    language: str = option("en", help="language code of the review source (routes the sentiment model; Sephora US: en)")
    review_days: int = option(
        3650, help="map: days of curated reviews, ending at ds, behind the brand figures (days)", minimum=1,
        maximum=36500,
    )  # fmt: skip


def _counted_write(spark, df, path: str, counts: dict[str, Any]) -> int:
    from shoplake.io.spark_lake import write_partition

    return write_partition(df, path, counts=counts)


def curate_product_reviews(spark: SparkSession, cfg: ReviewsJobConfig) -> dict[str, Any]:
    """The day's reviews through raw and curated, and the catalogue snapshot; every input row accounted for."""
    from shoplake.config import Settings
    from shoplake.io.spark_lake import write_partition
    from shoplake.pipelines.stages import land_and_curate
    from shoplake.transforms import product_reviews as pr

    settings = Settings.from_env()
    reviews_path = cfg.reviews_source or settings.product_reviews_path
    catalog_path = cfg.catalog_source or settings.product_catalog_path

    landed = pr.land_reviews(spark, reviews_path, cfg.ds)
    result = land_and_curate(
        spark, cfg.lake_root, PRODUCT_REVIEWS, cfg.ds, landed, lambda raw: pr.curate_reviews(raw, cfg.language)
    )

    catalog, read = pr.curate_catalog(spark, catalog_path)
    cat_path = partition_path(cfg.lake_root, Zone.CURATED, PRODUCT_CATALOG, cfg.ds)
    cat_q = write_partition(catalog.quarantine, quarantine_path(cfg.lake_root, "curated", PRODUCT_CATALOG, cfg.ds))
    products = _counted_write(spark, catalog.good, cat_path, {"in": read, "quarantined": cat_q})
    if read != products + cat_q:
        raise RuntimeError(f"product catalogue ds={cfg.ds}: {read} rows read, {products} kept, {cat_q} quarantined")
    return {**result, "catalog_products": products, "catalog_quarantined": cat_q}


@dataclass(frozen=True, kw_only=True)
class ReviewScoreConfig(ScoreConfig):
    """Arguments of ``jobs/gpu/score_product_reviews.py``: the sentiment engine's (models per language, knobs)."""


def score_product_reviews(cfg: ReviewScoreConfig) -> dict[str, Any]:
    """Score every curated product review of ``ds`` → ``enriched/product_reviews/ds=`` (``review_id`` + sentiment).

    Raises:
        RuntimeError: fewer or more rows scored than the curated partition holds.
    """
    from shoplake.io.lake import read_counts
    from shoplake.ml.sentiment import Router, engine_config, parse_model_map, score_partition

    router = Router(parse_model_map(cfg.models), engine_config(cfg), cache_dir=cfg.model_cache)
    src = partition_path(cfg.lake_root, Zone.CURATED, PRODUCT_REVIEWS, cfg.ds)
    out = partition_path(cfg.lake_root, Zone.ENRICHED, PRODUCT_REVIEWS, cfg.ds)
    refused = quarantine_path(cfg.lake_root, "enriched", PRODUCT_REVIEWS, cfg.ds)  # rows a managed model refused
    result = score_partition(router, src, out, id_col="review_id", out_id="review_id", quarantine=refused)
    curated_rows = read_counts(src)["curated"]
    if result["rows"] != curated_rows:
        raise RuntimeError(f"scored {result['rows']} rows but curated product reviews ds={cfg.ds} has {curated_rows}")
    return {"ds": cfg.ds, **result}


def _days_between(lake_root: str, zone: Zone, dataset: str, ds: str, days: int) -> list[str]:
    """The days of ``dataset``'s partitions within the ``days`` days ending at ``ds``, oldest first."""
    from shoplake.io.lake import partition_days
    from shoplake.paths import dataset_path, window_days

    first = window_days(ds, days)[0]
    return [d for d in partition_days(dataset_path(lake_root, zone, dataset)) if first <= d <= ds]


def _catalog_day(lake_root: str, ds: str) -> str | None:
    """The catalogue snapshot the map uses: the newest on or before ``ds``, else the oldest after it.

    Brands and categories are reference data (unlike reviews, which never come from after ``ds``): a clickstream
    day older than every catalogue snapshot is mapped with the oldest one, and the map records which.
    """
    from shoplake.io.lake import partition_days
    from shoplake.paths import dataset_path

    days = partition_days(dataset_path(lake_root, Zone.CURATED, PRODUCT_CATALOG))
    before = [d for d in days if d <= ds]
    return before[-1] if before else (days[0] if days else None)


def build_product_review_map(spark: SparkSession, cfg: ReviewsJobConfig) -> dict[str, Any]:
    """Clickstream products of the window ↔ review brands → ``curated/product_review_map/ds=`` with coverage."""
    from pyspark.sql import functions as F

    from shoplake.io.lake import existing_partitions
    from shoplake.io.spark_lake import read_parquet
    from shoplake.paths import CLICKSTREAM_EVENTS
    from shoplake.transforms.product_reviews import review_map

    events_paths, _ = existing_partitions(
        window_partitions(cfg.lake_root, Zone.CURATED, CLICKSTREAM_EVENTS, cfg.ds, cfg.window_days)
    )
    if not events_paths:
        raise FileNotFoundError(f"no curated clickstream partition in the {cfg.window_days} days ending {cfg.ds}")
    # one listing per dataset (review_days spans years: no existence check per day)
    review_days = _days_between(cfg.lake_root, Zone.CURATED, PRODUCT_REVIEWS, cfg.ds, cfg.review_days)
    review_paths = [partition_path(cfg.lake_root, Zone.CURATED, PRODUCT_REVIEWS, d) for d in review_days]
    catalog_day = _catalog_day(cfg.lake_root, cfg.ds)
    events = read_parquet(spark, *events_paths)
    if catalog_day is None:
        log.warning("no curated product catalogue in the lake: every product maps to 'none'")
        catalog = spark.createDataFrame(
            [], "product_id string, brand_key string, primary_category string, secondary_category string, "
            "tertiary_category string",
        )  # fmt: skip
    else:
        catalog = read_parquet(spark, partition_path(cfg.lake_root, Zone.CURATED, PRODUCT_CATALOG, catalog_day))
    if review_paths:
        reviews = read_parquet(spark, *review_paths)
        scored_days = set(_days_between(cfg.lake_root, Zone.ENRICHED, PRODUCT_REVIEWS, cfg.ds, cfg.review_days))
        scored = [
            partition_path(cfg.lake_root, Zone.ENRICHED, PRODUCT_REVIEWS, d) for d in review_days if d in scored_days
        ]
        if scored:  # the review texts' sentiment, where product_reviews_daily scored them
            sentiment = read_parquet(spark, *scored).select("review_id", "positive_prob")
            reviews = reviews.join(sentiment, "review_id", "left")
    else:  # reviews are facts: never from after ds
        log.warning("no curated product reviews in the %s days up to %s: no review figures", cfg.review_days, cfg.ds)
        reviews = spark.createDataFrame([], "product_id string, rating int")
    mapped = review_map(events, catalog, reviews)
    path = partition_path(cfg.lake_root, Zone.CURATED, PRODUCT_REVIEW_MAP, cfg.ds)
    methods = {
        r["match_method"]: r["n"] for r in mapped.groupBy("match_method").agg(F.count(F.lit(1)).alias("n")).collect()
    }
    matched_products = sum(n for m, n in methods.items() if m != "none")
    ev = events.join(mapped.where("match_method != 'none'").select("product_id"), "product_id", "left_semi").count()
    with_reviews = mapped.where("brand_reviews > 0").count()
    conflicts = mapped.where("category_conflict").count()
    total_events = events.count()
    counts = {
        "products": sum(methods.values()),
        "products_matched": matched_products,
        "products_unmatched": methods.get("none", 0),
        "by_brand_and_category": methods.get("brand+category", 0),
        "by_brand_only": methods.get("brand", 0),
        "products_with_review_figures": with_reviews,
        "brand_found_but_category_conflicts": conflicts,
        "events": total_events,
        "events_matched": ev,
        "review_partitions": len(review_paths),
        "catalog_snapshot": catalog_day,
    }
    rows = _counted_write(spark, mapped, path, counts)
    log.info("product ↔ review map ds=%s: %s", cfg.ds, counts)
    return {"ds": cfg.ds, "path": path, "rows": rows, **counts}


def check_curated(lake_root: str, ds: str) -> dict[str, Any]:
    """The day's reviews are accounted for (raw = curated + quarantined) and the catalogue snapshot exists."""
    from shoplake.io.lake import read_counts
    from shoplake.pipelines.stages import check_stages

    result = check_stages(lake_root, PRODUCT_REVIEWS, ds)
    cat = read_counts(partition_path(lake_root, Zone.CURATED, PRODUCT_CATALOG, ds))
    return {
        **{k: v for k, v in result.items() if k != "raw_counts"},
        "catalog_path": partition_path(lake_root, Zone.CURATED, PRODUCT_CATALOG, ds),
        "catalog_rows": cat["in"] - cat["quarantined"],
    }
