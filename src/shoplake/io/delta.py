"""Lake tables as Delta Lake tables (delta-rs, no JVM): one commit replaces one ``ds`` day, any engine reads them.
The lake's one front for its tables: the writes are here, the reads (:mod:`shoplake.io.delta_table`) and the
commits of other writers' files (:mod:`shoplake.io.delta_commit`) are named here too.

* :func:`write_day` / :class:`DayWriter` — rows of one day committed as **one** overwrite of that day: a table by
  delta-rs's own writer (``write_deltalake``, ``predicate ds = '<day>'``), a stream of record batches (bounded
  memory) and a day of no rows as one Parquet file committed by hand (:class:`DayWriter` says why). The day's old
  files leave the snapshot in the same commit, other days are untouched, and the step's row bookkeeping (``in`` /
  ``good`` / ``quarantined``…) is part of that commit's metadata (``shoplake.counts``), never a side file a reader
  could see out of step.
* :func:`commit_files`, :func:`restore_day` — files another writer (plain pyspark) put in the table's folder,
  committed as that day's overwrite with statistics from their footers.
* :func:`day_files`, :func:`read_day`, :func:`days`, :func:`day_counts`, :func:`history`, :func:`vacuum` — the
  committed snapshot and its commits.

Concurrent writers of one table: delta-rs lets one commit win; the other gets :class:`ConcurrentDayWrite` naming
the version that stands (``CommitFailedError`` underneath). On S3 delta-rs commits with a conditional PUT (no
DynamoDB lock). A process that forks must not have used deltalake before the fork (its tokio runtime does not
survive a fork): deltalake is imported inside these functions only, and callers that fork do so before.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

from shoplake.io.delta_commit import _commit, _commit_properties, _created, commit_files, restore_day
from shoplake.io.delta_table import (
    COUNTS_KEY,
    DS_KEY,
    PARTITION_COLUMN,
    ROWS_KEY,
    ConcurrentDayWrite,
    _aligned,
    _file_schema,
    _table,
    _table_schema,
    _uri,
    day_counts,
    day_files,
    day_head,
    day_rows,
    days,
    history,
    iter_day_batches,
    read_day,
    snapshot_version,
    split_partition,
    storage_options,
    table_schema,
    table_summary,
    vacuum,
)

if TYPE_CHECKING:
    import pyarrow as pa

log = logging.getLogger(__name__)

#: what callers of the lake's tables use (``from shoplake.io import delta``; ``delta.read_day``…)
__all__ = [
    "COUNTS_KEY", "DS_KEY", "PARTITION_COLUMN", "ROWS_KEY", "ConcurrentDayWrite", "DayWriter", "commit_files",
    "day_counts", "day_files", "day_head", "day_rows", "days", "history", "iter_day_batches", "new_file_name",
    "new_write_folder", "read_day", "restore_day", "snapshot_version", "split_partition", "storage_options",
    "table_schema", "table_summary", "vacuum", "write_day",
]  # fmt: skip


def _start(table: str, schema: pa.Schema) -> Any:
    """The snapshot a write of ``schema`` starts from, the table created first when there is none (delta-rs's
    overwrite of a table that does not exist yet let two or three of four racing threads "win" here, the day then
    holding a mix of their rows), the write's columns checked against the table's."""
    start = _table(table) or _created(table, schema)
    _table_schema(start, _aligned(schema, start))
    return start


class DayWriter:
    """Write day ``ds`` of a table — one table, or a stream of batches with flat memory — as one commit that
    replaces the day, from the snapshot taken on entry (a commit of the day since then is a conflict:
    :class:`ConcurrentDayWrite`); on an error nothing is committed. ``counts`` is read at the exit: a step may fill
    it in while it writes.

    * **One table** (``write_partition``; a single ``write``): written by delta-rs's own writer on a clean exit
      (``write_deltalake``, overwrite with the day's predicate), as one record batch.
    * **A stream** (a second ``write``), and **a day of no rows**: one Parquet file in the day's folder, written as
      the batches come, then committed by hand (:mod:`shoplake.io.delta_commit`).

    Why not delta-rs's writer for those (each shown by a test in ``tests/lake/test_delta.py``): it writes the rows of
    several batches in an order of its threads' choosing, differently from run to run (a streamed day must hold its
    rows in the order written: an enriched day is read row for row beside its curated day, and a rerun must write
    identical rows), and it commits no file for a day of no rows (the day would vanish). A value that does not fit
    the table's column type is refused here (delta-rs truncates 1.5 into an integer column), and a first write
    creates the table before it begins (see :func:`_start`).

    >>> with DayWriter(f"{table}/ds=2024-01-01", schema, counts={"in": 3}) as w:   # doctest: +SKIP
    ...     for batch in batches:
    ...         w.write(batch)
    """

    def __init__(self, path: str, schema: pa.Schema, *, counts: dict[str, Any] | None = None) -> None:
        self.path = path
        self.table, self.ds = split_partition(path)
        self.schema = _file_schema(schema)
        self.counts = counts
        self.rows = 0
        self.read_version: int | None = None
        self._held: pa.Table | None = None  # the first rows, until a second batch makes this a stream
        self._file: str | None = None  # the streamed day's Parquet file

    def __enter__(self) -> DayWriter:
        self._start = _start(self.table, self.schema)
        self.read_version = self._start.version()
        self.schema = _aligned(self.schema, self._start)
        return self

    def write(self, data: pa.Table | pa.RecordBatch) -> None:
        """Append rows of this day (a ``ds`` column, if present, must hold only this day)."""
        import pyarrow as pa

        table = data if isinstance(data, pa.Table) else pa.Table.from_batches([data])
        if PARTITION_COLUMN in table.schema.names:
            other = set(table.column(PARTITION_COLUMN).unique().to_pylist()) - {self.ds}
            if other:
                raise ValueError(f"rows of ds={sorted(other)} in a write of ds={self.ds}: a write replaces one day")
            table = table.drop_columns([PARTITION_COLUMN])
        table = table if table.schema == self.schema else _cast(table, self.schema)
        if not table.num_rows:
            return
        self.rows += table.num_rows
        if self._held is None and self._file is None:
            self._held = table
            return
        if self._file is None:
            self._open_file()
        self._writer.write_table(table)

    def _open_file(self) -> None:
        import pyarrow.parquet as pq

        from shoplake.io.fs import filesystem

        self._fs, root = filesystem(_uri(self.table))
        self._file = f"{root.rstrip('/')}/{PARTITION_COLUMN}={self.ds}/{new_file_name()}"
        self._fs.makedirs(self._file.rsplit("/", 1)[0], exist_ok=True)
        self._fh = self._fs.open(self._file, "wb")
        self._footer: list[Any] = []  # the file's metadata, handed back by the writer on close (no re-read)
        self._writer = pq.ParquetWriter(self._fh, self.schema, compression="zstd", metadata_collector=self._footer)
        if self._held is not None:
            self._writer.write_table(self._held)
            self._held = None

    def __exit__(self, exc_type, exc, tb) -> None:
        if self._held is not None and exc_type is None:
            self._write(self._held)
        elif self._held is None:
            self._commit_file(failed=exc_type is not None)
        if exc_type is None:
            log.info("committed %d rows to %s ds=%s", self.rows, self.table, self.ds)

    def _write(self, table: pa.Table) -> None:
        import pyarrow as pa
        from deltalake import WriterProperties, write_deltalake
        from deltalake.exceptions import CommitFailedError

        # one record batch: delta-rs keeps the order of one batch's rows, not that of several
        table = table.append_column(PARTITION_COLUMN, pa.repeat(pa.scalar(self.ds), table.num_rows)).combine_chunks()
        commit = _commit_properties(self.ds, self.counts, self.read_version, self.rows)
        try:
            write_deltalake(self._start, table, mode="overwrite", partition_by=[PARTITION_COLUMN],
                            predicate=f"{PARTITION_COLUMN} = '{self.ds}'", schema_mode="merge",
                            writer_properties=WriterProperties(compression="ZSTD"),
                            commit_properties=commit)  # fmt: skip
        except CommitFailedError as exc:
            raise ConcurrentDayWrite.standing(self.table, self.ds) from exc

    def _commit_file(self, *, failed: bool) -> None:
        """The streamed day's file (for a day of no rows, one zero-row file carrying the schema), committed from
        the snapshot taken on entry — or, when the step ``failed``, deleted."""
        if self._file is None:
            if failed:
                return
            self._open_file()
        committed = False
        try:
            self._writer.close()
            self._fh.close()
            if not failed:
                _commit(self.table, self.ds, [self._file], self.schema, self.counts, self.read_version, self._start,
                        footers={self._file: self._footer[0]} if self._footer else None)  # fmt: skip
                committed = True
        finally:
            if not committed and self._fs.exists(self._file):
                self._fs.rm(self._file)


def _stamp() -> str:
    import datetime as dt
    import uuid

    return f"{dt.datetime.now(dt.UTC).strftime('%Y%m%dT%H%M%S%fZ')}-{uuid.uuid4().hex[:12]}"


def _cast(table: pa.Table, schema: pa.Schema) -> pa.Table:
    """``table`` in ``schema``'s column order and types (checked casts; sub-microsecond digits of a timestamp are
    dropped, as Delta stores microseconds)."""
    import pyarrow as pa
    import pyarrow.compute as pc

    columns = []
    for field in schema:
        if field.name not in table.column_names:
            raise ValueError(f"a write of {schema.names} has no column {field.name!r}")
        col = table.column(field.name)
        if col.type != field.type:
            col = pc.cast(col, options=pc.CastOptions(target_type=field.type, allow_time_truncate=True))
        columns.append(col)
    return pa.Table.from_arrays(columns, schema=schema)


def new_file_name() -> str:
    """A data file's name no other write can pick: ``part-<UTC time>-<random>.zstd.parquet``."""
    return f"part-{_stamp()}.zstd.parquet"


def new_write_folder() -> str:
    """A folder name for one write's files (another writer's, e.g. Spark's) no other write can pick."""
    return f"w-{_stamp()}"


def write_day(
    path: str,
    data: pa.Table | Iterable[pa.RecordBatch],
    schema: pa.Schema | None = None,
    *,
    counts: dict[str, Any] | None = None,
) -> int:
    """Replace day ``ds`` of the table at ``path`` (``<table>/ds=<day>``) with ``data`` in one commit.

    A day of no rows is still one file (zero rows, the schema): the day exists, and readers get its columns.

    Args:
        path: the partition path.
        data: the day's rows (a ``ds`` column, if present, must hold only that day).
        schema: the rows' schema (needed for a stream of batches; a table's own otherwise).
        counts: the writing step's row bookkeeping, committed with the rows (:func:`day_counts` reads it).

    Returns:
        The rows written.

    Raises:
        ConcurrentDayWrite: another writer committed this day (or the table's schema) first.
        ValueError: rows of another day.
    """
    import pyarrow as pa

    if isinstance(data, pa.Table):
        schema = schema or data.schema
        batches: Iterable[pa.Table | pa.RecordBatch] = [data]
    elif schema is None:
        raise ValueError("a stream of batches needs its schema")
    else:
        batches = data
    with DayWriter(path, schema, counts=counts) as writer:
        for batch in batches:
            writer.write(batch)
    return writer.rows
