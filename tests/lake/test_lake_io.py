"""The pipelines' partition API over Delta tables (``shoplake.io.lake``): a write replaces its day in one commit with
its counts, a failed write leaves the day as it was, an empty day still exists with its columns, and what is read
is the snapshot — never a folder glob."""

import pyarrow as pa
import pyarrow.dataset as pads
import pytest

from shoplake.io import delta, lake
from shoplake.io.lake import (
    PartitionWriter,
    existing_partitions,
    partition_days,
    partition_rows,
    read_counts,
    read_partition,
    write_partition,
)


def _table(ids):
    return pa.table({"id": pa.array(ids, pa.string()), "n": pa.array(range(len(ids)), pa.int64())})


def test_a_rerun_replaces_its_day_and_every_reader_of_the_table_sees_it_once(tmp_path):
    table = tmp_path / "raw" / "x"
    path = str(table / "ds=2019-03-01")
    write_partition(_table(["a", "b", "c"]), path, counts={"in": 3})
    write_partition(_table(["z"]), str(table / "ds=2019-03-02"))
    res = write_partition(_table(["d"]), path, counts={"in": 1})
    assert res.rows == 1
    assert read_partition(path)["id"].to_pylist() == ["d"]
    assert read_counts(path) == {"in": 1}
    assert partition_rows(path) == 1
    assert partition_days(str(table)) == ["2019-03-01", "2019-03-02"]
    # the table as another engine reads it (the snapshot): 2 rows; the folder globbed: the replaced file too
    from deltalake import DeltaTable

    assert DeltaTable(str(table)).to_pyarrow_table().num_rows == 2
    assert pads.dataset(str(table), format="parquet", partitioning="hive").count_rows() == 5


def test_rerun_writes_identical_data(tmp_path):
    path = str(tmp_path / "t" / "ds=2019-03-01")
    rows = _table(["b", "a", "c"])
    write_partition(rows, path, sort_by="id")
    first = read_partition(path)
    write_partition(rows.take([2, 0, 1]), path, sort_by="id")  # same rows, another order
    assert read_partition(path).equals(first)
    assert first.to_pydict() == {"id": ["a", "b", "c"], "n": [1, 0, 2]}


def test_failed_write_keeps_the_old_day_and_leaves_no_file(tmp_path):
    table = tmp_path / "t"
    path = str(table / "ds=2019-03-01")
    write_partition(_table(["a"]), path)
    version = delta.snapshot_version(str(table))

    def failing_step(batches: int) -> None:
        with PartitionWriter(path, _table([]).schema) as writer:
            for _ in range(batches):  # rows already handed to the writer (two batches: a streamed file)…
                writer.write(_table(["b", "c"]))
            raise OSError("disk full")  # …then the step fails

    for batches in (1, 2):
        with pytest.raises(OSError, match="disk full"):
            failing_step(batches)
    assert read_partition(path)["id"].to_pylist() == ["a"]
    assert delta.snapshot_version(str(table)) == version  # nothing committed
    assert len(list((table / "ds=2019-03-01").glob("*.parquet"))) == 1  # and no file of the failed write left


def test_rows_of_another_day_are_refused(tmp_path):
    path = str(tmp_path / "t" / "ds=2019-03-01")
    rows = _table(["a"]).append_column("ds", pa.array(["2019-03-02"]))
    with pytest.raises(ValueError, match=r"rows of ds=\['2019-03-02'\] in a write of ds=2019-03-01"):
        write_partition(rows, path)
    assert partition_days(str(tmp_path / "t")) == []


def test_an_empty_day_exists_and_carries_its_schema(tmp_path):
    path = str(tmp_path / "t" / "ds=2019-03-01")
    write_partition(_table([]), path, counts={"in": 0})
    t = read_partition(path)
    assert t.num_rows == 0
    assert t.schema.names == ["id", "n"]
    assert t.schema.field("n").type == pa.int64()
    assert existing_partitions([path, str(tmp_path / "t" / "ds=2019-03-02")]) == (
        [path], [str(tmp_path / "t" / "ds=2019-03-02")],
    )  # fmt: skip
    assert read_counts(path) == {"in": 0}


def test_reading_a_missing_day_says_so(tmp_path):
    with pytest.raises(FileNotFoundError, match="has its producing task run"):
        read_partition(str(tmp_path / "nope" / "ds=2019-03-01"))
    write_partition(_table(["a"]), str(tmp_path / "t" / "ds=2019-03-01"))
    with pytest.raises(FileNotFoundError, match="has its producing task run"):
        read_partition(str(tmp_path / "t" / "ds=2019-03-02"))
    with pytest.raises(FileNotFoundError, match="written without counts"):
        read_counts(str(tmp_path / "t" / "ds=2019-03-01"))
    with pytest.raises(ValueError, match="not a partition path"):
        write_partition(_table(["a"]), str(tmp_path / "t"))


def test_nanosecond_timestamps_and_fixed_lists_are_stored_as_delta_types(tmp_path):
    table = tmp_path / "t"
    rows = pa.table({
        "at": pa.array([1_700_000_000_123_456_789], pa.timestamp("ns", tz="UTC")),
        "vec": pa.array([[1.0, 2.0]], pa.list_(pa.float32(), 2)),
    })  # fmt: skip
    write_partition(rows, str(table / "ds=2019-03-01"))
    back = read_partition(str(table / "ds=2019-03-01"))
    assert back.schema.field("at").type == pa.timestamp("us", tz="UTC")
    assert back["vec"].to_pylist() == [[1.0, 2.0]]
    write_partition(rows, str(table / "ds=2019-03-02"))  # the same types again: one table schema
    with pytest.raises(ValueError, match="column at is timestamp"):
        write_partition(pa.table({"at": ["not a time"]}), str(table / "ds=2019-03-03"))


def test_a_new_column_extends_the_table_and_older_days_read_it_as_null(tmp_path):
    table = tmp_path / "t"
    write_partition(_table(["a"]), str(table / "ds=2019-03-01"))
    write_partition(_table(["b"]).append_column("extra", pa.array([1.5])), str(table / "ds=2019-03-02"))
    assert read_partition(str(table / "ds=2019-03-01")).to_pylist() == [{"id": "a", "n": 0, "extra": None}]
    assert read_partition(str(table / "ds=2019-03-02"))["extra"].to_pylist() == [1.5]


def test_lake_tables_are_found_under_their_zones(tmp_path):
    write_partition(_table(["a"]), str(tmp_path / "lake" / "raw" / "x" / "ds=2019-03-01"))
    write_partition(_table(["a"]), str(tmp_path / "lake" / "curated" / "x" / "ds=2019-03-01"))
    (tmp_path / "lake" / "model" / "m" / "version=2019-03-01").mkdir(parents=True)
    found = lake.tables_under(str(tmp_path / "lake"))
    assert found == {"curated": [str(tmp_path / "lake/curated/x")], "raw": [str(tmp_path / "lake/raw/x")]}


def test_a_write_of_a_wider_number_type_is_cast_to_the_tables_checked(tmp_path):
    table = tmp_path / "t"
    write_partition(pa.table({"rank": pa.array([1, 2], pa.int32())}), str(table / "ds=2019-03-01"))
    write_partition(pa.table({"rank": pa.array([3], pa.int64())}), str(table / "ds=2019-03-02"))  # pandas' int64
    assert read_partition(str(table / "ds=2019-03-02")).schema.field("rank").type == pa.int32()
    with pytest.raises(pa.ArrowInvalid, match="not in range"):
        write_partition(pa.table({"rank": pa.array([2**40], pa.int64())}), str(table / "ds=2019-03-03"))
    assert partition_days(str(table)) == ["2019-03-01", "2019-03-02"]
