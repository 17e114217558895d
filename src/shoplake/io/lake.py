"""Partition IO on any fsspec filesystem (local disk by default, S3/GCS in production).

A write never appends: the table goes to a temporary sibling of the partition, and only when it is complete is
it swapped in place of the old partition. A failed write leaves the previous partition untouched.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import fsspec
import pyarrow as pa
import pyarrow.parquet as pq

from shoplake.paths import hidden_sibling

if TYPE_CHECKING:
    from fsspec import AbstractFileSystem

log = logging.getLogger(__name__)

PART_FILE = "part-00000.parquet"
COUNTS_FILE = "_counts.json"


@dataclass(frozen=True)
class PartitionWrite:
    """What a partition write reports (small enough for XCom)."""

    path: str
    rows: int


def filesystem(path: str) -> tuple[AbstractFileSystem, str]:
    """The fsspec filesystem of ``path`` and the path as that filesystem spells it."""
    fs, fs_path = fsspec.core.url_to_fs(path)
    return fs, fs_path


def existing_partitions(paths: Sequence[str]) -> tuple[list[str], list[str]]:
    """Split partition paths (e.g. ``shoplake.paths.window_partitions``) into ``(existing, missing)``, in order."""
    existing, missing = [], []
    for path in paths:
        fs, fs_path = filesystem(path)
        (existing if fs.exists(fs_path) else missing).append(path)
    return existing, missing


def partition_days(dataset_root: str) -> list[str]:
    """Days of the ``ds=`` partitions under a dataset root, oldest first (hidden write-in-progress siblings and
    names that are not dates skipped; none when the dataset does not exist)."""
    from shoplake.paths import validate_ds

    fs, root = filesystem(dataset_root)
    if not fs.exists(root):
        return []
    days = []
    for entry in fs.ls(root, detail=True):
        name = entry["name"].rstrip("/").rsplit("/", 1)[-1]
        if entry.get("type") == "directory" and name.startswith("ds="):
            try:
                days.append(validate_ds(name[3:]))
            except ValueError:
                continue
    return sorted(days)


def swap_in(fs: AbstractFileSystem, tmp_path: str, final_path: str) -> None:
    """Replace ``final_path`` by the finished directory ``tmp_path``.

    The old partition is renamed aside first and removed only after the new one is in place, so a crash between
    the steps leaves either the old or the new partition (plus a hidden ``.old-*`` leftover), never a mix.
    """
    old_path = None
    if fs.exists(final_path):
        old_path = hidden_sibling(final_path, "old")
        move_dir(fs, final_path, old_path)
    move_dir(fs, tmp_path, final_path)
    if old_path is not None:
        fs.rm(old_path, recursive=True)


def move_dir(fs: AbstractFileSystem, src: str, dst: str) -> None:
    """Move directory ``src`` to ``dst``: a rename on a local disk; object by object on S3 / GCS, which have no
    directories to rename — a server-side copy of each object, then the source objects deleted (s3fs's recursive
    ``mv`` also tries to copy the prefix itself; gcsfs's ``mv`` tries GCS's ``moveTo`` first, which the emulators
    lack and which retries for half a minute before falling back to the same copy + delete)."""
    if "file" in (fs.protocol if isinstance(fs.protocol, tuple) else (fs.protocol,)):
        fs.mv(src, dst, recursive=True)
        return
    src = src.rstrip("/")
    keys = fs.find(src)
    for key in keys:
        fs.copy(key, dst.rstrip("/") + key[len(src) :])
    if keys:
        fs.rm(keys)
    fs.invalidate_cache(src)


class PartitionWriter:
    """Stream Arrow batches into a new version of one partition; swapped in only on a clean exit.

    >>> with PartitionWriter(path, schema) as w:   # doctest: +SKIP
    ...     for batch in batches:
    ...         w.write(batch)
    """

    def __init__(self, path: str, schema: pa.Schema, *, counts: dict[str, int] | None = None) -> None:
        self.path = path
        self.schema = schema
        self.counts = counts
        self.rows = 0
        self._fs, self._final = filesystem(path)
        self._tmp = hidden_sibling(self._final, "tmp")
        self._fh: Any = None
        self._writer: pq.ParquetWriter | None = None

    def __enter__(self) -> PartitionWriter:
        self._fs.makedirs(self._tmp, exist_ok=True)
        self._fh = self._fs.open(f"{self._tmp}/{PART_FILE}", "wb")
        self._writer = pq.ParquetWriter(self._fh, self.schema, compression="zstd")
        return self

    def write(self, data: pa.Table | pa.RecordBatch) -> None:
        assert self._writer is not None, "use PartitionWriter as a context manager"
        table = data if isinstance(data, pa.Table) else pa.Table.from_batches([data])
        self._writer.write_table(table.cast(self.schema))
        self.rows += table.num_rows

    def __exit__(self, exc_type, exc, tb) -> None:
        try:
            if self._writer is not None:
                self._writer.close()
            if self._fh is not None:
                self._fh.close()
            if exc_type is None:
                if self.counts is not None:
                    with self._fs.open(f"{self._tmp}/{COUNTS_FILE}", "w") as fh:
                        json.dump(self.counts, fh, sort_keys=True)
                swap_in(self._fs, self._tmp, self._final)
                log.info("wrote %s rows to %s", self.rows, self.path)
        finally:
            if self._fs.exists(self._tmp):
                self._fs.rm(self._tmp, recursive=True)

    def result(self) -> PartitionWrite:
        return PartitionWrite(path=self.path, rows=self.rows)


def write_partition(
    table: pa.Table, path: str, *, counts: dict[str, int] | None = None, sort_by: str | None = None
) -> PartitionWrite:
    """Write ``table`` as the whole content of the partition at ``path`` (replacing what was there).

    Args:
        table: rows of the partition; an empty table still writes a file carrying the schema, so readers of an
            empty day get the columns rather than a missing path.
        path: the partition directory, from ``shoplake.paths.partition_path``.
        counts: optional bookkeeping (rows in / out / quarantined) stored as ``_counts.json`` in the partition.
        sort_by: column to order rows by, so that a rerun on the same input writes identical files.

    Returns:
        The partition path and its row count.
    """
    if sort_by is not None and table.num_rows:
        table = table.sort_by(sort_by)
    with PartitionWriter(path, table.schema, counts=counts) as writer:
        writer.write(table)
    return writer.result()


def partition_files(path: str) -> tuple[AbstractFileSystem, list[str]]:
    """The Parquet files of one partition (files starting with ``_`` or ``.`` are bookkeeping)."""
    fs, root = filesystem(path)
    if not fs.exists(root):
        raise FileNotFoundError(f"partition {path} does not exist; has its producing task run for this ds?")
    files = sorted(
        p for p in fs.find(root) if p.endswith(".parquet") and not p.rsplit("/", 1)[-1].startswith(("_", "."))
    )
    if not files:
        raise FileNotFoundError(f"partition {path} holds no Parquet file")
    return fs, files


def iter_partition_batches(path: str, columns: list[str], batch_rows: int) -> Iterator[pa.RecordBatch]:
    """Stream a partition in record batches of at most ``batch_rows`` rows (memory stays flat)."""
    fs, files = partition_files(path)
    for f in files:
        with fs.open(f, "rb") as fh:
            yield from pq.ParquetFile(fh).iter_batches(batch_size=batch_rows, columns=columns)


def read_partition(path: str, columns: list[str] | None = None) -> pa.Table:
    """Read every Parquet file of one partition into one table."""
    fs, files = partition_files(path)
    return pa.concat_tables([pq.read_table(f, columns=columns, filesystem=fs) for f in files])


def partition_rows(path: str) -> int:
    """Rows of one partition, from the Parquet footers (no data read)."""
    fs, files = partition_files(path)
    rows = 0
    for f in files:
        with fs.open(f, "rb") as fh:
            rows += pq.ParquetFile(fh).metadata.num_rows
    return rows


def read_counts(path: str) -> dict[str, int]:
    """The ``_counts.json`` bookkeeping a job left in a partition."""
    fs, root = filesystem(path)
    with fs.open(f"{root}/{COUNTS_FILE}") as fh:
        return json.load(fh)
