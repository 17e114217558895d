import json
from pathlib import Path

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
    assert pq.read_schema(f"{lake.resolve(path)}/{lake.PART_FILE}").field("n").type == pa.int64()


def test_reading_a_missing_partition_says_so(tmp_path):
    with pytest.raises(FileNotFoundError, match="has its producing task run"):
        read_partition(str(tmp_path / "nope"))
    (tmp_path / "empty").mkdir()
    (tmp_path / "empty" / "_counts.json").write_text(json.dumps({"in": 0}))
    with pytest.raises(FileNotFoundError, match="does not exist"):
        read_partition(str(tmp_path / "empty"))
    version = tmp_path / "empty" / "v-1"
    version.mkdir()
    (tmp_path / "empty" / lake.POINTER_FILE).write_text(json.dumps({"version": "v-1"}))
    with pytest.raises(FileNotFoundError, match="no Parquet file"):
        read_partition(str(tmp_path / "empty"))


def test_a_partition_is_versions_and_a_pointer_and_keeps_the_replaced_version(tmp_path):
    part = tmp_path / "ds=2019-03-01"
    versions = []
    for ids in (["a"], ["b"], ["c"]):
        write_partition(_table(ids), str(part), counts={"in": len(ids)})
        versions.append(json.loads((part / lake.POINTER_FILE).read_text())["version"])
    assert len(set(versions)) == 3
    assert all(v.startswith(lake.VERSION_PREFIX) for v in versions)
    # the committed version and the one it replaced (a reader that resolved the old pointer can finish)
    assert sorted(p.name for p in part.iterdir()) == sorted([lake.POINTER_FILE, versions[1], versions[2]])
    assert sorted(p.name for p in (part / versions[2]).iterdir()) == sorted(
        [lake.COUNTS_FILE, lake.PART_FILE, lake.SEALED_FILE]
    )
    assert lake.resolve(str(part)) == f"{part}/{versions[2]}"
    assert read_partition(str(part))["id"].to_pylist() == ["c"]


def test_a_write_killed_before_its_pointer_is_invisible_and_cleaned_by_the_next(tmp_path, monkeypatch):
    root = tmp_path / "x"
    part = root / "ds=2019-03-01"
    write_partition(_table(["a"]), str(part))
    orphan = lake.PartitionCommit(str(part))  # a writer that died after writing its data, before committing
    Path(orphan.fs_version).mkdir()
    pq.write_table(_table(["zzz"]), f"{orphan.fs_version}/{lake.PART_FILE}")
    never = lake.PartitionCommit(str(root / "ds=2019-03-02"))  # and one that never committed a first version
    Path(never.fs_version).mkdir(parents=True)
    pq.write_table(_table(["zzz"]), f"{never.fs_version}/{lake.PART_FILE}")
    assert read_partition(str(part))["id"].to_pylist() == ["a"]
    assert lake.partition_days(str(root)) == ["2019-03-01"]
    assert lake.existing_partitions([str(part), str(root / "ds=2019-03-02")]) == (
        [str(part)],
        [str(root / "ds=2019-03-02")],
    )
    write_partition(_table(["b"]), str(part))
    # changed a moment ago and never sealed: it could be a live writer's, so the commit leaves it
    assert orphan.version in {p.name for p in part.iterdir()}
    monkeypatch.setenv("SHOPLAKE_ORPHAN_AFTER_S", "0")  # nothing in it changed for that long: a dead writer's
    write_partition(_table(["c"]), str(part))
    assert orphan.version not in {p.name for p in part.iterdir()}


def test_partitions_written_before_pointers_are_still_read_then_replaced(tmp_path):
    part = tmp_path / "ds=2019-03-01"
    part.mkdir()
    pq.write_table(_table(["old"]), part / "part-00000-abc.snappy.parquet")
    (part / lake.COUNTS_FILE).write_text(json.dumps({"in": 1}))
    assert lake.resolve(str(part)) == str(part)
    assert read_partition(str(part))["id"].to_pylist() == ["old"]
    assert read_counts(str(part)) == {"in": 1}
    assert lake.partition_days(str(tmp_path)) == ["2019-03-01"]
    write_partition(_table(["new"]), str(part))
    assert read_partition(str(part))["id"].to_pylist() == ["new"]
    assert not [p for p in part.iterdir() if p.name.endswith(".parquet") or p.name == lake.COUNTS_FILE]


def test_a_pointer_that_is_not_one_is_refused(tmp_path):
    (tmp_path / lake.POINTER_FILE).write_text(json.dumps({"version": "../../etc"}))
    with pytest.raises(ValueError, match="not a partition pointer"):
        read_partition(str(tmp_path))
    (tmp_path / lake.POINTER_FILE).write_text("{truncated")
    with pytest.raises(ValueError, match="not a partition pointer"):
        read_partition(str(tmp_path))
