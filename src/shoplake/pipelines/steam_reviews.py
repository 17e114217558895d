"""The Steam reviews pipeline: source → MongoDB → raw → curated (Spark) → enriched (sentiment) → purchase features.

Steps, in DAG order (each replaces exactly the partition of its ``ds``):

* :func:`load_window` — the day's source reviews upserted into Mongo (rejects → ``quarantine/load_steam_reviews``).
* :func:`extract_window_to_raw` — the day's Mongo documents → ``raw/steam_reviews`` (+ quarantine).
* :func:`curate` — Spark job: raw → ``curated/steam_reviews`` (+ quarantine); :func:`check_curated` after it.
* :func:`score_sentiment` — GPU job: curated → ``enriched/steam_reviews``; :func:`check_enriched` after it.
* :func:`build_purchase_features` — curated ⋈ enriched → ``enriched/steam_purchase_features`` (+ quarantine).

The Mongo collection is passed in (``MongoHook`` in Airflow, ``MongoClient`` in tests and benchmarks), so this
module knows nothing of Airflow.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from shoplake.io.lake import read_counts, write_partition
from shoplake.jobconfig import PartitionJob, option
from shoplake.ml.sentiment import EngineConfig, parse_model_map
from shoplake.paths import (
    STEAM_PURCHASE_FEATURES,
    STEAM_REVIEWS,
    Zone,
    partition_path,
    quarantine_path,
)
from shoplake.window import Window

if TYPE_CHECKING:
    from collections.abc import Iterable

    from pymongo.collection import Collection
    from pyspark.sql import SparkSession

    from shoplake.ingest.steam_source import SourceRecord

log = logging.getLogger(__name__)

#: ``SHOPLAKE_STEAM_SOURCE`` value that reads the live review endpoint instead of saved responses
API_SOURCE = "api"


def source_records(
    source: str, window: Window, *, app_ids: tuple[int, ...] = (), api_url: str = ""
) -> Iterable[SourceRecord]:
    """Records of the source: the live endpoint (``source == "api"``) or a directory of saved responses."""
    from shoplake.ingest import steam_source

    if source == API_SOURCE:
        if not app_ids:
            raise ValueError("SHOPLAKE_STEAM_SOURCE=api needs SHOPLAKE_STEAM_APP_IDS")
        return steam_source.fetch_api_reviews(app_ids, start_ts=window.start_ts, url_template=api_url)
    return steam_source.read_saved_responses(source)


def load_window(
    collection: Collection, lake_root: str, ds: str, *, source: str, app_ids: tuple[int, ...] = (), api_url: str = ""
) -> dict[str, Any]:
    """Upsert the source reviews created on day ``ds`` into Mongo; rejects go to ``quarantine/load_steam_reviews``.

    Args:
        collection: the Steam reviews collection.
        lake_root / ds: the lake and the UTC day.
        source: a directory of saved ``review_<appid>.json`` responses, or ``"api"`` for the live endpoint.
        app_ids / api_url: what the live endpoint is asked for.

    Returns:
        XCom-sized counts plus the quarantine partition path.
    """
    from shoplake.ingest.mongo_load import load_reviews

    window = Window.for_day(ds)
    records = source_records(source, window, app_ids=app_ids, api_url=api_url)
    result = load_reviews(collection, records, start_ts=window.start_ts, end_ts=window.end_ts)
    q = write_partition(
        result.quarantine_table(), quarantine_path(lake_root, "load", STEAM_REVIEWS, ds), sort_by="record_id"
    )
    return {"ds": ds, **result.counts(), "quarantine_path": q.path}


def extract_window_to_raw(collection: Collection, lake_root: str, ds: str, *, max_review_chars: int) -> dict[str, Any]:
    """Export the documents of day ``ds`` from Mongo to ``raw/steam_reviews/ds=…`` and its rejects to quarantine.

    Returns:
        ``{"ds", "path", "rows", "quarantined", "quarantine_path"}`` — ``rows + quarantined`` is every document
        of the day.
    """
    from shoplake.ingest.mongo_extract import extract_window

    window = Window.for_day(ds)
    result = extract_window(
        collection, start_ts=window.start_ts, end_ts=window.end_ts, max_review_chars=max_review_chars
    )
    counts = result.counts()
    raw = write_partition(
        result.good,
        partition_path(lake_root, Zone.RAW, STEAM_REVIEWS, ds),
        counts=counts,
        sort_by="recommendationid",
    )
    q = write_partition(result.quarantine, quarantine_path(lake_root, "raw", STEAM_REVIEWS, ds), sort_by="record_id")
    return {"ds": ds, "path": raw.path, "rows": raw.rows, "quarantined": q.rows, "quarantine_path": q.path}


@dataclass(frozen=True, kw_only=True)
class CurateConfig(PartitionJob):
    """Arguments of the curate job (``jobs/spark/curate_steam_reviews.py``)."""

    ds: str = option(help="partition date YYYY-MM-DD (the UTC day the reviews were created)")
    output_files: int = option(1, help="Parquet files per curated partition", minimum=1)
    shuffle_partitions: int = option(4, help="spark.sql.shuffle.partitions for this job", minimum=1)


def curate(spark: SparkSession, cfg: CurateConfig) -> dict[str, Any]:
    """Curate one raw partition into ``curated/steam_reviews`` (+ quarantine); every raw row is accounted for.

    Returns:
        ``{"ds", "path", "rows", "in", "curated", "quarantined"}``; the counts are also ``_counts.json`` of the
        curated partition, committed with it (a curated partition without its counts never exists).
    """
    from shoplake.io.spark_lake import read_parquet, stage_partition
    from shoplake.io.spark_lake import write_partition as write_spark_partition
    from shoplake.transforms.steam_reviews import curate_reviews

    spark.conf.set("spark.sql.shuffle.partitions", str(cfg.shuffle_partitions))
    raw = read_parquet(spark, partition_path(cfg.lake_root, Zone.RAW, STEAM_REVIEWS, cfg.ds))
    n_in = raw.count()
    result = curate_reviews(raw)
    out = partition_path(cfg.lake_root, Zone.CURATED, STEAM_REVIEWS, cfg.ds)
    staged = stage_partition(result.curated, out, files=cfg.output_files, sort_by="recommendationid")
    curated = staged.rows
    quarantined = write_spark_partition(
        result.quarantine, quarantine_path(cfg.lake_root, "curated", STEAM_REVIEWS, cfg.ds), sort_by="record_id"
    )
    counts = {"in": n_in, "curated": curated, "quarantined": quarantined}
    if n_in != curated + quarantined:
        staged.abort()
        raise RuntimeError(f"row accounting broken for ds={cfg.ds}: {counts}")
    staged.commit(counts)
    log.info("ds=%s counts %s", cfg.ds, counts)
    return {"ds": cfg.ds, "path": out, "rows": curated, **counts}


def check_curated(lake_root: str, ds: str, raw_rows: int | None = None) -> dict[str, Any]:
    """Verify the Spark job's bookkeeping: every raw row is curated or quarantined.

    Raises:
        ValueError: the counts do not add up, or disagree with the raw partition the extract wrote.
    """
    path = partition_path(lake_root, Zone.CURATED, STEAM_REVIEWS, ds)
    counts = read_counts(path)
    if counts["in"] != counts["curated"] + counts["quarantined"]:
        raise ValueError(f"curated rows do not add up for ds={ds}: {counts}")
    if raw_rows is not None and counts["in"] != raw_rows:
        raise ValueError(f"curate read {counts['in']} rows but the raw partition has {raw_rows} (ds={ds})")
    return {
        "ds": ds,
        "path": path,
        "rows": counts["curated"],
        "quarantined": counts["quarantined"],
        "quarantine_path": quarantine_path(lake_root, "curated", STEAM_REVIEWS, ds),
    }


@dataclass(frozen=True, kw_only=True)
class ScoreConfig(PartitionJob, EngineConfig):
    """Arguments of the scoring job (``jobs/gpu/score_sentiment.py``): models per language, engine knobs."""

    ds: str = option(help="partition date YYYY-MM-DD of the curated reviews to score")
    models: str = option(
        help="language → model map, 'en=<model>[@revision],*=<model>[@revision]' (SHOPLAKE_SENTIMENT_MODELS): a hub "
        "id at a pinned revision, a local directory or a lake URI (a directory with current.json resolves to its "
        "version); languages without a route get null scores and sentiment_status 'unsupported_language'"
    )
    model_cache: str = option("/tmp/shoplake-model-cache", help="local cache for models copied from the lake")

    def __post_init__(self) -> None:
        super().__post_init__()
        parse_model_map(self.models)


def score_sentiment(cfg: ScoreConfig) -> dict[str, Any]:
    """Score every curated review of ``ds`` with the model of its language → ``enriched/steam_reviews/ds=…``.

    Returns:
        ``{"ds", "path", "rows", "scored", "unsupported_language", "models"}``.

    Raises:
        RuntimeError: fewer or more rows scored than the curated partition holds.
    """
    from shoplake.ml.sentiment import Router, engine_config, score_partition

    router = Router(parse_model_map(cfg.models), engine_config(cfg), cache_dir=cfg.model_cache)
    src = partition_path(cfg.lake_root, Zone.CURATED, STEAM_REVIEWS, cfg.ds)
    result = score_partition(router, src, partition_path(cfg.lake_root, Zone.ENRICHED, STEAM_REVIEWS, cfg.ds))
    curated_rows = read_counts(src)["curated"]
    if result["rows"] != curated_rows:
        raise RuntimeError(f"scored {result['rows']} rows but curated ds={cfg.ds} has {curated_rows}")
    return {"ds": cfg.ds, **result}


def check_enriched(lake_root: str, ds: str, scored: dict[str, Any], curated_rows: int) -> dict[str, Any]:
    """Verify the sentiment job wrote a row for every curated row of its partition (it reports JSON on stdout).

    Rows in languages no configured model supports are present with ``sentiment_status = 'unsupported_language'``.

    Raises:
        ValueError: the row counts differ or the job wrote elsewhere than the partition of ``ds``.
    """
    expected = partition_path(lake_root, Zone.ENRICHED, STEAM_REVIEWS, ds)
    if scored["path"] != expected:
        raise ValueError(f"sentiment job wrote {scored['path']}, expected {expected}")
    if scored["rows"] != curated_rows:
        raise ValueError(f"enriched has {scored['rows']} rows, curated has {curated_rows} (ds={ds})")
    return {k: scored[k] for k in ("ds", "path", "rows", "scored", "unsupported_language", "models")}


def build_purchase_features(lake_root: str, ds: str, curated_rows: int | None = None) -> dict[str, Any]:
    """Join the day's curated reviews with their sentiment → ``enriched/steam_purchase_features/ds=…``.

    Curated rows without a score or a target go to ``quarantine/features_steam_reviews`` with a reason.

    Raises:
        ValueError: the curated partition no longer has the rows the upstream check counted.
    """
    from shoplake.io.lake import read_partition
    from shoplake.transforms.purchase_features import CURATED_COLUMNS, ENRICHED_COLUMNS, build_features

    # it runs on the Airflow worker: only the feature columns of the day, never the review texts
    curated = read_partition(partition_path(lake_root, Zone.CURATED, STEAM_REVIEWS, ds), list(CURATED_COLUMNS))
    if curated_rows is not None and curated.num_rows != curated_rows:
        raise ValueError(
            f"curated/{STEAM_REVIEWS} ds={ds} has {curated.num_rows} rows, the check counted {curated_rows}"
        )
    enriched = read_partition(partition_path(lake_root, Zone.ENRICHED, STEAM_REVIEWS, ds), list(ENRICHED_COLUMNS))
    features, quarantine = build_features(curated, enriched)
    counts = {"in": curated.num_rows, "features": features.num_rows, "quarantined": quarantine.num_rows}
    out = write_partition(
        features, partition_path(lake_root, Zone.ENRICHED, STEAM_PURCHASE_FEATURES, ds), counts=counts
    )
    q = write_partition(quarantine, quarantine_path(lake_root, "features", STEAM_REVIEWS, ds), sort_by="record_id")
    log.info("ds=%s: %s feature rows, %s quarantined", ds, out.rows, q.rows)
    return {"ds": ds, "path": out.path, "rows": out.rows, "quarantined": q.rows, "quarantine_path": q.path}
