"""The source → raw → curated stages every Spark-landed source shares: writes, quarantines, bookkeeping, checks.

A source's pipeline lands a day (good rows + unparseable ones) and supplies its curate rule; :func:`land_and_curate`
writes ``raw/<dataset>/ds=``, ``quarantine/raw_<dataset>/ds=``, ``curated/<dataset>/ds=`` and
``quarantine/curated_<dataset>/ds=``, each replaced whole (quarantines sorted by ``record_id``, so reruns write
identical rows), with counts committed with raw (``in``, ``good``, ``quarantined`` and any extra counts of the
landing) and curated (``in`` = raw's ``good``, ``curated``, ``quarantined``), and fails when a row went missing
between the stages. Every Spark-landed source uses it: churn's three sources, product reviews, tweets.
:func:`check_stages` re-reads that bookkeeping for the DAG's check task.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from shoplake.paths import Zone, partition_path, quarantine_path

if TYPE_CHECKING:
    from pyspark.sql import DataFrame, SparkSession

    from shoplake.transforms.checked import Checked


def land_and_curate(
    spark: SparkSession,
    lake_root: str,
    dataset: str,
    ds: str,
    landed: Checked,
    curate: Callable[[DataFrame], Checked],
    *,
    raw_extra: dict[str, int] | None = None,
    sort_by: str | None = None,
) -> dict[str, Any]:
    """Write the landed day to raw and its curation (``curate`` of the stored raw rows) to curated.

    Returns ``{"ds", "path", "rows", "in", "raw", "raw_quarantined", "curated", "quarantined"}`` (the curated
    partition; ``in``: the rows landed from the source, good and quarantined).

    Raises:
        RuntimeError: raw rows != curated + quarantined.
    """
    from shoplake.io.spark_lake import read_parquet, stage_partition, write_partition

    raw_path = partition_path(lake_root, Zone.RAW, dataset, ds)
    raw_q = write_partition(landed.quarantine, quarantine_path(lake_root, "raw", dataset, ds), sort_by="record_id")
    raw = stage_partition(landed.good, raw_path)
    raw_rows = raw.rows
    raw.commit({"in": raw_rows + raw_q, "good": raw_rows, "quarantined": raw_q, **(raw_extra or {})})
    curated = curate(read_parquet(spark, raw_path))
    cur_q = write_partition(curated.quarantine, quarantine_path(lake_root, "curated", dataset, ds), sort_by="record_id")
    cur_path = partition_path(lake_root, Zone.CURATED, dataset, ds)
    cur = stage_partition(curated.good, cur_path, sort_by=sort_by)
    counts = {"in": raw_rows, "curated": cur.rows, "quarantined": cur_q}
    if counts["in"] != counts["curated"] + counts["quarantined"]:
        cur.abort()
        raise RuntimeError(f"{dataset} ds={ds}: rows lost between raw and curated: {counts}")
    cur.commit(counts)
    return {
        "ds": ds,
        "path": cur_path,
        "rows": counts["curated"],
        "in": raw_rows + raw_q,
        "raw": raw_rows,
        "raw_quarantined": raw_q,
        "curated": counts["curated"],
        "quarantined": cur_q,
    }


def check_stages(lake_root: str, dataset: str, ds: str) -> dict[str, Any]:
    """The day is accounted for (raw = curated + quarantined); ``{"ds", "path", "rows", "raw_path", "raw_rows",
    "quarantined", "raw_counts"}``.

    Raises:
        ValueError: the bookkeeping of the two stages disagrees.
    """
    from shoplake.io.lake import read_counts

    raw_path = partition_path(lake_root, Zone.RAW, dataset, ds)
    cur_path = partition_path(lake_root, Zone.CURATED, dataset, ds)
    raw, cur = read_counts(raw_path), read_counts(cur_path)
    if cur["in"] != cur["curated"] + cur["quarantined"] or raw["good"] != cur["in"]:
        raise ValueError(f"{dataset} ds={ds}: rows unaccounted for: raw {raw}, curated {cur}")
    return {
        "ds": ds,
        "path": cur_path,
        "rows": cur["curated"],
        "raw_path": raw_path,
        "raw_rows": raw["good"],
        "quarantined": cur["quarantined"] + raw["quarantined"],
        "raw_counts": raw,
    }


def window_gate(paths: list[str], ds: str, days: int, min_rows: int, what: str, hint: str) -> dict[str, Any]:
    """Whether the curated partitions of a training window hold ``min_rows`` rows (the tables' file statistics: no
    data read): ``{"ds", "trainable", "reason", "rows", "days"}``; the reason names ``what`` was short and ``hint``."""
    from shoplake.io.lake import partition_rows

    rows = sum(partition_rows(p) for p in paths)
    reason = ""
    if rows < min_rows:
        reason = f"{rows} curated {what} in the {days} days ending {ds}; training needs >= {min_rows} ({hint})"
    return {"ds": ds, "trainable": not reason, "reason": reason, "rows": rows, "days": len(paths)}
