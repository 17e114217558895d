"""Lake tables as Delta Lake tables (delta-rs, no JVM): one commit replaces one ``ds`` day, any engine reads them.

A dataset ``<lake>/<zone>/<name>`` is one Delta table partitioned by ``ds``; a partition path
``<lake>/<zone>/<name>/ds=YYYY-MM-DD`` names its table and day (:func:`split_partition`), so the catalog
(:mod:`shoplake.paths`) stays the one place paths are built. What this module gives:

* :func:`write_day` — rows of one day (a table or a stream of record batches, bounded memory) written and committed
  as **one** overwrite of that day (``predicate ds = '<day>'``): the day's old files leave the snapshot in the same
  commit, other days are untouched, and the step's row bookkeeping (``in`` / ``good`` / ``quarantined``…) is part of
  that commit's metadata (``shoplake.counts``), never a side file a reader could see out of step.
* :func:`commit_files` — Parquet files another writer (plain pyspark, no Delta jars) put in the table's folder,
  committed as that day's overwrite with per-file statistics (``numRecords``, min / max / ``nullCount``) read from
  their footers, so engines can skip files; the day's snapshot it replaces is the one loaded before the write.
* :func:`day_files`, :func:`read_day`, :func:`days`, :func:`day_counts` — readers of the committed snapshot: a
  table is never read by globbing its folder (replaced files stay there until vacuumed, and a glob counts them).
* :func:`history`, :func:`restore_day`, :func:`vacuum` — operating the tables.

Concurrent writers of one table: delta-rs lets one commit win; the other gets :class:`ConcurrentDayWrite` naming
the version that stands (``CommitFailedError`` underneath). On S3 delta-rs commits with a conditional PUT (no
DynamoDB lock); :func:`storage_options` passes the endpoint of a local S3 (moto) or GCS emulator from the
environment.

A process that forks must not have used deltalake before the fork (its tokio runtime does not survive a fork):
deltalake is imported inside these functions only, and callers that fork (executors, process pools) do so before.
"""

from __future__ import annotations

import json
import logging
import os
import re
import time
from collections.abc import Iterable, Iterator, Sequence
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import pyarrow as pa

log = logging.getLogger(__name__)

PARTITION_COLUMN = "ds"
#: commit metadata keys (Delta's ``commitInfo``): the day a commit replaced and its row bookkeeping
DS_KEY = "shoplake.ds"
COUNTS_KEY = "shoplake.counts"
_PARTITION_RE = re.compile(r"^(?P<table>.+?)/ds=(?P<ds>\d{4}-\d{2}-\d{2})/?$")


class ConcurrentDayWrite(RuntimeError):
    """Another writer committed to the table first; this write left nothing in the snapshot."""

    def __init__(self, table: str, ds: str, version: int | None) -> None:
        super().__init__(
            f"{table}: another writer committed first (table version {version} stands); this write of ds={ds} was "
            "not committed — rerun the task if its rows are still wanted (a rerun replaces the day whole)"
        )
        self.table, self.ds, self.version = table, ds, version


def split_partition(path: str) -> tuple[str, str]:
    """``(table uri, day)`` of a partition path ``<table>/ds=YYYY-MM-DD``.

    Raises:
        ValueError: the path does not end in a ``ds=`` partition.
    """
    m = _PARTITION_RE.match(path.rstrip("/"))
    if not m:
        raise ValueError(f"{path} is not a partition path (<table>/ds=YYYY-MM-DD)")
    return m["table"], m["ds"]


def storage_options(uri: str) -> dict[str, str] | None:
    """delta-rs's object-store options for ``uri``: the endpoint of a local S3 (``AWS_ENDPOINT_URL``) or GCS
    emulator (``STORAGE_EMULATOR_HOST``) from the environment; credentials come from the standard chain."""
    if uri.startswith(("s3://", "s3a://")):
        opts: dict[str, str] = {}
        endpoint = os.environ.get("AWS_ENDPOINT_URL_S3") or os.environ.get("AWS_ENDPOINT_URL")
        if endpoint:
            opts["AWS_ENDPOINT_URL"] = endpoint
            if endpoint.startswith("http://"):
                opts["AWS_ALLOW_HTTP"] = "true"
        region = os.environ.get("AWS_REGION") or os.environ.get("AWS_DEFAULT_REGION")
        if region:
            opts["AWS_REGION"] = region
        return opts or None
    if uri.startswith("gs://") and os.environ.get("STORAGE_EMULATOR_HOST"):
        host = os.environ["STORAGE_EMULATOR_HOST"]
        return {
            "GOOGLE_BASE_URL": host if host.startswith("http") else f"http://{host}",
            "GOOGLE_SKIP_SIGNATURE": "true",
        }
    return None


def _uri(table: str) -> str:
    return table if "://" in table else os.path.abspath(table)


def _table(table: str, version: int | None = None) -> Any:
    """The ``DeltaTable`` at ``table`` (its latest snapshot, or ``version``), or None when there is none yet."""
    from deltalake import DeltaTable

    uri = _uri(table)
    if not DeltaTable.is_deltatable(uri, storage_options=storage_options(uri)):
        return None
    return DeltaTable(uri, version=version, storage_options=storage_options(uri))


def _with_ds(schema: pa.Schema, ds: str) -> pa.Schema:
    import pyarrow as pa

    if PARTITION_COLUMN in schema.names:
        return schema
    return schema.append(pa.field(PARTITION_COLUMN, pa.string()))


def _batches_with_ds(batches: Iterable[pa.RecordBatch], schema: pa.Schema, ds: str, seen: list[int]):
    import pyarrow as pa

    base = schema.remove(schema.get_field_index(PARTITION_COLUMN))
    for batch in batches:
        if PARTITION_COLUMN in batch.schema.names:
            days = set(batch.column(PARTITION_COLUMN).to_pylist())
            if days - {ds}:
                raise ValueError(f"rows of ds={sorted(days - {ds})} in a write of ds={ds}: a write replaces one day")
            batch = batch.drop_columns([PARTITION_COLUMN])
        batch = batch if batch.schema == base else batch.cast(base)
        seen[0] += batch.num_rows
        yield pa.RecordBatch.from_arrays([*batch.columns, pa.array([ds] * batch.num_rows, pa.string())], schema=schema)


def _commit_properties(ds: str, counts: dict[str, Any] | None) -> Any:
    from deltalake import CommitProperties

    meta = {DS_KEY: ds}
    if counts is not None:
        meta[COUNTS_KEY] = json.dumps(counts, sort_keys=True)
    return CommitProperties(custom_metadata=meta)


def write_day(
    path: str,
    data: pa.Table | Iterable[pa.RecordBatch],
    schema: pa.Schema | None = None,
    *,
    counts: dict[str, Any] | None = None,
) -> int:
    """Replace day ``ds`` of the table at ``path`` (``<table>/ds=<day>``) with ``data`` in one commit.

    Args:
        path: the partition path.
        data: the day's rows (a ``ds`` column, if present, must hold only that day; it is added otherwise).
        schema: the rows' schema (needed for a stream of batches; a table's own otherwise).
        counts: the writing step's row bookkeeping, committed with the rows (:func:`day_counts` reads it).

    Returns:
        The rows written.

    Raises:
        ConcurrentDayWrite: another writer committed to the table first.
        ValueError: rows of another day.
    """
    import pyarrow as pa
    from deltalake import write_deltalake
    from deltalake.exceptions import CommitFailedError

    table, ds = split_partition(path)
    if isinstance(data, pa.Table):
        schema = schema or data.schema
        if PARTITION_COLUMN in data.schema.names:
            other = set(data.column(PARTITION_COLUMN).unique().to_pylist()) - {ds}
            if other:
                raise ValueError(f"rows of ds={sorted(other)} in a write of ds={ds}: a write replaces one day")
        batches: Iterable[pa.RecordBatch] = data.to_batches()
    else:
        if schema is None:
            raise ValueError("a stream of batches needs its schema")
        batches = data
    full = _with_ds(schema, ds)
    seen = [0]
    reader = pa.RecordBatchReader.from_batches(full, _batches_with_ds(batches, full, ds, seen))
    uri = _uri(table)
    try:
        write_deltalake(
            uri, reader, mode="overwrite", predicate=f"{PARTITION_COLUMN} = '{ds}'",
            partition_by=[PARTITION_COLUMN], schema_mode="merge", storage_options=storage_options(uri),
            commit_properties=_commit_properties(ds, counts),
        )  # fmt: skip
    except CommitFailedError as exc:
        current = _table(table)
        raise ConcurrentDayWrite(table, ds, current.version() if current is not None else None) from exc
    log.info("committed %d rows to %s ds=%s", seen[0], table, ds)
    return seen[0]


def _file_stats(fs: Any, path: str) -> tuple[int, str]:
    """``(size, Delta stats JSON)`` of a Parquet file from its footer: numRecords, and min / max / nullCount of each
    top-level column whose row groups all carry them."""
    import pyarrow.parquet as pq

    with fs.open(path, "rb") as fh:
        meta = pq.ParquetFile(fh).metadata
    size = fs.size(path)
    mins: dict[str, Any] = {}
    maxs: dict[str, Any] = {}
    nulls: dict[str, int] = {}
    schema = meta.schema.to_arrow_schema()
    for i, name in enumerate(schema.names):
        col_stats = [meta.row_group(g).column(i).statistics for g in range(meta.num_row_groups)]
        if col_stats and all(s is not None and s.has_null_count for s in col_stats):
            nulls[name] = sum(s.null_count for s in col_stats)
        if col_stats and all(s is not None and s.has_min_max for s in col_stats):
            lo = min(s.min for s in col_stats)
            hi = max(s.max for s in col_stats)
            if isinstance(lo, int | float | str):
                mins[name], maxs[name] = lo, hi
            elif hasattr(lo, "isoformat"):
                mins[name], maxs[name] = lo.isoformat(), hi.isoformat()
    stats = {"numRecords": meta.num_rows, "minValues": mins, "maxValues": maxs, "nullCount": nulls}
    return size, json.dumps(stats, default=str)


def commit_files(path: str, files: Sequence[str], schema: pa.Schema, *, counts: dict[str, Any] | None = None) -> int:
    """Commit Parquet ``files`` (full URIs inside the table's folder) as the overwrite of day ``ds``.

    The day's files in the snapshot at commit time are removed in the same commit; other days are untouched.

    Returns:
        The rows committed (from the files' footers).

    Raises:
        ConcurrentDayWrite: another writer committed to the table first.
        ValueError: a file outside the table's folder, or a schema with a ``ds`` column of another type.
    """
    from deltalake import DeltaTable
    from deltalake.exceptions import CommitFailedError
    from deltalake.transaction import AddAction

    from shoplake.io.lake import filesystem

    table, ds = split_partition(path)
    uri = _uri(table)
    fs, root = filesystem(uri)
    actions, rows = [], 0
    for f in files:
        _, fpath = filesystem(f)
        if not fpath.startswith(root.rstrip("/") + "/"):
            raise ValueError(f"{f} is not inside the table folder {uri}")
        size, stats = _file_stats(fs, fpath)
        rows += json.loads(stats)["numRecords"]
        rel = fpath[len(root.rstrip("/")) + 1 :]
        actions.append(AddAction(rel, size, {PARTITION_COLUMN: ds}, int(time.time() * 1000), True, stats))
    full = _with_ds(schema, ds)
    dt = _table(table)
    if dt is None:
        try:
            dt = DeltaTable.create(uri, full, partition_by=[PARTITION_COLUMN], storage_options=storage_options(uri))
        except Exception:  # another writer created it first: use theirs
            dt = _table(table)
            if dt is None:
                raise
    try:
        dt.create_write_transaction(
            actions, mode="overwrite", schema=full, partition_by=[PARTITION_COLUMN],
            partition_filters=[(PARTITION_COLUMN, "=", ds)], commit_properties=_commit_properties(ds, counts),
        )  # fmt: skip
    except CommitFailedError as exc:
        current = _table(table)
        raise ConcurrentDayWrite(table, ds, current.version() if current is not None else None) from exc
    log.info("committed %d files (%d rows) to %s ds=%s", len(actions), rows, table, ds)
    return rows


def day_files(path: str, version: int | None = None) -> list[str]:
    """URIs of the files of day ``ds`` in the table's snapshot (latest, or ``version``); [] for no such day."""
    table, ds = split_partition(path)
    dt = _table(table, version)
    if dt is None:
        return []
    return list(dt.file_uris(partition_filters=[(PARTITION_COLUMN, "=", ds)]))


def days(table: str) -> list[str]:
    """The days the table's latest snapshot holds rows of, oldest first."""
    dt = _table(table)
    if dt is None:
        return []
    return sorted({p[PARTITION_COLUMN] for p in dt.partitions()})


def read_day(path: str, columns: list[str] | None = None, version: int | None = None) -> pa.Table:
    """Day ``ds`` of the table's snapshot (without the ``ds`` column); an empty table of the table's schema when
    the snapshot holds no row of that day.

    Raises:
        FileNotFoundError: there is no table at the path.
    """
    import pyarrow.dataset as pads

    table, ds = split_partition(path)
    dt = _table(table, version)
    if dt is None:
        raise FileNotFoundError(f"no Delta table at {table}")
    dataset = dt.to_pyarrow_dataset(partitions=[(PARTITION_COLUMN, "=", ds)])
    names = [n for n in (columns or dataset.schema.names) if n != PARTITION_COLUMN]
    return dataset.to_table(columns=names, filter=pads.field(PARTITION_COLUMN) == ds)


def iter_day_batches(path: str, columns: list[str], batch_rows: int) -> Iterator[pa.RecordBatch]:
    """Day ``ds`` in batches of at most ``batch_rows`` rows (bounded memory)."""
    import pyarrow.dataset as pads

    table, ds = split_partition(path)
    dt = _table(table)
    if dt is None:
        raise FileNotFoundError(f"no Delta table at {table}")
    dataset = dt.to_pyarrow_dataset(partitions=[(PARTITION_COLUMN, "=", ds)])
    yield from dataset.to_batches(columns=columns, filter=pads.field(PARTITION_COLUMN) == ds, batch_size=batch_rows)


def history(table: str, limit: int | None = None) -> list[dict[str, Any]]:
    """The table's commits, newest first: ``version``, ``timestamp``, ``operation``, the day (``ds``), the
    writing step's counts and the rows it added (``numOutputRows`` / ``num_added_rows`` where the engine says)."""
    dt = _table(table)
    if dt is None:
        return []
    out = []
    for c in dt.history(limit):
        metrics = c.get("operationMetrics") or {}
        counts = c.get(COUNTS_KEY)
        out.append(
            {
                "version": c.get("version"),
                "timestamp": c.get("timestamp"),
                "operation": c.get("operation"),
                "ds": c.get(DS_KEY),
                "counts": json.loads(counts) if isinstance(counts, str) else counts,
                "rows": metrics.get("num_added_rows", metrics.get("numOutputRows")),
                "files_added": metrics.get("num_added_files", metrics.get("numFiles")),
                "files_removed": metrics.get("num_removed_files"),
            }
        )
    return out


def day_counts(path: str, search: int = 500) -> dict[str, Any] | None:
    """The row bookkeeping committed with the latest write of day ``ds`` (None when no commit of it carries any),
    from the newest ``search`` commits."""
    table, ds = split_partition(path)
    for c in history(table, search):
        if c["ds"] == ds:
            return c["counts"]
    return None


def restore_day(path: str, version: int) -> int:
    """Make day ``ds`` what it was at table ``version`` (undo a bad run of that day): one new commit that puts that
    version's files of the day back (no data copied; they must not have been vacuumed). Other days are untouched.

    Returns:
        The rows of the day now.
    """
    table, ds = split_partition(path)
    old = _table(table, version)
    if old is None:
        raise FileNotFoundError(f"no Delta table at {table}")
    files = list(old.file_uris(partition_filters=[(PARTITION_COLUMN, "=", ds)]))
    from shoplake.io.lake import filesystem

    fs, _ = filesystem(table)  # every file of the table lives on the table's filesystem
    missing = [f for f in files if not fs.exists(filesystem(f)[1])]
    if missing:
        raise FileNotFoundError(
            f"version {version} of {table} ds={ds} cannot be restored: {len(missing)} of its files were vacuumed"
        )
    return commit_files(path, files, old.schema().to_arrow(), counts={"restored_from_version": version})


def vacuum(table: str, retention_hours: int = 168, *, full: bool = False, dry_run: bool = False) -> list[str]:
    """Delete files no snapshot within ``retention_hours`` needs (``full``: also files no commit ever named — those
    of writers that died before committing). Returns the files deleted (or, with ``dry_run``, that would be)."""
    dt = _table(table)
    if dt is None:
        return []
    return list(dt.vacuum(retention_hours=retention_hours, dry_run=dry_run, enforce_retention_duration=False,
                          full=full))  # fmt: skip
