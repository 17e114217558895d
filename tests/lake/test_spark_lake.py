"""Spark partition writes: how many files a write makes, that a many-file day reads back whole and in order (the
snapshot's file order), and that Spark's files commit as a Delta day (micros timestamps, statistics, conflicts
checked against the snapshot from before the write)."""

from __future__ import annotations

from pathlib import Path

import pytest

from shoplake.io import spark_lake
from shoplake.io.lake import (
    ConcurrentCommitError,
    iter_partition_batches,
    partition_files,
    read_counts,
    read_partition,
)

pytestmark = pytest.mark.spark


def test_a_day_the_size_of_the_samples_is_one_file_and_a_big_one_is_split_by_what_it_reads(spark):
    df = spark.range(50_000).selectExpr("id", "repeat('x', 100) AS text")
    size = spark_lake.input_bytes(df)
    assert size == 50_000 * 8  # the optimizer's size of the leaf it reads: 50,000 longs
    assert spark_lake.output_files(df) == 1  # far below TARGET_FILE_BYTES
    assert spark_lake.output_files(df, target_bytes=size // 3 + 1) == 3  # ceil(size / target)
    assert spark_lake.output_files(df, target_bytes=size // 3 - 1) == 4
    assert spark_lake.output_files(df, target_bytes=1) == spark_lake.MAX_FILES

    # a join of two small inputs stays small: the root's own estimate (the product of the sides) would say 6 GB
    small = spark.range(100_000).selectExpr("id", "id % 100 AS k")
    other = spark.range(1_000).selectExpr("id AS k2", "repeat('x', 10) AS t")
    joined = small.join(other, small.k == other.k2).groupBy("k").count()
    assert int(joined._jdf.queryExecution().optimizedPlan().stats().sizeInBytes()) > 2**30
    assert spark_lake.input_bytes(joined) == (100_000 + 1_000) * 8
    assert spark_lake.output_files(joined) == 1


def test_a_partition_written_as_many_files_reads_back_whole_each_file_sorted(spark, tmp_path, monkeypatch):
    rows = 40_000
    df = spark.range(rows).selectExpr("CAST(id * 7919 % 40000 AS STRING) AS key", "id").repartition(4)
    size = spark_lake.input_bytes(df)
    monkeypatch.setattr(spark_lake, "TARGET_FILE_BYTES", size // 3 + 1)  # as a day three times the target would be
    path = str(tmp_path / "lake" / "curated" / "things" / "ds=2026-12-01")
    assert spark_lake.write_partition(df, path, sort_by="key", counts={"rows": rows}) == rows

    files = partition_files(path)
    assert len(files) == 3
    got = read_partition(path)
    assert got.num_rows == rows
    assert sorted(got.column("id").to_pylist()) == list(range(rows))  # every row once
    assert read_counts(path) == {"rows": rows}
    streamed = [k for b in iter_partition_batches(path, ["key"], 4096) for k in b.column("key").to_pylist()]
    assert streamed == got.column("key").to_pylist()  # the same order as a whole read: files in name order
    offset = 0
    for f in files:  # each file sorted by the key
        import pyarrow.parquet as pq

        keys = pq.read_table(f, columns=["key"]).column("key").to_pylist()
        assert keys == sorted(keys)
        assert keys == streamed[offset : offset + len(keys)]
        offset += len(keys)
    assert offset == rows

    # a fixed count still wins
    again = str(tmp_path / "lake" / "curated" / "things" / "ds=2026-12-02")
    spark_lake.write_partition(df, again, files=1, sort_by="key")
    assert len(partition_files(again)) == 1


def test_spark_files_commit_as_a_delta_day_with_micros_timestamps_and_statistics(spark, tmp_path):
    import pyarrow as pa
    import pyarrow.parquet as pq
    from deltalake import DeltaTable

    table = str(tmp_path / "lake" / "curated" / "clicks")
    df = spark.sql("SELECT CAST(id AS STRING) AS k, TIMESTAMP '2026-12-01 10:00:00' + make_interval(0,0,0,0,0,0,id) "
                   "AS at FROM range(100)")  # fmt: skip
    path = f"{table}/ds=2026-12-01"
    assert spark_lake.write_partition(df, path, files=2) == 100
    for f in partition_files(path):  # TIMESTAMP_MICROS, not INT96, which other engines misread
        assert pq.ParquetFile(f).schema.column(1).physical_type == "INT64"
        assert pq.ParquetFile(f).schema_arrow.field("at").type == pa.timestamp("us", tz="UTC")
    adds = pa.table(DeltaTable(table).get_add_actions(flatten=True)).to_pylist()
    assert sum(a["num_records"] for a in adds) == 100
    assert all(a["min.at"] is not None and a["null_count.k"] == 0 for a in adds)  # engines can skip files

    # the snapshot a commit checks against is the one before Spark wrote: a commit of the day in between wins
    staged = spark_lake.stage_partition(df.limit(3), path, files=1)
    spark_lake.write_partition(df.limit(5), path, files=1)
    with pytest.raises(ConcurrentCommitError, match="another writer committed first"):
        staged.commit({"rows": 3})
    assert read_partition(path).num_rows == 5
    assert not Path(staged.folder).exists()  # the losing write's files are gone
    with pytest.raises(ValueError, match="drop the 'ds' column"):
        spark_lake.stage_partition(df.selectExpr("k", "'2026-12-01' AS ds"), path)
