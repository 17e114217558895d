"""Day reads and writes of the lake's Delta tables from Spark, without Delta's Spark jars (:mod:`shoplake.io.delta`).

A write: Spark writes the day's Parquet (zstd, TIMESTAMP_MICROS — not INT96, which other engines misread) into a
fresh folder inside the table, ``<table>/ds=<day>/w-<time>-<id>/``; the driver then commits those files through
delta-rs as the day's overwrite, from the table snapshot taken *before* the write (a commit of the day in between is
a conflict, not a silent replace), with per-file statistics read from the footers. Until that commit no reader sees
the files; an aborted write deletes its folder. A read: the day's files from the snapshot's file list
(``DeltaTable.file_uris``, nothing that grows with the data goes through the driver but the list of file names),
read by ``spark.read.parquet``.

Which path Spark's own IO takes, per lake URI (logged once per scheme):

- a local lake: Spark reads and writes the lake directly;
- ``s3://`` / ``gs://`` with a Hadoop FileSystem for the scheme on the classpath (EMRFS on EMR, ``s3a`` from
  hadoop-aws, the GCS connector): Spark reads and writes the bucket directly (``s3://`` mapped to ``s3a://``
  where only S3A is present);
- otherwise (the pyspark wheel ships no hadoop-aws or GCS connector, and local Spark here cannot fetch them):
  *staged* — the day's files are downloaded to local scratch for Spark to read, and Spark writes to local
  scratch whose files are uploaded into the table's folder before the commit. Same data, same commit; the cost is
  the copy, fine for a day of reviews and not for a large table (run those on EMR).
"""

from __future__ import annotations

import atexit
import logging
import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from shoplake.io import delta
from shoplake.io.fs import filesystem, is_local
from shoplake.io.lake import partition_files, spelled_like

if TYPE_CHECKING:
    from pyspark.sql import DataFrame, SparkSession

log = logging.getLogger(__name__)

_SCRATCH: list[str] = []
_DIRECT: dict[str, str | None] = {}


def _scheme(uri: str) -> str:
    return uri.split("://", 1)[0] if "://" in uri else "file"


def _hadoop_scheme(spark: SparkSession, scheme: str) -> str | None:
    """The scheme Spark should use for lake URIs of ``scheme`` (``None``: no Hadoop FileSystem; stage)."""
    if scheme in ("file", "local"):
        return scheme
    if scheme not in _DIRECT:
        jvm = spark.sparkContext._jvm
        conf = spark.sparkContext._jsc.hadoopConfiguration()
        found = None
        for candidate in (scheme, "s3a") if scheme == "s3" else (scheme,):
            try:
                jvm.org.apache.hadoop.fs.FileSystem.getFileSystemClass(candidate, conf)
            except Exception:  # py4j: UnsupportedFileSystemException / ClassNotFoundException
                continue
            found = candidate
            break
        _DIRECT[scheme] = found
        if found:
            log.info("Spark reads and writes %s:// lake paths directly (as %s://)", scheme, found)
        else:
            log.info(
                "no Hadoop FileSystem for %s:// on Spark's classpath: Spark IO is staged through local scratch "
                "(committed versions downloaded, new versions uploaded before the pointer is written)",
                scheme,
            )
    return _DIRECT[scheme]


def _scratch(tag: str) -> str:
    if not _SCRATCH:
        _SCRATCH.append(tempfile.mkdtemp(prefix="shoplake-spark-io-"))
        atexit.register(shutil.rmtree, _SCRATCH[0], True)
    return tempfile.mkdtemp(prefix=f"{tag}-", dir=_SCRATCH[0])


def spark_uri(spark: SparkSession, uri: str) -> str | None:
    """``uri`` as Spark can open it directly, or ``None`` when Spark IO for its scheme is staged."""
    scheme = _scheme(uri)
    mapped = _hadoop_scheme(spark, scheme)
    if mapped is None:
        return None
    return uri if mapped == scheme else mapped + uri[len(scheme) :]


def _readable_files(spark: SparkSession, path: str) -> list[str]:
    """Locations Spark can read the committed files of the day ``path`` from."""
    files = partition_files(path)
    direct = [spark_uri(spark, f) for f in files]
    if all(d is not None for d in direct):
        return direct  # type: ignore[return-value]
    local = _scratch("read")
    out = []
    for i, f in enumerate(files):
        fs, fpath = filesystem(f)
        target = f"{local}/{i:05d}-{fpath.rsplit('/', 1)[-1]}"
        fs.get_file(fpath, target)
        out.append(target)
    return out


def read_parquet(spark: SparkSession, *paths: str) -> DataFrame:
    """The committed rows of one or more days (``<table>/ds=<day>``) as one frame, without the ``ds`` column."""
    if not paths:
        raise ValueError("no partition to read")
    return spark.read.parquet(*(f for p in paths for f in _readable_files(spark, p)))


@dataclass
class StagedPartition:
    """A day Spark has written into its table's folder but not yet committed (see :func:`stage_partition`)."""

    path: str
    rows: int
    readable: str
    files: list[str]
    read_version: int | None
    folder: str

    def commit(self, counts: dict[str, Any] | None = None) -> int:
        """Commit the files as the day's overwrite (``counts`` committed with them); returns the rows."""
        try:
            delta.commit_files(self.path, self.files, counts=counts, read_version=self.read_version)
        except BaseException:
            self.abort()
            raise
        log.info("wrote %s rows to %s", self.rows, self.path)
        return self.rows

    def abort(self) -> None:
        """Delete the uncommitted files (the day stays as it was)."""
        fs, root = filesystem(self.folder)
        if fs.exists(root):
            fs.rm(root, recursive=True)


#: bytes of input per output file, where a write does not fix its file count: Spark's own read split
#: (``spark.sql.files.maxPartitionBytes``' default), so a day read as N tasks is written as about N
TARGET_FILE_BYTES = 128 * 2**20
MAX_FILES = 1000


def input_bytes(df: DataFrame) -> int:
    """The optimizer's size of what ``df``'s plan reads: the sum over its leaves (files scanned — their bytes on
    disk for Parquet and CSV —, cached relations, local data). Not the root's estimate: without cost-based
    statistics Spark estimates a join as the product of its sides (a 10 MB join "is" terabytes)."""
    leaves = df._jdf.queryExecution().optimizedPlan().collectLeaves()
    return sum(int(leaves.apply(i).stats().sizeInBytes()) for i in range(leaves.size()))


def output_files(df: DataFrame, target_bytes: int | None = None) -> int:
    """How many files to write ``df`` as: one per ``target_bytes`` (default :data:`TARGET_FILE_BYTES`) of the bytes
    its plan reads (:func:`input_bytes`), at least 1, at most :data:`MAX_FILES`.

    The write's last stage runs one task per file: with a single file a whole day is one task however many cores
    there are (a Steam day 100 times the sample spent 4.5 of its 8 curate minutes in one task). A day the size of
    the samples stays one file. Without an estimate (not a JVM-backed session): 1.
    """
    try:
        size = input_bytes(df)
    except Exception:  # Spark Connect has no _jdf; an estimate is an optimisation, never a reason to fail
        return 1
    return max(1, min(MAX_FILES, -(-size // (target_bytes or TARGET_FILE_BYTES))))


def stage_partition(
    df: DataFrame, path: str, *, files: int | None = None, sort_by: str | None = None
) -> StagedPartition:
    """Write ``df`` as the uncommitted new content of the day ``path`` (``<table>/ds=<day>``); commit it with the
    returned handle's ``commit(counts)`` once the step's bookkeeping is known (``readable`` reads the files
    meanwhile). The table snapshot the commit checks conflicts against is taken before the write.

    ``files``: how many Parquet files (each sorted by ``sort_by`` where given); None sizes them from what the plan
    reads (:func:`output_files`).

    Raises:
        ValueError: ``df`` has a ``ds`` column (the day is the partition, not a column of the files).
    """
    if delta.PARTITION_COLUMN in df.columns:
        raise ValueError(
            f"{path}: drop the {delta.PARTITION_COLUMN!r} column before writing (the day is the partition)"
        )
    spark = df.sparkSession
    spark.conf.set("spark.sql.parquet.outputTimestampType", "TIMESTAMP_MICROS")
    table, _ = delta.split_partition(path)
    read_version = delta.snapshot_version(table)
    folder = f"{path.rstrip('/')}/{delta.new_write_folder()}"
    if files is None:
        files = output_files(df)
        log.info("writing %s as %s file(s) (one per %s MiB the plan reads)", path, files, TARGET_FILE_BYTES // 2**20)
    out = df.coalesce(files)
    if sort_by:
        out = out.sortWithinPartitions(sort_by)
    direct = spark_uri(spark, folder)
    target = direct if direct is not None else _scratch("write")
    fs, root = filesystem(folder)
    try:
        out.write.mode("overwrite").option("compression", "zstd").parquet(target)
        if direct is None:  # the data files only: not _SUCCESS, nor the local filesystem's hidden .crc files
            for f in sorted(Path(target).iterdir()):
                if f.is_file() and f.name.endswith(".parquet") and not f.name.startswith((".", "_")):
                    fs.put_file(str(f), f"{root}/{f.name}")
        if not is_local(fs):
            fs.invalidate_cache(root)
        names = fs.ls(root, detail=False)
        written = sorted(p for p in names if p.endswith(".parquet") and not p.rsplit("/", 1)[-1].startswith(("_", ".")))
        rows = spark.read.parquet(target).count()
    except BaseException:
        if fs.exists(root):
            fs.rm(root, recursive=True)
        raise
    return StagedPartition(path=path, rows=rows, readable=target, files=[spelled_like(folder, p) for p in written],
                           read_version=read_version, folder=folder)  # fmt: skip


def write_partition(
    df: DataFrame,
    path: str,
    *,
    files: int | None = None,
    sort_by: str | None = None,
    counts: dict[str, Any] | None = None,
) -> int:
    """Write ``df`` as the whole content of the partition ``path`` (committed at once) and return its row count.
    ``sort_by`` makes reruns write identical data."""
    return stage_partition(df, path, files=files, sort_by=sort_by).commit(counts)
