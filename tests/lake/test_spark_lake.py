"""Spark partition writes: how many files a write makes, and that a many-file partition reads back whole and in
order (the pyarrow readers stream a partition's files in name order)."""

from __future__ import annotations

import pytest

from shoplake.io import spark_lake
from shoplake.io.lake import iter_partition_batches, partition_files, read_counts, read_partition

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

    _, files = partition_files(path)
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
    assert len(partition_files(again)[1]) == 1
