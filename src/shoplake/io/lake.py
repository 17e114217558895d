"""Partition IO for the lake's datasets, each a Delta Lake table partitioned by ``ds`` (:mod:`shoplake.io.delta`).

A dataset ``<lake>/<zone>/<name>`` is one Delta table; a partition path ``<dataset>/ds=YYYY-MM-DD`` (from
``shoplake.paths.partition_path``) names one day of it. Pipelines write and read days through this module:

* :func:`write_partition` / :class:`PartitionWriter` — a day's rows (a table, through delta-rs's own writer; or
  batches streamed with flat memory into one Parquet file: :class:`shoplake.io.delta.DayWriter`), committed as
  **one** Delta commit that replaces exactly that day; the step's row
  bookkeeping (``counts``) is part of the same commit; rows of another day are refused. A writer that fails (or is
  killed) before its commit leaves the day as it was: readers only see files the log names.
* :func:`read_partition`, :func:`iter_partition_batches`, :func:`partition_rows`, :func:`read_counts`,
  :func:`partition_days`, :func:`existing_partitions` — reads of the committed snapshot (never a folder glob: a
  replaced day's files stay in the folder until vacuumed).

Any filesystem fsspec and delta-rs both open: the local disk, ``s3://`` (delta-rs commits with S3's conditional
PUT), ``gs://``. Files that are not table rows (model versions, CSV exports) are committed by
:mod:`shoplake.io.filecommit`.
"""

from __future__ import annotations

import logging
from collections import defaultdict
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from shoplake.io import delta
from shoplake.io.fs import filesystem, is_local  # noqa: F401  (the partition layer's users import them from here)

if TYPE_CHECKING:
    import pyarrow as pa

log = logging.getLogger(__name__)

#: a write that loses a race for its day (:class:`shoplake.io.delta.ConcurrentDayWrite`)
ConcurrentCommitError = delta.ConcurrentDayWrite


@dataclass(frozen=True)
class PartitionWrite:
    """What a partition write reports (small enough for XCom)."""

    path: str
    rows: int


def existing_partitions(paths: Sequence[str]) -> tuple[list[str], list[str]]:
    """Split partition paths (e.g. ``shoplake.paths.window_partitions``) into ``(existing, missing)``, in order;
    a partition exists when a write of its day is in its table's snapshot (a day of zero rows included). Each
    table's snapshot is loaded once."""
    by_table: dict[str, set[str]] = {}
    existing, missing = [], []
    for path in paths:
        table, day = delta.split_partition(path)
        if table not in by_table:
            by_table[table] = set(delta.days(table))
        (existing if day in by_table[table] else missing).append(path)
    return existing, missing


def partition_days(dataset_root: str) -> list[str]:
    """Days the dataset's table holds, oldest first (none when there is no table)."""
    return delta.days(dataset_root.rstrip("/"))


class PartitionWriter(delta.DayWriter):
    """Stream Arrow batches into one day of a dataset; committed (replacing the day) only on a clean exit.

    >>> with PartitionWriter(path, schema, counts={"in": 3}) as w:   # doctest: +SKIP
    ...     for batch in batches:
    ...         w.write(batch)
    """

    def __exit__(self, exc_type, exc, tb) -> None:
        super().__exit__(exc_type, exc, tb)
        if exc_type is None:
            log.info("wrote %s rows to %s", self.rows, self.path)

    def result(self) -> PartitionWrite:
        return PartitionWrite(path=self.path, rows=self.rows)


def write_partition(
    table: pa.Table, path: str, *, counts: dict[str, Any] | None = None, sort_by: str | None = None
) -> PartitionWrite:
    """Write ``table`` as the whole content of the day at ``path`` (replacing what was there), in one commit.

    Args:
        table: rows of the day; an empty table still commits a file carrying the schema, so readers of an empty
            day get the columns, and the day counts as written.
        path: the partition, from ``shoplake.paths.partition_path``.
        counts: the step's bookkeeping (rows in / out / quarantined), committed with the rows (:func:`read_counts`).
        sort_by: column to order rows by, so that a rerun on the same input writes identical rows.

    Returns:
        The partition path and its row count.

    Raises:
        ConcurrentCommitError: another writer committed the day while this one wrote (its rows stand).
    """
    if sort_by is not None and table.num_rows:
        table = table.sort_by(sort_by)
    with PartitionWriter(path, table.schema, counts=counts) as writer:
        writer.write(table)
    return writer.result()


def _require(path: str) -> None:
    delta.day_files(path, require=True)  # raises with the reason when the snapshot does not hold the day


def partition_files(path: str) -> list[str]:
    """URIs of the data files of one day in its table's snapshot (for engines that take a file list: Spark,
    DuckDB). Raises :class:`FileNotFoundError` when the table does not hold the day."""
    return delta.day_files(path, require=True)


def iter_partition_batches(path: str, columns: list[str], batch_rows: int) -> Iterator[pa.RecordBatch]:
    """Stream a day in record batches of at most ``batch_rows`` rows (memory stays flat), in the snapshot's file
    order (the same order every time for one snapshot)."""
    yield from delta.iter_day_batches(path, columns, batch_rows, require=True)


class _Taker:
    """Rows of a batch stream handed out ``n`` at a time, across batch boundaries."""

    def __init__(self, batches: Iterator[pa.RecordBatch]) -> None:
        self.batches = batches
        self.buffer: list[pa.RecordBatch] = []
        self.buffered = 0

    def take(self, n: int) -> pa.Table | None:
        """The next ``n`` rows (fewer at the end), ``None`` once the stream is spent."""
        import pyarrow as pa

        for batch in self.batches:
            if not batch.num_rows:
                continue
            self.buffer.append(batch)
            self.buffered += batch.num_rows
            if self.buffered >= n:
                break
        if not self.buffered:
            return None
        table = pa.Table.from_batches(self.buffer)
        head, rest = table.slice(0, n), table.slice(n)
        self.buffer, self.buffered = rest.to_batches(), rest.num_rows
        return head


def iter_aligned_partitions(
    left: str, left_columns: list[str], right: str, right_columns: list[str], rows: int
) -> Iterator[tuple[pa.Table, pa.Table]]:
    """Two days holding the same rows in the same order (an enriched day a job streamed from a curated one), read
    in step: pairs of tables of equal length, at most ``rows`` rows each; memory stays flat.

    Raises:
        ValueError: one day has more rows than the other.
    """
    a = _Taker(iter_partition_batches(left, left_columns, rows))
    b = _Taker(iter_partition_batches(right, right_columns, rows))
    while (x := a.take(rows)) is not None:
        y = b.take(x.num_rows)
        if y is None or y.num_rows != x.num_rows:
            raise ValueError(f"{right} has fewer rows than {left}")
        yield x, y
    if b.take(1) is not None:
        raise ValueError(f"{right} has more rows than {left}")


def partition_schema(path: str) -> pa.Schema:
    """The columns of the day's table (its snapshot's schema, without ``ds``; no data read)."""
    _require(path)
    return delta.table_schema(delta.split_partition(path)[0])


def empty_partition_table(path: str, columns: list[str]) -> pa.Table:
    """No rows, the schema of ``columns`` as the day's table stores them."""
    schema = partition_schema(path)
    return schema.empty_table().select(columns)


def read_partition(path: str, columns: list[str] | None = None) -> pa.Table:
    """One day of a dataset as one table (without the ``ds`` column)."""
    return delta.read_day(path, columns, require=True)


def partition_rows(path: str) -> int:
    """Rows of one day, from the snapshot's file statistics (no data read)."""
    return delta.day_rows(path, require=True)


def read_counts(path: str) -> dict[str, int]:
    """The bookkeeping the step that wrote the day committed with it.

    Raises:
        FileNotFoundError: the day was not written, or its write carried no counts.
    """
    counts = delta.day_counts(path)
    if counts is None:
        _require(path)
        raise FileNotFoundError(f"partition {path} was written without counts")
    return counts


def spelled_like(uri: str, fs_path: str) -> str:
    """``fs_path`` (as a filesystem lists it: ``bucket/key``) with ``uri``'s scheme (``s3://bucket/key``)."""
    return f"{uri.split('://', 1)[0]}://{fs_path}" if "://" in uri else fs_path


def folders_under(root: str) -> Iterator[tuple[str, str]]:
    """``(zone, folder uri)`` of every folder one level under each zone folder of ``root`` (hidden names skipped),
    for tools that walk the lake (maintenance, the CLI, migration); nothing when ``root`` does not exist."""
    fs, base = filesystem(root)
    if not fs.exists(base):
        return
    for zone in sorted(fs.ls(base, detail=False)):
        if not fs.isdir(zone) or zone.rstrip("/").rsplit("/", 1)[-1].startswith((".", "_")):
            continue
        for folder in sorted(fs.ls(zone, detail=False)):
            if fs.isdir(folder):
                yield zone.rstrip("/").rsplit("/", 1)[-1], spelled_like(root, folder)


def tables_under(root: str) -> dict[str, list[str]]:
    """The Delta tables one level under each zone folder of ``root`` (``{zone: [table uri, …]}``)."""
    from deltalake import DeltaTable

    out: dict[str, list[str]] = defaultdict(list)
    for zone, uri in folders_under(root):
        if DeltaTable.is_deltatable(uri, storage_options=delta.storage_options(uri)):
            out[zone].append(uri)
    return dict(out)
