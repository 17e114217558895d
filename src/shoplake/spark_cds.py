"""A class-data-sharing (CDS) archive for the local Spark driver's JVM: most of a small day's Spark time is the JVM
loading and verifying Spark's classes, which the archive maps in ready-made instead.

Measured on the 2-core dev machine (``bench/daily_run_scaling.py``: the curate job through ``spark-submit``, wall
time): 1,000 reviews 12.2 s → 7.9 s, 100,000 reviews 27.4 s → 23.4 s, together with the serial collector (which
alone took a 1,000-review session start + curate step from 12.1 to 9.7 s: on two cores the parallel collectors'
threads cost more than they save).

:func:`build_archive` runs a representative Spark job (Parquet with zstd, regular expressions, a window
de-duplication, a join, an aggregation, a sort) in a fresh driver JVM that dumps the classes it loaded at exit
(``-XX:ArchiveClassesAtExit``); :func:`driver_java_options` names the archive for every later driver. A missing or
stale archive (another Java or Spark version) is ignored by the JVM, which then starts as before: it never fails a
job. ``make install`` builds it (``scripts/spark_cds.py``).
"""

from __future__ import annotations

import logging
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

log = logging.getLogger(__name__)

#: the local driver's collector: one heap, two cores, short jobs
GC_OPTION = "-XX:+UseSerialGC"


def driver_java_options(archive: str) -> str:
    """``spark.driver.extraJavaOptions`` of the local backend: the serial collector and the CDS archive."""
    return f"{GC_OPTION} -XX:SharedArchiveFile={archive}" if archive else GC_OPTION


def _representative_job(scratch: str) -> None:
    """Runs in the child process: the kinds of work the curate / feature jobs do, on a few rows."""
    from pyspark.sql import SparkSession, Window
    from pyspark.sql import functions as F

    spark = SparkSession.builder.master("local[2]").appName("shoplake-spark-cds").getOrCreate()
    rows = [(i, f"Review <b>{i}</b>  great!", i % 7, 1_550_000_000 + i, "english" if i % 2 else "german")
            for i in range(200)]  # fmt: skip
    df = spark.createDataFrame(rows, "id long, review string, appid int, ts long, language string")
    df = df.withColumn("text", F.trim(F.regexp_replace(F.regexp_replace("review", "<[^>]+>", " "), r"\s+", " ")))
    df = df.withColumn("created", F.timestamp_seconds("ts")).withColumn("chars", F.length("text"))
    latest = Window.partitionBy("appid", "language").orderBy(F.col("ts").desc())
    df = df.withColumn("rank", F.row_number().over(latest))
    path = f"{scratch}/data"
    df.sortWithinPartitions("id").coalesce(1).write.mode("overwrite").option("compression", "zstd").parquet(path)
    back = spark.read.parquet(path)
    stats = back.groupBy("appid").agg(F.count("*").alias("n"), F.avg("chars").alias("chars"))
    back.join(stats, "appid").filter(F.col("rank") == 1).orderBy("id").collect()
    back.count()
    spark.stop()


def build_archive(archive: str) -> dict[str, float]:
    """Write the archive to ``archive`` (replaced whole: a driver starting meanwhile maps the old one or none).

    Returns ``{"bytes", "seconds"}``.

    Raises:
        RuntimeError: the representative job failed (its stderr tail in the message).
    """
    target = Path(archive)
    target.parent.mkdir(parents=True, exist_ok=True)
    started = time.monotonic()
    with tempfile.TemporaryDirectory(dir=target.parent) as tmp:
        dump, job = Path(tmp) / "spark.jsa", Path(tmp) / "job.py"
        job.write_text(f"from shoplake.spark_cds import _representative_job\n_representative_job({tmp!r})\n")
        here = Path(sys.executable).parent / "spark-submit"
        cmd = [str(here) if here.exists() else "spark-submit", "--master", "local[2]",
               "--driver-java-options", f"{GC_OPTION} -XX:ArchiveClassesAtExit={dump}",
               "--conf", "spark.ui.enabled=false", "--conf", "spark.driver.host=127.0.0.1", str(job)]  # fmt: skip
        env = {**os.environ, "SPARK_LOCAL_IP": "127.0.0.1", "PYSPARK_PYTHON": sys.executable,
               "PYSPARK_DRIVER_PYTHON": sys.executable}  # fmt: skip
        # spark-submit is the driver JVM itself: it has written the archive when it exits
        done = subprocess.run(cmd, env=env, capture_output=True, text=True, check=False)
        if done.returncode or not dump.exists():
            raise RuntimeError(f"the Spark CDS job failed (exit {done.returncode}): {done.stderr[-2000:]}")
        dump.replace(target)
    result = {"bytes": float(target.stat().st_size), "seconds": round(time.monotonic() - started, 1)}
    log.info("Spark CDS archive %s: %.0f MB in %.1f s", target, result["bytes"] / 1e6, result["seconds"])
    return result
