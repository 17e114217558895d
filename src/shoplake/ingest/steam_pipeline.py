"""The Steam ingestion steps as plain functions: the DAG tasks are one call each.

The Mongo collection is passed in (``MongoHook`` in Airflow, ``MongoClient`` in tests and benchmarks), so this
module knows nothing of Airflow.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any

from shoplake.config import Settings
from shoplake.io.lake import read_counts, write_partition
from shoplake.paths import Zone, partition_path, quarantine_path
from shoplake.window import Window

if TYPE_CHECKING:
    from pymongo.collection import Collection

log = logging.getLogger(__name__)

DATASET = "steam_reviews"


def source_records(settings: Settings, window: Window) -> Any:
    """Records of the configured source: the live endpoint (``SHOPLAKE_STEAM_SOURCE=api``) or saved files."""
    from shoplake.ingest import steam_source

    if settings.steam_source == "api":
        if not settings.steam_app_ids:
            raise ValueError("SHOPLAKE_STEAM_SOURCE=api needs SHOPLAKE_STEAM_APP_IDS")
        return steam_source.fetch_api_reviews(
            settings.steam_app_ids, start_ts=window.start_ts, url_template=settings.steam_api_url
        )
    return steam_source.read_saved_responses(settings.steam_source_dir)


def load_window(collection: Collection, settings: Settings, window: Window) -> dict[str, Any]:
    """Upsert the window's source reviews into Mongo; rejected records go to ``quarantine/load_steam_reviews``.

    Returns:
        XCom-sized counts plus the quarantine partition path.
    """
    from shoplake.ingest.mongo_load import load_reviews

    records = source_records(settings, window)
    result = load_reviews(collection, records, start_ts=window.start_ts, end_ts=window.end_ts)
    q = write_partition(
        result.quarantine_table(),
        quarantine_path(settings.lake_root, "load", DATASET, window.ds),
        sort_by="record_id",
    )
    return {"ds": window.ds, **result.counts(), "quarantine_path": q.path}


def extract_window_to_raw(collection: Collection, settings: Settings, window: Window) -> dict[str, Any]:
    """Export the window from Mongo to ``raw/steam_reviews/ds=…`` and its rejects to quarantine.

    Returns:
        ``{"ds", "path", "rows", "quarantined", "quarantine_path"}`` — ``rows + quarantined`` is every document
        of the window.
    """
    from shoplake.ingest.mongo_extract import extract_window

    result = extract_window(
        collection, start_ts=window.start_ts, end_ts=window.end_ts, max_review_chars=settings.max_review_chars
    )
    counts = result.counts()
    raw = write_partition(
        result.good,
        partition_path(settings.lake_root, Zone.RAW, DATASET, window.ds),
        counts=counts,
        sort_by="recommendationid",
    )
    q = write_partition(
        result.quarantine, quarantine_path(settings.lake_root, "raw", DATASET, window.ds), sort_by="record_id"
    )
    return {
        "ds": window.ds,
        "path": raw.path,
        "rows": raw.rows,
        "quarantined": q.rows,
        "quarantine_path": q.path,
    }


def check_curated(settings: Settings, ds: str, raw_rows: int | None = None) -> dict[str, Any]:
    """Verify the Spark job's bookkeeping: every raw row is curated or quarantined.

    Raises:
        ValueError: the counts do not add up, or disagree with the raw partition the extract wrote.
    """
    path = partition_path(settings.lake_root, Zone.CURATED, DATASET, ds)
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
        "quarantine_path": quarantine_path(settings.lake_root, "curated", DATASET, ds),
    }


def check_enriched(settings: Settings, scored: dict[str, Any], curated_rows: int) -> dict[str, Any]:
    """Verify the sentiment job scored every curated row of its partition (it reports JSON on stdout).

    Raises:
        ValueError: the row counts differ or the job wrote elsewhere than the partition of ``ds``.
    """
    expected = partition_path(settings.lake_root, Zone.ENRICHED, DATASET, scored["ds"])
    if scored["path"] != expected:
        raise ValueError(f"sentiment job wrote {scored['path']}, expected {expected}")
    if scored["rows"] != curated_rows:
        raise ValueError(f"enriched has {scored['rows']} rows, curated has {curated_rows} (ds={scored['ds']})")
    return {k: scored[k] for k in ("ds", "path", "rows", "model_id", "model_revision")}


def build_purchase_features(settings: Settings, ds: str, curated_rows: int | None = None) -> dict[str, Any]:
    """Join the day's curated reviews with their sentiment → ``enriched/steam_purchase_features/ds=…``.

    Curated rows without a score or a target go to ``quarantine/features_steam_reviews`` with a reason.

    Raises:
        ValueError: the curated partition no longer has the rows the upstream check counted.
    """
    from shoplake.io.lake import read_partition
    from shoplake.ml.purchase import DATASET as FEATURES
    from shoplake.ml.purchase import build_features

    curated = read_partition(partition_path(settings.lake_root, Zone.CURATED, DATASET, ds))
    if curated_rows is not None and curated.num_rows != curated_rows:
        raise ValueError(f"curated/{DATASET} ds={ds} has {curated.num_rows} rows, the check counted {curated_rows}")
    enriched = read_partition(partition_path(settings.lake_root, Zone.ENRICHED, DATASET, ds))
    features, quarantine = build_features(curated, enriched)
    counts = {"in": curated.num_rows, "features": features.num_rows, "quarantined": quarantine.num_rows}
    out = write_partition(features, partition_path(settings.lake_root, Zone.ENRICHED, FEATURES, ds), counts=counts)
    q = write_partition(quarantine, quarantine_path(settings.lake_root, "features", DATASET, ds), sort_by="record_id")
    log.info("ds=%s: %s feature rows, %s quarantined", ds, out.rows, q.rows)
    return {"ds": ds, "path": out.path, "rows": out.rows, "quarantined": q.rows, "quarantine_path": q.path}
