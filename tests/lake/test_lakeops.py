"""Operating the lake's Delta tables (``shoplake.lakeops``, ``shoplake lake …``): history, restoring a day or a table,
vacuum, compaction, and migrating a lake the previous release wrote in its pointer layout."""

from __future__ import annotations

import json
import subprocess
import sys
import types
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

from shoplake.cli import main
from shoplake.io import delta
from shoplake.io.lake import read_counts, read_partition, write_partition

REPO = Path(__file__).resolve().parents[2]
#: the last commit whose lake was the pointer layout (``ds=…/_current.json`` over ``v-…/`` folders)
POINTER_RELEASE = "639ba2d"


def _cli(capsys, *args: str) -> tuple[int, object]:
    code = main(["lake", *args])
    out = capsys.readouterr()
    return code, (json.loads(out.out) if code == 0 else out.err)


def test_history_and_restore_of_a_day_and_of_a_table_through_the_cli(tmp_path, capsys):
    lake = str(tmp_path / "lake")
    day = f"{lake}/curated/events/ds=2024-01-01"
    other = f"{lake}/curated/events/ds=2024-01-02"
    write_partition(pa.table({"id": ["a", "b", "c"]}), day, counts={"in": 3})  # version 1
    write_partition(pa.table({"id": ["x"]}), other)  # version 2
    write_partition(pa.table({"id": ["bad"]}), day, counts={"in": 1})  # version 3: a bad run
    write_partition(pa.table({"id": ["x", "y"]}), other)  # version 4

    code, history = _cli(capsys, "--lake-root", lake, "history", "curated/events", "--limit", "3")
    assert code == 0
    assert [(c["version"], c["ds"], c["rows"]) for c in history] == [
        (4, "2024-01-02", 2), (3, "2024-01-01", 1), (2, "2024-01-02", 1),
    ]  # fmt: skip
    code, restored = _cli(capsys, "--lake-root", lake, "restore", "curated/events", "--version", "2", "--ds",
                          "2024-01-01")  # fmt: skip
    assert code == 0
    assert restored["rows"] == 3
    assert sorted(read_partition(day)["id"].to_pylist()) == ["a", "b", "c"]
    assert read_counts(day) == {"in": 3, "restored_from_version": 2}
    assert read_partition(other)["id"].to_pylist() == ["x", "y"]  # the later run of another day stands

    code, _ = _cli(capsys, "--lake-root", lake, "restore", "curated/events", "--version", "1")  # the whole table
    assert code == 0
    assert delta.days(f"{lake}/curated/events") == ["2024-01-01"]

    code, err = _cli(capsys, "--lake-root", lake, "restore", "curated/events", "--version", "99")
    assert code == 1
    assert "there is no version 99" in err
    code, err = _cli(capsys, "--lake-root", lake, "history", "curated/nothing")
    assert code == 1
    assert "no Delta table" in err
    code, tables = _cli(capsys, "--lake-root", lake, "tables")
    assert tables == [f"{lake}/curated/events"]


def test_vacuum_keeps_what_the_retention_needs_and_compaction_changes_no_row(tmp_path, capsys):
    lake = str(tmp_path / "lake")
    table = f"{lake}/raw/events"
    for i in range(3):  # three runs of one day: two replaced files
        write_partition(pa.table({"id": [f"{i}-{k}" for k in range(10)]}), f"{table}/ds=2024-01-01")
    (tmp_path / "lake/raw/events/ds=2024-01-01/part-of-a-dead-writer.zstd.parquet").write_bytes(b"never committed")
    _, kept = _cli(capsys, "--lake-root", lake, "vacuum", "--dry-run")  # default: 7 days' retention
    assert kept == {table: 0}
    _, gone = _cli(capsys, "--lake-root", lake, "vacuum", "--retention-hours", "0", "--full")
    assert gone == {table: 3}
    assert len(list((tmp_path / "lake/raw/events/ds=2024-01-01").glob("*.parquet"))) == 1
    assert read_partition(f"{table}/ds=2024-01-01").num_rows == 10

    delta.commit_files(f"{table}/ds=2024-01-02", _small_files(tmp_path / "lake/raw/events/ds=2024-01-02", 4))
    before = sorted(read_partition(f"{table}/ds=2024-01-02")["id"].to_pylist())
    _code, compacted = _cli(capsys, "--lake-root", lake, "compact", "raw/events")
    assert compacted[table]["numFilesRemoved"] == 4
    assert len(delta.day_files(f"{table}/ds=2024-01-02")) == 1
    assert sorted(read_partition(f"{table}/ds=2024-01-02")["id"].to_pylist()) == before
    assert [c["operation"] for c in delta.history(table, 1)] == ["OPTIMIZE"]


def _small_files(folder: Path, n: int) -> list[str]:
    folder.mkdir(parents=True, exist_ok=True)
    files = []
    for i in range(n):
        f = folder / f"part-small-{i}.zstd.parquet"
        pq.write_table(pa.table({"id": [f"s{i}-{k}" for k in range(5)]}), f, compression="zstd")
        files.append(str(f))
    return files


def _previous_release(tmp_path: Path) -> types.ModuleType:
    """``shoplake.io.lake`` as the previous release shipped it (its source from git history), importable alone."""
    source = subprocess.run(["git", "-C", str(REPO), "show", f"{POINTER_RELEASE}:src/shoplake/io/lake.py"],
                            capture_output=True, text=True)  # fmt: skip
    assert source.returncode == 0, (
        f"the repository's history lacks {POINTER_RELEASE} (a shallow clone?): {source.stderr}"
    )
    path = tmp_path / "previous_release_lake.py"
    path.write_text(source.stdout)
    sys.path.insert(0, str(tmp_path))
    try:
        import previous_release_lake

        return previous_release_lake
    finally:
        sys.path.remove(str(tmp_path))
        sys.modules.pop("previous_release_lake", None)


def test_a_lake_written_by_the_previous_release_migrates_in_place_once(tmp_path, capsys):
    old = _previous_release(tmp_path)
    lake = tmp_path / "lake"
    day1, day2 = f"{lake}/curated/events/ds=2024-01-01", f"{lake}/curated/events/ds=2024-01-02"
    old.write_partition(pa.table({"id": ["a", "b"]}), day1, counts={"in": 3, "quarantined": 1})
    old.write_partition(pa.table({"id": ["c", "d", "e"]}), day1, counts={"in": 3, "quarantined": 0})  # a rerun
    old.write_partition(pa.table({"id": ["f"]}), day2, counts={"in": 1})
    # what the previous release's Spark jobs left: INT96 timestamps, several files in one version
    with old.PartitionCommit(f"{lake}/enriched/clicks/ds=2024-01-01") as commit:
        Path(commit.fs_version).mkdir(parents=True)
        at = pa.array([1_700_000_000_000_000], pa.timestamp("us", tz="UTC"))
        for i in range(2):
            pq.write_table(pa.table({"k": [str(i)], "at": at}), f"{commit.fs_version}/part-0000{i}.snappy.parquet",
                           use_deprecated_int96_timestamps=True)  # fmt: skip
        commit.commit({"rows": 2})
    data_files = sorted(p for p in lake.rglob("*.parquet"))

    code, report = _cli(capsys, "--lake-root", str(lake), "migrate")
    assert code == 0
    events = report[f"{lake}/curated/events"]
    assert (events["days"], events["rewritten_files"]) == (["2024-01-01", "2024-01-02"], 0)
    assert report[f"{lake}/enriched/clicks"]["rewritten_files"] == 2  # INT96 cannot join a Delta table as it is
    assert sorted(read_partition(day1)["id"].to_pylist()) == ["c", "d", "e"]  # the committed version, not the replaced
    assert read_counts(day1) == {"in": 3, "quarantined": 0, "migrated_from": "pointer layout"}
    clicks = read_partition(f"{lake}/enriched/clicks/ds=2024-01-01")
    assert clicks.schema.field("at").type == pa.timestamp("us", tz="UTC")
    assert clicks["at"].to_pylist() == [at[0].as_py()] * 2
    assert all(f.exists() for f in data_files)  # nothing moved or deleted: the data stays where it was
    assert not list(lake.rglob("_current.json"))  # nothing reads the pointers any more

    code, again = _cli(capsys, "--lake-root", str(lake), "migrate")  # idempotent
    assert again[f"{lake}/curated/events"] == {"days": [], "skipped": ["2024-01-01", "2024-01-02"],
                                               "rewritten_files": 0}  # fmt: skip
    assert delta.snapshot_version(f"{lake}/curated/events") == 2  # created, then one commit per day; no more
