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
ROWS_KEY = "shoplake.rows"
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
    from deltalake.exceptions import TableNotFoundError

    uri = _uri(table)
    try:
        return DeltaTable(uri, version=version, storage_options=storage_options(uri))
    except TableNotFoundError:
        return None


def _delta_type(t: pa.DataType) -> pa.DataType:
    """The Arrow type a Delta table stores ``t`` as: timestamps in microseconds (Delta's only precision; pyarrow
    would write nanoseconds, which engines read as another type), dictionaries as their values."""
    import pyarrow as pa

    if pa.types.is_timestamp(t) and t.unit != "us":
        return pa.timestamp("us", tz=t.tz)
    if pa.types.is_dictionary(t):
        return _delta_type(t.value_type)
    if pa.types.is_list(t) or pa.types.is_large_list(t) or pa.types.is_fixed_size_list(t):
        return pa.list_(_delta_type(t.value_type))  # Delta's array: a fixed size is not part of its type
    if pa.types.is_struct(t):
        return pa.struct([f.with_type(_delta_type(f.type)) for f in t])
    return t


def _same_type(a: pa.DataType, b: pa.DataType) -> bool:
    """Whether two Arrow types are one Delta type (a list's element field may be named ``item`` or ``element``)."""
    return str(_delta_type(a)).replace("element:", "item:") == str(_delta_type(b)).replace("element:", "item:")


def _file_schema(schema: pa.Schema) -> pa.Schema:
    """The schema of a day's data files: ``schema`` without the ``ds`` column (the partition value lives in the
    log and the folder name), in Delta's types."""
    import pyarrow as pa

    return pa.schema(
        [f.with_type(_delta_type(f.type)) for f in schema if f.name != PARTITION_COLUMN], metadata=schema.metadata
    )


def _table_schema(current: Any, files: pa.Schema) -> pa.Schema:
    """The table's schema after a write of ``files``: the current columns (a write without one of them leaves the
    column to older days, read as nulls there) plus the write's new ones, then ``ds``.

    Raises:
        ValueError: a column the write changes the type of (rewrite the table, or name the column anew).
    """
    import pyarrow as pa

    fields = {f.name: f for f in files}
    out = []
    if current is not None:
        for f in pa.schema(current.schema().to_arrow()):
            if f.name == PARTITION_COLUMN:
                continue
            new = fields.pop(f.name, None)
            if new is not None and not _same_type(new.type, f.type):
                raise ValueError(
                    f"{current.table_uri}: column {f.name} is {f.type} in the table and {new.type} in this write; "
                    "a table keeps a column's type (write the new type under a new name, or migrate the table)"
                )
            out.append(f.with_nullable(True))
    out.extend(f.with_nullable(True) for f in fields.values())
    return pa.schema([*out, pa.field(PARTITION_COLUMN, pa.string())])


def _family(t: pa.DataType) -> str:
    import pyarrow as pa

    if pa.types.is_integer(t) or pa.types.is_floating(t):
        return "number"
    if pa.types.is_string(t) or pa.types.is_large_string(t):
        return "string"
    if pa.types.is_timestamp(t):
        return f"timestamp {t.tz is not None}"
    return str(t)


def _aligned(files: pa.Schema, current: Any) -> pa.Schema:
    """The write's schema with each column the table already has in the table's type, where the two are of one
    family (int64 rows into an int32 column, a string into a large string…): the rows are cast, checked (a value
    that does not fit fails the write); columns of another family are left for :func:`_table_schema` to refuse."""
    import pyarrow as pa

    table_types = {f.name: f.type for f in pa.schema(current.schema().to_arrow())}
    fields = []
    for f in files:
        t = table_types.get(f.name)
        if t is not None and not _same_type(t, f.type) and _family(t) == _family(f.type):
            f = f.with_type(_delta_type(t))
        fields.append(f)
    return pa.schema(fields, metadata=files.metadata)


def _commit_properties(ds: str, counts: dict[str, Any] | None, rows: int, read_version: int) -> Any:
    """The commit's metadata (its day, rows and counts) and an application transaction named after its day.

    The transaction is what makes two writes of one day conflict even when the day is new: an overwrite committed
    through ``create_write_transaction`` conflicts with a concurrent commit that *removed* files it read, but not
    with one that *added* files to a day it had none of. Both writers setting ``shoplake ds=<day>`` does conflict
    (delta-rs fails a commit when a winning commit set an application transaction id this one sets)."""
    from deltalake import CommitProperties, Transaction

    meta = {DS_KEY: ds, ROWS_KEY: str(rows)}
    if counts is not None:
        meta[COUNTS_KEY] = json.dumps(counts, sort_keys=True)
    return CommitProperties(custom_metadata=meta, app_transactions=[Transaction(_app_id(ds), read_version + 1)])


def _app_id(ds: str) -> str:
    """The application transaction id every write of day ``ds`` sets (see :func:`_commit_properties`)."""
    return f"shoplake {PARTITION_COLUMN}={ds}"


def snapshot_version(table: str) -> int | None:
    """The table's version a write starts from (its conflicts are checked against later commits); None: no table."""
    current = _table(table)
    return None if current is None else current.version()


class DayWriter:
    """Stream Arrow batches into one new Parquet file of day ``ds`` inside the table's folder, committed on a clean
    exit as that day's overwrite (from the snapshot taken on entry); on an error the file is deleted and nothing is
    committed. Memory stays flat: batches go straight to the file.

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
        self._fh: Any = None
        self._writer: Any = None

    def __enter__(self) -> DayWriter:
        import pyarrow.parquet as pq

        from shoplake.io.fs import filesystem, is_local

        self._start = _table(self.table)  # the snapshot this write starts from
        self.read_version = None if self._start is None else self._start.version()
        if self._start is not None:
            self.schema = _aligned(self.schema, self._start)
        self.fs, root = filesystem(_uri(self.table))
        self.file = f"{root.rstrip('/')}/{PARTITION_COLUMN}={self.ds}/{new_file_name()}"
        self.fs.makedirs(self.file.rsplit("/", 1)[0], exist_ok=True)
        self._footer: list[Any] = []  # the file's metadata, handed back by the writer on close (no re-read)
        self._fh = None if is_local(self.fs) else self.fs.open(self.file, "wb")
        sink = self.file if self._fh is None else self._fh
        self._writer = pq.ParquetWriter(sink, self.schema, compression="zstd", metadata_collector=self._footer)
        return self

    def write(self, data: pa.Table | pa.RecordBatch) -> None:
        """Append rows of this day (a ``ds`` column, if present, must hold only this day)."""
        import pyarrow as pa

        assert self._writer is not None, "use DayWriter as a context manager"
        table = data if isinstance(data, pa.Table) else pa.Table.from_batches([data])
        if PARTITION_COLUMN in table.schema.names:
            other = set(table.column(PARTITION_COLUMN).unique().to_pylist()) - {self.ds}
            if other:
                raise ValueError(f"rows of ds={sorted(other)} in a write of ds={self.ds}: a write replaces one day")
            table = table.drop_columns([PARTITION_COLUMN])
        self._writer.write_table(table if table.schema == self.schema else _cast(table, self.schema))
        self.rows += table.num_rows

    def __exit__(self, exc_type, exc, tb) -> None:
        committed = False
        try:
            if self._writer is not None:
                self._writer.close()
            if self._fh is not None:
                self._fh.close()
            if exc_type is None:
                footers = {self.file: self._footer[0]} if self._footer else None
                _commit(self.table, self.ds, [self.file], self.schema, self.counts, self.read_version, self._start,
                        footers)  # fmt: skip
                committed = True
        finally:
            if not committed and self.fs.exists(self.file):
                self.fs.rm(self.file)


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
    from deltalake import DeltaTable
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
        try:
            DeltaTable.create(uri, _table_schema(None, files), partition_by=[PARTITION_COLUMN], mode="ignore",
                              storage_options=storage_options(uri))  # fmt: skip
        except Exception:  # another writer created it in the same instant
            if _table(table) is None:
                raise
        start = _table(table)
        if start.transaction_version(_app_id(ds)) is not None:  # a writer of this day committed since this began
            raise ConcurrentDayWrite(table, ds, start.version())
    elif start is None or start.version() != read_version:
        start = _table(table, read_version)
    full = _table_schema(start, files)
    try:
        start.create_write_transaction(
            actions, mode="overwrite", schema=full, partition_by=[PARTITION_COLUMN],
            partition_filters=[(PARTITION_COLUMN, "=", ds)],
            commit_properties=_commit_properties(ds, counts, rows, start.version()),
        )  # fmt: skip
    except CommitFailedError as exc:
        current = _table(table)
        raise ConcurrentDayWrite(table, ds, current.version() if current is not None else None) from exc
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


def _day_snapshot(path: str, version: int | None = None, *, require: bool = False) -> tuple[Any, str, str]:
    """``(DeltaTable or None, table, ds)`` of a partition path, the snapshot loaded once; with ``require``, a
    :class:`FileNotFoundError` when the snapshot does not hold the day (a day of zero rows is held)."""
    table, ds = split_partition(path)
    dt = _table(table, version)
    if require and (dt is None or not dt.partitions(partition_filters=[(PARTITION_COLUMN, "=", ds)])):
        raise FileNotFoundError(f"partition {path} does not exist; has its producing task run for this ds?")
    return dt, table, ds


def day_files(path: str, version: int | None = None, *, require: bool = False) -> list[str]:
    """URIs of the files of day ``ds`` in the table's snapshot (latest, or ``version``); [] for no such day
    (``require``: :class:`FileNotFoundError` instead)."""
    dt, _, ds = _day_snapshot(path, version, require=require)
    if dt is None:
        return []
    return list(dt.file_uris(file_pruning_predicate=[(PARTITION_COLUMN, "=", ds)]))


def days(table: str) -> list[str]:
    """The days the table's latest snapshot holds rows of, oldest first."""
    dt = _table(table)
    if dt is None:
        return []
    return sorted({p[PARTITION_COLUMN] for p in dt.partitions()})


def table_schema(table: str, version: int | None = None) -> pa.Schema:
    """The table's columns without ``ds`` (from its log: no data file read)."""
    import pyarrow as pa

    dt = _table(table, version)
    if dt is None:
        raise FileNotFoundError(f"no Delta table at {table}")
    schema = pa.schema(dt.schema().to_arrow())
    return schema.remove(schema.get_field_index(PARTITION_COLUMN)) if PARTITION_COLUMN in schema.names else schema


def read_day(
    path: str, columns: list[str] | None = None, version: int | None = None, *, require: bool = False
) -> pa.Table:
    """Day ``ds`` of the table's snapshot (without the ``ds`` column); an empty table of the table's schema when
    the snapshot holds no row of that day.

    Raises:
        FileNotFoundError: there is no table at the path (``require``: or the snapshot does not hold the day).
    """
    import pyarrow.dataset as pads

    dt, table, ds = _day_snapshot(path, version, require=require)
    if dt is None:
        raise FileNotFoundError(f"no Delta table at {table}")
    dataset = dt.to_pyarrow_dataset(partitions=[(PARTITION_COLUMN, "=", ds)])
    names = [n for n in (columns or dataset.schema.names) if n != PARTITION_COLUMN]
    return dataset.to_table(columns=names, filter=pads.field(PARTITION_COLUMN) == ds)


def day_head(path: str, limit: int, version: int | None = None) -> tuple[int, int, pa.Table]:
    """``(version read, rows of the day, its first limit rows)`` from one load of the snapshot (latest, or
    ``version``): files are opened only until ``limit`` rows are read.

    Raises:
        FileNotFoundError: the snapshot does not hold the day.
    """
    import pyarrow.dataset as pads

    dt, _, ds = _day_snapshot(path, version, require=True)
    dataset = dt.to_pyarrow_dataset(partitions=[(PARTITION_COLUMN, "=", ds)])
    names = [n for n in dataset.schema.names if n != PARTITION_COLUMN]
    head = dataset.head(limit, columns=names, filter=pads.field(PARTITION_COLUMN) == ds)
    return dt.version(), _rows_of_day(dt, ds), head


def iter_day_batches(
    path: str, columns: list[str], batch_rows: int, *, require: bool = False
) -> Iterator[pa.RecordBatch]:
    """Day ``ds`` in batches of at most ``batch_rows`` rows (bounded memory)."""
    import pyarrow.dataset as pads

    dt, table, ds = _day_snapshot(path, require=require)
    if dt is None:
        raise FileNotFoundError(f"no Delta table at {table}")
    dataset = dt.to_pyarrow_dataset(partitions=[(PARTITION_COLUMN, "=", ds)])
    yield from dataset.to_batches(columns=columns, filter=pads.field(PARTITION_COLUMN) == ds, batch_size=batch_rows)


def history(table: str, limit: int | None = None, dt: Any = None) -> list[dict[str, Any]]:
    """The table's commits, newest first: ``version``, ``timestamp``, ``operation``, the day (``ds``), the
    writing step's counts and the rows it added (``numOutputRows`` / ``num_added_rows`` where the engine says)."""
    dt = dt if dt is not None else _table(table)
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
                "rows": _int(c.get(ROWS_KEY, metrics.get("num_added_rows", metrics.get("numOutputRows")))),
                "files_added": metrics.get("num_added_files", metrics.get("numFiles")),
                "files_removed": metrics.get("num_removed_files"),
            }
        )
    return out


def _int(value: Any) -> int | None:
    try:
        return int(value)
    except (TypeError, ValueError):
        return None


def day_counts(path: str, search: int = 5000) -> dict[str, Any] | None:
    """The row bookkeeping committed with the latest write of day ``ds`` (None when no commit of it carries any).

    Looked up in the table's history, newest first, in growing windows (25, 250, … up to ``search`` commits): a
    day just written is found in one small read; a day last written thousands of commits ago is not (None)."""
    table, ds = split_partition(path)
    dt = _table(table)
    if dt is None:
        return None
    window = 25
    while True:
        commits = history(table, window, dt)
        for c in commits:
            if c["ds"] == ds:  # only shoplake's day commits carry a day (not OPTIMIZE, VACUUM, CREATE)
                return c["counts"]
        if len(commits) < window or window >= search:
            return None
        window = min(search, window * 10)


def table_summary(table: str, search: int = 200) -> dict[str, Any] | None:
    """One look at a table for pages and tools (the snapshot loaded once): ``version``, rows per day (file
    statistics, no data read), the counts committed with each day's latest write among the newest ``search``
    commits (``counts``: day → dict) and those commits, newest first (``history``). None: no table there."""
    import pyarrow as pa
    import pyarrow.compute as pc

    dt = _table(table)
    if dt is None:
        return None
    adds = pa.table(dt.get_add_actions(flatten=True))
    rows: dict[str, int] = {}
    if adds.num_rows:
        grouped = adds.group_by(f"partition.{PARTITION_COLUMN}").aggregate([("num_records", "sum")])
        rows = dict(zip(grouped[f"partition.{PARTITION_COLUMN}"].to_pylist(), grouped["num_records_sum"].to_pylist(),
                        strict=True))  # fmt: skip
        if pc.sum(adds["num_records"].is_null()).as_py():  # files without statistics: rows unknown there
            for day in set(adds.filter(adds["num_records"].is_null())[f"partition.{PARTITION_COLUMN}"].to_pylist()):
                rows[day] = None  # type: ignore[assignment]
    commits = history(table, search, dt)
    counts: dict[str, dict[str, Any]] = {}
    for c in commits:
        if c["ds"] and c["ds"] not in counts:
            counts[c["ds"]] = c["counts"] or {}
    return {"version": dt.version(), "rows": rows, "counts": counts, "history": commits}


def day_rows(path: str, version: int | None = None, *, require: bool = False) -> int:
    """Rows of day ``ds`` from the snapshot's file statistics (no data file read); 0 for a day it does not hold
    (``require``: :class:`FileNotFoundError` instead)."""

    dt, _, ds = _day_snapshot(path, version, require=require)
    return 0 if dt is None else _rows_of_day(dt, ds)


def _rows_of_day(dt: Any, ds: str) -> int:
    """Rows of day ``ds`` in a loaded snapshot: its files' statistics, or a count where a file has none."""
    import pyarrow as pa
    import pyarrow.compute as pc

    adds = pa.table(dt.get_add_actions(flatten=True))
    mine = adds.filter(pc.equal(adds[f"partition.{PARTITION_COLUMN}"], ds))["num_records"]
    if mine.null_count:  # a file committed without statistics: count its rows
        return dt.to_pyarrow_dataset(partitions=[(PARTITION_COLUMN, "=", ds)]).count_rows()
    return int(pc.sum(mine).as_py() or 0)


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


def vacuum(table: str, retention_hours: int = 168, *, full: bool = False, dry_run: bool = False) -> list[str]:
    """Delete files no snapshot within ``retention_hours`` needs (``full``: also files no commit ever named — those
    of writers that died before committing). Returns the files deleted (or, with ``dry_run``, that would be)."""
    dt = _table(table)
    if dt is None:
        return []
    return list(dt.vacuum(retention_hours=retention_hours, dry_run=dry_run, enforce_retention_duration=False,
                          full=full))  # fmt: skip
