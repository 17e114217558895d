"""The Steam reviews pipeline: source → MongoDB → raw → curated (Spark) → enriched (sentiment) → purchase features.

Steps, in DAG order (each replaces exactly the partition of its ``ds``):

* :func:`load_window` — the day's source reviews upserted into Mongo (rejects → ``quarantine/load_steam_reviews``).
* :func:`extract_window_to_raw` — the day's Mongo documents → ``raw/steam_reviews`` (+ quarantine).
* :func:`curate_steam_reviews` — Spark job: raw → ``curated/steam_reviews`` (+ quarantine); :func:`check_curated`
  after it.
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
    if result.read - result.out_of_window == 0 and not result.quarantined:  # nothing of the day: no partition
        return {"ds": ds, **result.counts(), "quarantine_path": None}
    q = write_partition(
        result.quarantine_table(), quarantine_path(lake_root, "load", STEAM_REVIEWS, ds), sort_by="record_id"
    )
    return {"ds": ds, **result.counts(), "quarantine_path": q.path}


def extract_window_to_raw(collection: Collection, lake_root: str, ds: str, *, max_review_chars: int) -> dict[str, Any]:
    """Export the documents of day ``ds`` from Mongo to ``raw/steam_reviews/ds=…`` and its rejects to quarantine.

    Returns:
        ``{"ds", "path", "rows", "quarantined", "quarantine_path"}`` — ``rows + quarantined`` is every document
        of the day. A day without any document writes nothing and says so: ``{"ds", "rows": 0, "quarantined": 0,
        "empty": reason}`` (the DAG ends such a run skipped: no empty partitions, no asset event downstream).
    """
    from shoplake.ingest.mongo_extract import extract_window

    window = Window.for_day(ds)
    result = extract_window(
        collection, start_ts=window.start_ts, end_ts=window.end_ts, max_review_chars=max_review_chars
    )
    counts = result.counts()
    if counts["in"] == 0:
        reason = (f"no Steam reviews were created on {ds} (UTC) in the source: nothing to process, nothing written "
                  "(pick a day the source holds with the ds Param)")  # fmt: skip
        log.info("%s", reason)
        return {"ds": ds, "rows": 0, "quarantined": 0, "empty": reason}
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
    output_files: int = option(
        0, help="Parquet files per curated partition; 0: one per 128 MiB that the job reads", minimum=0
    )
    shuffle_partitions: int = option(4, help="spark.sql.shuffle.partitions for this job", minimum=1)


def curate_steam_reviews(spark: SparkSession, cfg: CurateConfig) -> dict[str, Any]:
    """Curate one raw partition into ``curated/steam_reviews`` (+ quarantine); every raw row is accounted for.

    Returns:
        ``{"ds", "path", "rows", "in", "curated", "quarantined"}``; the counts are also committed with the
        curated partition, in the same Delta commit (a curated partition without its counts never exists).
    """
    from shoplake.io.spark_lake import read_parquet, stage_partition
    from shoplake.io.spark_lake import write_partition as write_spark_partition
    from shoplake.transforms.steam_reviews import curate_reviews

    spark.conf.set("spark.sql.shuffle.partitions", str(cfg.shuffle_partitions))
    raw = read_parquet(spark, partition_path(cfg.lake_root, Zone.RAW, STEAM_REVIEWS, cfg.ds))
    n_in = raw.count()
    result = curate_reviews(raw)
    out = partition_path(cfg.lake_root, Zone.CURATED, STEAM_REVIEWS, cfg.ds)
    staged = stage_partition(result.curated, out, files=cfg.output_files or None, sort_by="recommendationid")
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
        ``{"ds", "path", "rows", "scored", "unsupported_language", "model_error", "models"}``.

    Raises:
        RuntimeError: fewer or more rows scored than the curated partition holds.
    """
    from shoplake.ml.sentiment import Router, engine_config, score_partition

    router = Router(parse_model_map(cfg.models), engine_config(cfg), cache_dir=cfg.model_cache)
    src = partition_path(cfg.lake_root, Zone.CURATED, STEAM_REVIEWS, cfg.ds)
    refused = quarantine_path(cfg.lake_root, "enriched", STEAM_REVIEWS, cfg.ds)  # rows a managed model refused
    result = score_partition(router, src, partition_path(cfg.lake_root, Zone.ENRICHED, STEAM_REVIEWS, cfg.ds),
                             quarantine=refused)  # fmt: skip
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
    keys = ("ds", "path", "rows", "scored", "unsupported_language", "model_error", "models")
    return {k: scored.get(k, 0) for k in keys}


#: rows of the curated and enriched partitions joined at a time by :func:`build_purchase_features`
FEATURE_CHUNK_ROWS = 65_536


def build_purchase_features(
    lake_root: str, ds: str, curated_rows: int | None = None, *, chunk_rows: int = FEATURE_CHUNK_ROWS
) -> dict[str, Any]:
    """Join the day's curated reviews with their sentiment → ``enriched/steam_purchase_features/ds=…``.

    Curated rows without a score or a target go to ``quarantine/features_steam_reviews`` with a reason. It runs on
    the Airflow worker, streamed: the sentiment job writes enriched row *i* for curated row *i* (it streams the
    curated partition in order), so both partitions are read in step, ``chunk_rows`` rows at a time and only their
    feature columns, and each chunk is joined and written before the next is read — the worker holds one chunk,
    whatever the day's size. Progress is logged for long days.

    Raises:
        ValueError: the curated partition no longer has the rows the upstream check counted, or the enriched
            partition is not row for row the curated one (rerun ``score_sentiment`` for the day).
    """
    import contextlib

    from shoplake.io.lake import PartitionWriter, empty_partition_table, iter_aligned_partitions, partition_rows
    from shoplake.progress import Progress
    from shoplake.quarantine import QUARANTINE_SCHEMA
    from shoplake.transforms.purchase_features import CURATED_COLUMNS, ENRICHED_COLUMNS, build_features

    curated = partition_path(lake_root, Zone.CURATED, STEAM_REVIEWS, ds)
    enriched = partition_path(lake_root, Zone.ENRICHED, STEAM_REVIEWS, ds)
    total = partition_rows(curated)
    if curated_rows is not None and total != curated_rows:
        raise ValueError(f"curated/{STEAM_REVIEWS} ds={ds} has {total} rows, the check counted {curated_rows}")
    empty, _ = build_features(
        empty_partition_table(curated, list(CURATED_COLUMNS)), empty_partition_table(enriched, list(ENRICHED_COLUMNS))
    )
    out_path = partition_path(lake_root, Zone.ENRICHED, STEAM_PURCHASE_FEATURES, ds)
    counts = {"in": 0, "features": 0, "quarantined": 0}
    progress = Progress(total, f"curated rows of {ds} joined with their sentiment", log)
    with contextlib.ExitStack() as stack:
        features = stack.enter_context(PartitionWriter(out_path, empty.schema))
        quarantine = stack.enter_context(
            PartitionWriter(quarantine_path(lake_root, "features", STEAM_REVIEWS, ds), QUARANTINE_SCHEMA)
        )
        chunks = iter_aligned_partitions(curated, list(CURATED_COLUMNS), enriched, list(ENRICHED_COLUMNS), chunk_rows)
        for cur, enr in chunks:
            if not cur["recommendationid"].equals(enr["recommendationid"]):
                raise ValueError(
                    f"enriched/{STEAM_REVIEWS} ds={ds} is not row for row the curated partition (rows "
                    f"{counts['in']}..{counts['in'] + cur.num_rows}): rerun score_sentiment for the day"
                )
            feats, bad = build_features(cur, enr)
            features.write(feats)
            quarantine.write(bad)
            counts["in"] += cur.num_rows
            counts["features"] += feats.num_rows
            counts["quarantined"] += bad.num_rows
            progress.update(cur.num_rows)
        features.counts = counts
    log.info("ds=%s: %s feature rows, %s quarantined", ds, counts["features"], counts["quarantined"])
    return {"ds": ds, "path": out_path, "rows": counts["features"], "quarantined": counts["quarantined"],
            "quarantine_path": quarantine_path(lake_root, "features", STEAM_REVIEWS, ds)}  # fmt: skip
