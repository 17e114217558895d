"""Parquet files another writer put in a table's folder, committed by hand (``create_write_transaction``) as one
overwrite of their day — the one hand-written piece of the lake's writes, kept where delta-rs's own writer cannot
serve:

* :func:`commit_files` — the files plain pyspark (no Delta jars) wrote, with per-file statistics (``numRecords``,
  min / max / ``nullCount``) read from their footers so engines can skip files; the day's snapshot it replaces is
  the one loaded before Spark wrote (delta-rs's writer would have to read the rows back through this process);
* a day streamed in several batches, and a day of no rows (:class:`shoplake.io.delta.DayWriter`: delta-rs's writer
  reorders several batches' rows, and commits no file for no rows — the day would vanish);
* :func:`restore_day` — a day put back to an older version's files (no data copied).

Two writes of one day conflict through an application transaction named after the day (:func:`_commit_properties`).
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from shoplake.io.delta_table import (
    COUNTS_KEY,
    DS_KEY,
    PARTITION_COLUMN,
    ROWS_KEY,
    ConcurrentDayWrite,
    _file_schema,
    _table,
    _table_schema,
    _uri,
    history,
    snapshot_version,
    split_partition,
    storage_options,
)

if TYPE_CHECKING:
    import pyarrow as pa

log = logging.getLogger(__name__)


def _commit_properties(ds: str, counts: dict[str, Any] | None, read_version: int, rows: int | None = None) -> Any:
    """The commit's metadata (its day, counts and, where known when the commit is built, rows) and an application
    transaction named after its day.

    The transaction is what makes two writes of one day conflict even when the day is new: an overwrite committed
    through ``create_write_transaction`` conflicts with a concurrent commit that *removed* files it read, but not
    with one that *added* files to a day it had none of. Both writers setting ``shoplake ds=<day>`` does conflict
    (delta-rs fails a commit when a winning commit set an application transaction id this one sets)."""
    from deltalake import CommitProperties, Transaction

    meta = {DS_KEY: ds}
    if rows is not None:
        meta[ROWS_KEY] = str(rows)
    if counts is not None:
        meta[COUNTS_KEY] = json.dumps(counts, sort_keys=True)
    return CommitProperties(custom_metadata=meta, app_transactions=[Transaction(_app_id(ds), read_version + 1)])


def _app_id(ds: str) -> str:
    """The application transaction id every write of day ``ds`` sets (see :func:`_commit_properties`)."""
    return f"shoplake {PARTITION_COLUMN}={ds}"


def _created(table: str, schema: pa.Schema) -> Any:
    """The table at ``table``, created with ``schema``'s columns (or found, made by another writer this instant)."""
    from deltalake import DeltaTable

    uri = _uri(table)
    try:
        DeltaTable.create(uri, _table_schema(None, schema), partition_by=[PARTITION_COLUMN], mode="ignore",
                          storage_options=storage_options(uri))  # fmt: skip
    except Exception:  # another writer created it in the same instant
        if _table(table) is None:
            raise
    return _table(table)


def _file_stats(fs: Any, path: str, meta: Any = None) -> tuple[int, str]:
    """``(size, Delta stats JSON)`` of a Parquet file from its footer (``meta``, or read from the file):
    numRecords, and min / max / nullCount of each top-level column whose row groups all carry them."""
    import pyarrow.parquet as pq

    if meta is None:
        with fs.open(path, "rb") as fh:
            meta = pq.ParquetFile(fh).metadata
    size = fs.size(path)
    mins: dict[str, Any] = {}
    maxs: dict[str, Any] = {}
    nulls: dict[str, int] = {}
    schema = meta.schema.to_arrow_schema()
    # per-column statistics only where each top-level column is one Parquet leaf (nested columns are several)
    names = schema.names if meta.num_columns == len(schema.names) else []
    for i, name in enumerate(names):
        col_stats = [meta.row_group(g).column(i).statistics for g in range(meta.num_row_groups)]
        if col_stats and all(s is not None and s.has_null_count for s in col_stats):
            nulls[name] = sum(s.null_count for s in col_stats)
        if col_stats and all(s is not None and s.has_min_max for s in col_stats):
            lo = min(s.min for s in col_stats)
            hi = max(s.max for s in col_stats)
            if isinstance(lo, bool) or (not isinstance(lo, int | float | str) and not hasattr(lo, "isoformat")):
                continue
            if hasattr(lo, "isoformat"):
                lo, hi = _iso(lo), _iso(hi)
            mins[name], maxs[name] = lo, hi
    stats = {"numRecords": meta.num_rows, "minValues": mins, "maxValues": maxs, "nullCount": nulls}
    return size, json.dumps(stats, default=str)


def _iso(value: Any) -> str:
    """A date or timestamp as Delta's statistics spell it (timestamps in UTC, milliseconds, ``Z``)."""
    import datetime as dt

    if isinstance(value, dt.datetime):
        if value.tzinfo is not None:
            value = value.astimezone(dt.UTC).replace(tzinfo=None)
        return value.isoformat(timespec="milliseconds") + "Z"
    return value.isoformat()


def _commit(
    table: str, ds: str, fs_paths: Sequence[str], files: pa.Schema, counts: dict[str, Any] | None,
    read_version: int | None, start: Any = None, footers: dict[str, Any] | None = None,
) -> int:  # fmt: skip
    """Commit ``fs_paths`` (the table filesystem's spelling, inside the table's folder) as the overwrite of day
    ``ds``, read from snapshot ``read_version`` (None: the table did not exist; ``start``: that snapshot, already
    loaded). ``footers``: the files' Parquet metadata where the writer has it. Returns the rows committed."""
    from deltalake.exceptions import CommitFailedError
    from deltalake.transaction import AddAction

    from shoplake.io.fs import filesystem

    uri = _uri(table)
    fs, root = filesystem(uri)
    prefix = root.rstrip("/") + "/"
    actions, rows = [], 0
    for fpath in fs_paths:
        if not fpath.startswith(prefix):
            raise ValueError(f"{fpath} is not inside the table folder {uri}")
        size, stats = _file_stats(fs, fpath, (footers or {}).get(fpath))
        rows += json.loads(stats)["numRecords"]
        actions.append(AddAction(fpath[len(prefix) :], size, {PARTITION_COLUMN: ds}, int(time.time() * 1000), True,
                                 stats))  # fmt: skip
    if read_version is None:  # no table when this write began: create it (or find another writer's)
        start = _created(table, files)
        if start.transaction_version(_app_id(ds)) is not None:  # a writer of this day committed since this began
            raise ConcurrentDayWrite(table, ds, start.version())
    elif start is None or start.version() != read_version:
        start = _table(table, read_version)
    full = _table_schema(start, files)
    try:
        start.create_write_transaction(
            actions, mode="overwrite", schema=full, partition_by=[PARTITION_COLUMN],
            partition_filters=[(PARTITION_COLUMN, "=", ds)],
            commit_properties=_commit_properties(ds, counts, start.version(), rows),
        )  # fmt: skip
    except CommitFailedError as exc:
        raise ConcurrentDayWrite.standing(table, ds) from exc
    log.info("committed %d file(s), %d rows to %s ds=%s", len(actions), rows, table, ds)
    return rows


def commit_files(
    path: str,
    files: Sequence[str],
    schema: pa.Schema | None = None,
    *,
    counts: dict[str, Any] | None = None,
    read_version: int | str | None = "latest",
) -> int:
    """Commit Parquet ``files`` (full URIs inside the table's folder, written by another writer: plain pyspark, no
    Delta jars) as the overwrite of day ``ds``, with per-file statistics from their footers so engines can skip
    files. The day's files in the snapshot are removed in the same commit; other days are untouched.

    Args:
        schema: the files' schema (default: the first file's).
        read_version: the snapshot the write started from (taken before the files were written, so a commit of
            the day in between is a conflict); ``"latest"``: the table as it is now; None: there was no table.

    Returns:
        The rows committed.

    Raises:
        ConcurrentDayWrite: another writer committed this day after ``read_version``.
        ValueError: a file outside the table's folder.
    """
    import pyarrow.parquet as pq

    from shoplake.io.fs import filesystem

    table, ds = split_partition(path)
    fs_paths = [filesystem(f)[1] for f in files]
    if schema is None:
        if not fs_paths:
            raise ValueError(f"no file to commit to {path}, and no schema to commit an empty day with")
        fs, _ = filesystem(files[0])
        with fs.open(fs_paths[0], "rb") as fh:
            schema = pq.ParquetFile(fh).schema_arrow
    if read_version == "latest":
        read_version = snapshot_version(table)
    return _commit(table, ds, fs_paths, _file_schema(schema), counts, read_version)  # type: ignore[arg-type]


def restore_day(path: str, version: int) -> int:
    """Make day ``ds`` what it was at table ``version`` (undo a bad run of that day): one new commit that puts that
    version's files of the day back (no data copied; they must not have been vacuumed), with the counts that were
    committed with them. Other days are untouched.

    Returns:
        The rows of the day now.
    """
    import pyarrow as pa

    from shoplake.io.fs import filesystem

    table, ds = split_partition(path)
    old = _table(table, version)
    if old is None:
        raise FileNotFoundError(f"no Delta table at {table}")
    files = list(old.file_uris(file_pruning_predicate=[(PARTITION_COLUMN, "=", ds)]))
    if not files:
        raise FileNotFoundError(f"version {version} of {table} holds no file of ds={ds}: nothing to restore")
    fs, _ = filesystem(table)  # every file of the table lives on the table's filesystem
    missing = [f for f in files if not fs.exists(filesystem(f)[1])]
    if missing:
        raise FileNotFoundError(
            f"version {version} of {table} ds={ds} cannot be restored: {len(missing)} of its files were vacuumed"
        )
    counts = None
    for c in history(table):
        if c["version"] is not None and c["version"] <= version and c["ds"] == ds:
            counts = c["counts"]
            break
    counts = {**(counts or {}), "restored_from_version": version}
    return commit_files(path, files, pa.schema(old.schema().to_arrow()), counts=counts)
