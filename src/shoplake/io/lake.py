"""Partition IO on any fsspec filesystem (local disk by default, S3/GCS in production).

A write never appends: the table goes to a temporary sibling of the partition, and only when it is complete is
it swapped in place of the old partition. A failed write leaves the previous partition untouched.
"""

from __future__ import annotations

import json
import logging
import uuid
from dataclasses import asdict, dataclass
from typing import TYPE_CHECKING, Any

import fsspec
import pyarrow as pa
import pyarrow.parquet as pq

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

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def filesystem(path: str) -> tuple[AbstractFileSystem, str]:
    """The fsspec filesystem of ``path`` and the path as that filesystem spells it."""
    fs, fs_path = fsspec.core.url_to_fs(path)
    return fs, fs_path


def swap_in(fs: AbstractFileSystem, tmp_path: str, final_path: str) -> None:
    """Replace ``final_path`` by the finished directory ``tmp_path``.

    The old partition is renamed aside first and removed only after the new one is in place, so a crash between
    the steps leaves either the old or the new partition (plus a ``.old-*`` leftover), never a mix.
    """
    old_path = None
    if fs.exists(final_path):
        old_path = f"{final_path}.old-{uuid.uuid4().hex[:8]}"
        fs.mv(final_path, old_path, recursive=True)
    fs.mv(tmp_path, final_path, recursive=True)
    if old_path is not None:
        fs.rm(old_path, recursive=True)


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
    fs, final = filesystem(path)
    tmp = f"{final.rstrip('/')}.tmp-{uuid.uuid4().hex[:8]}"
    if sort_by is not None and table.num_rows:
        table = table.sort_by(sort_by)
    fs.makedirs(tmp, exist_ok=True)
    try:
        with fs.open(f"{tmp}/{PART_FILE}", "wb") as fh:
            pq.write_table(table, fh, compression="zstd")
        if counts is not None:
            with fs.open(f"{tmp}/{COUNTS_FILE}", "w") as fh:
                json.dump(counts, fh, sort_keys=True)
        swap_in(fs, tmp, final)
    except BaseException:
        if fs.exists(tmp):
            fs.rm(tmp, recursive=True)
        raise
    log.info("wrote %s rows to %s", table.num_rows, path)
    return PartitionWrite(path=path, rows=table.num_rows)


def read_partition(path: str, columns: list[str] | None = None) -> pa.Table:
    """Read every Parquet file of one partition (files starting with ``_`` or ``.`` are bookkeeping)."""
    fs, root = filesystem(path)
    if not fs.exists(root):
        raise FileNotFoundError(f"partition {path} does not exist; has its producing task run for this ds?")
    files = sorted(
        p for p in fs.find(root) if p.endswith(".parquet") and not p.rsplit("/", 1)[-1].startswith(("_", "."))
    )
    if not files:
        raise FileNotFoundError(f"partition {path} holds no Parquet file")
    return pa.concat_tables([pq.read_table(f, columns=columns, filesystem=fs) for f in files])


def read_counts(path: str) -> dict[str, int]:
    """The ``_counts.json`` bookkeeping a job left in a partition."""
    fs, root = filesystem(path)
    with fs.open(f"{root}/{COUNTS_FILE}") as fh:
        return json.load(fh)
