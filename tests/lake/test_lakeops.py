"""Operating the lake's Delta tables (``shoplake.lakeops``, ``shoplake lake …``): history, restoring a day or a table,
vacuum, compaction, and migrating a lake the previous release wrote in its pointer layout."""

from __future__ import annotations

import datetime as dt
import json
import subprocess
import sys
import types
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

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
    assert code == 2
    assert "argument --version: curated/events has versions 0–" in err
    code, err = _cli(capsys, "--lake-root", lake, "history", "curated/nothing")
    assert code == 2
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
    assert kept == {table: []}  # a dry run names the files (none within the retention)
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


BAD_INPUT = [  # (arguments, the argument the one line names, what it says to give)
    (["history", "nope/nope"], "argument table", "shoplake lake tables"),
    (["history", "curated/events", "--limit", "-3"], "argument --limit", "1 or more"),
    (["history", "curated/events", "--limit", "many"], "argument --limit", "1 or more"),
    (["restore", "nope/nope", "--version", "1"], "argument table", "shoplake lake tables"),
    (["restore", "curated/events", "--version", "999"], "argument --version", "give one of them"),
    (["restore", "curated/events", "--version", "-1"], "argument --version", "0 or more"),
    (["restore", "curated/events", "--version", "1", "--ds", "2019-13-45"], "argument --ds", "YYYY-MM-DD"),
    (["restore", "curated/events", "--version", "1", "--ds", "2019-01-01"], "argument --ds", "holds no file"),
    (["restore", "curated/events"], "--version", "required"),
    (["vacuum", "nope/nope"], "argument table", "shoplake lake tables"),
    (["vacuum", "--retention-hours", "-1"], "argument --retention-hours", "0 or more"),
    (["compact", "nope/nope"], "argument table", "shoplake lake tables"),
    (["compact", "--target-mb", "0"], "argument --target-mb", "1 or more"),
    (["frobnicate"], "argument COMMAND", "invalid choice"),
]


@pytest.mark.parametrize(("args", "names", "says"), BAD_INPUT, ids=[" ".join(a) for a, _, _ in BAD_INPUT])
def test_every_verb_answers_bad_input_with_one_line_naming_the_argument(tmp_path, capsys, args, names, says):
    lake = str(tmp_path / "lake")
    write_partition(pa.table({"id": ["a"]}), f"{lake}/curated/events/ds=2024-01-01")
    code, err = _cli(capsys, "--lake-root", lake, *args)
    assert code == 2
    assert err.count("\n") == 1, err  # one line, no traceback, no usage block
    assert names in err
    assert says in err
    assert "Traceback" not in err


def test_history_says_when_and_which_files_each_commit_changed(tmp_path, capsys):
    lake = str(tmp_path / "lake")
    write_partition(pa.table({"id": ["a", "b"]}), f"{lake}/curated/events/ds=2024-01-01")
    write_partition(pa.table({"id": ["c"]}), f"{lake}/curated/events/ds=2024-01-01")  # replaces the day's file
    code, history = _cli(capsys, "--lake-root", lake, "history", "curated/events")
    assert code == 0
    newest = history[0]
    assert (newest["files_added"], newest["files_removed"]) == (1, 1)
    assert (history[1]["files_added"], history[1]["files_removed"]) == (1, 0)
    assert newest["time"].endswith("+00:00")
    assert dt.datetime.fromisoformat(newest["time"]).year >= 2024


def test_a_dry_run_vacuum_lists_the_files_it_would_delete(tmp_path, capsys):
    lake = str(tmp_path / "lake")
    write_partition(pa.table({"id": ["a"]}), f"{lake}/curated/events/ds=2024-01-01")
    write_partition(pa.table({"id": ["b"]}), f"{lake}/curated/events/ds=2024-01-01")
    code, listed = _cli(capsys, "--lake-root", lake, "vacuum", "curated/events", "--retention-hours", "0", "--dry-run")
    assert code == 0
    [files] = listed.values()
    assert len(files) == 1
    assert files[0].startswith("ds=2024-01-01/")
    assert files[0].endswith(".parquet")
    assert delta.days(f"{lake}/curated/events") == ["2024-01-01"]  # nothing deleted
    assert read_partition(f"{lake}/curated/events/ds=2024-01-01")["id"].to_pylist() == ["b"]


def test_every_verb_has_a_description_and_every_argument_its_help():
    from shoplake.cli import _lake_parser

    _, verbs = _lake_parser("/lake")
    assert set(verbs) == {"tables", "history", "restore", "vacuum", "compact", "migrate"}
    for verb, parser in verbs.items():
        assert parser.description, f"{verb} -h has no description"
        for action in parser._actions:
            assert action.help, f"shoplake lake {verb}: {action.dest} has no help"
