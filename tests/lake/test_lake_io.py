import json

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from shoplake.io import lake
from shoplake.io.lake import read_counts, read_partition, write_partition


def _table(ids):
    return pa.table({"id": pa.array(ids, pa.string()), "n": pa.array(range(len(ids)), pa.int64())})


def test_write_replaces_the_whole_partition(tmp_path):
    path = str(tmp_path / "raw" / "x" / "ds=2019-03-01")
    write_partition(_table(["a", "b", "c"]), path)
    (tmp_path / "raw" / "x" / "ds=2019-03-01" / "stale.parquet").write_bytes(b"junk")
    res = write_partition(_table(["d"]), path, counts={"in": 1})
    assert res.rows == 1
    assert read_partition(path)["id"].to_pylist() == ["d"]
    assert read_counts(path) == {"in": 1}
    # nothing left beside the partition: no temp or old directories
    assert sorted(p.name for p in (tmp_path / "raw" / "x").iterdir()) == ["ds=2019-03-01"]


def test_rerun_writes_identical_data(tmp_path):
    path = str(tmp_path / "ds=2019-03-01")
    rows = _table(["b", "a", "c"])
    write_partition(rows, path, sort_by="id")
    first = read_partition(path)
    write_partition(rows.take([2, 0, 1]), path, sort_by="id")  # same rows, another order
    assert read_partition(path).equals(first)
    assert first.to_pydict() == {"id": ["a", "b", "c"], "n": [1, 0, 2]}


def test_failed_write_keeps_the_old_partition(tmp_path, monkeypatch):
    path = str(tmp_path / "ds=2019-03-01")
    write_partition(_table(["a"]), path)

    def broken(*args, **kwargs):
        raise OSError("disk full")

    monkeypatch.setattr(lake.pq.ParquetWriter, "write_table", broken)
    with pytest.raises(OSError, match="disk full"):
        write_partition(_table(["b"]), path)
    monkeypatch.undo()
    assert read_partition(path)["id"].to_pylist() == ["a"]
    assert [p.name for p in tmp_path.iterdir()] == ["ds=2019-03-01"]


def test_empty_table_still_carries_its_schema(tmp_path):
    path = str(tmp_path / "ds=2019-03-01")
    write_partition(_table([]), path)
    t = read_partition(path)
    assert t.num_rows == 0
    assert t.schema.names == ["id", "n"]
    assert pq.read_schema(tmp_path / "ds=2019-03-01" / lake.PART_FILE).field("n").type == pa.int64()


def test_reading_a_missing_partition_says_so(tmp_path):
    with pytest.raises(FileNotFoundError, match="has its producing task run"):
        read_partition(str(tmp_path / "nope"))
    (tmp_path / "empty").mkdir()
    (tmp_path / "empty" / "_counts.json").write_text(json.dumps({"in": 0}))
    with pytest.raises(FileNotFoundError, match="no Parquet file"):
        read_partition(str(tmp_path / "empty"))
