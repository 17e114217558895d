"""Partition writes from Spark: temp directory, then swap, through Hadoop's FileSystem (local, s3a, EMRFS, gs)."""

from __future__ import annotations

import json
import logging
from typing import TYPE_CHECKING

from shoplake.paths import hidden_sibling

if TYPE_CHECKING:
    from pyspark.sql import DataFrame, SparkSession

log = logging.getLogger(__name__)


def _hadoop_fs(spark: SparkSession, path: str):
    jvm = spark.sparkContext._jvm
    hpath = jvm.org.apache.hadoop.fs.Path(path)
    return hpath.getFileSystem(spark.sparkContext._jsc.hadoopConfiguration()), hpath, jvm


def write_partition(df: DataFrame, path: str, *, files: int = 1, sort_by: str | None = None) -> int:
    """Write ``df`` as the whole content of the partition ``path`` and return its row count.

    The frame is written to a hidden sibling (``.<name>.tmp-<id>``); then the old partition is moved aside, the new
    one renamed in, and the old removed. ``sort_by`` makes reruns write identical data.
    """
    spark = df.sparkSession
    tmp = hidden_sibling(path, "tmp")
    out = df.coalesce(files)
    if sort_by:
        out = out.sortWithinPartitions(sort_by)
    fs, tmp_path, jvm = _hadoop_fs(spark, tmp)
    try:
        out.write.mode("overwrite").option("compression", "zstd").parquet(tmp)
    except Exception:
        fs.delete(tmp_path, True)
        raise
    final = jvm.org.apache.hadoop.fs.Path(path)
    old = jvm.org.apache.hadoop.fs.Path(hidden_sibling(path, "old"))
    had_old = fs.exists(final)
    if had_old and not fs.rename(final, old):
        raise OSError(f"could not move {path} aside")
    fs.mkdirs(final.getParent())
    if not fs.rename(tmp_path, final):
        raise OSError(f"could not rename {tmp} to {path}")
    if had_old:
        fs.delete(old, True)
    # counted where readers see it: Spark ignores hidden (dot) paths and warns "All paths were ignored" on the temp
    rows = spark.read.parquet(path).count()
    log.info("wrote %s rows to %s", rows, path)
    return rows


def write_json(spark: SparkSession, path: str, obj: dict) -> None:
    """Write a small JSON document (bookkeeping such as ``_counts.json``) through Hadoop's FileSystem."""
    fs, target, _ = _hadoop_fs(spark, path)
    stream = fs.create(target, True)
    try:
        stream.write(bytearray(json.dumps(obj, sort_keys=True).encode()))
    finally:
        stream.close()
