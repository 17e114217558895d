"""A lake table as a Delta Lake table (delta-rs, no JVM), read: where it is, its committed snapshot, the rules its
columns keep, and what engines read of it — never its folder by a glob (replaced files stay there until vacuumed,
and a glob counts them). Writes are :mod:`shoplake.io.delta`'s.

A dataset ``<lake>/<zone>/<name>`` is one Delta table partitioned by ``ds``; a partition path
``<lake>/<zone>/<name>/ds=YYYY-MM-DD`` names its table and day (:func:`split_partition`), so the catalog
(:mod:`shoplake.paths`) stays the one place paths are built.

* :func:`day_files`, :func:`read_day`, :func:`day_head`, :func:`iter_day_batches`, :func:`days`, :func:`day_rows`,
  :func:`table_schema` — the snapshot's days and rows (latest, or a version);
* :func:`history`, :func:`day_counts`, :func:`table_summary` — its commits, with the row bookkeeping each write
  committed (``shoplake.counts``); :func:`vacuum` — files no snapshot needs.

:func:`storage_options` passes the endpoint of a local S3 (moto) or GCS emulator from the environment. deltalake is
imported inside these functions only (a process that forks must not have used it before the fork).
"""

from __future__ import annotations

import json
import logging
import os
import re
from collections.abc import Iterator
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

    @classmethod
    def standing(cls, table: str, ds: str) -> ConcurrentDayWrite:
        """The error for a write of ``ds`` that lost, naming the table version that stands now."""
        current = _table(table)
        return cls(table, ds, None if current is None else current.version())


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


def snapshot_version(table: str) -> int | None:
    """The table's version a write starts from (its conflicts are checked against later commits); None: no table."""
    current = _table(table)
    return None if current is None else current.version()


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


def vacuum(table: str, retention_hours: int = 168, *, full: bool = False, dry_run: bool = False) -> list[str]:
    """Delete files no snapshot within ``retention_hours`` needs (``full``: also files no commit ever named — those
    of writers that died before committing). Returns the files deleted (or, with ``dry_run``, that would be)."""
    dt = _table(table)
    if dt is None:
        return []
    return list(dt.vacuum(retention_hours=retention_hours, dry_run=dry_run, enforce_retention_duration=False,
                          full=full))  # fmt: skip
