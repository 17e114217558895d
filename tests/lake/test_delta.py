"""Lake tables as Delta tables (``shoplake.io.delta``): one commit replaces one day, its bookkeeping commits with
it, concurrent writers get one winner and a clear error, pyspark-written files commit with their statistics, a
bad run of a day is undone from history, and readers of the snapshot see exactly the committed rows where a
Parquet glob of the folder does not."""

from __future__ import annotations

import json
import subprocess
import sys
import threading

import pyarrow as pa
import pyarrow.dataset as pads
import pytest

from shoplake.io import delta

pytest.importorskip("deltalake")


def _rows(ids, day=None):
    cols = {"id": [str(i) for i in ids], "v": [float(i) for i in ids]}
    if day:
        cols["ds"] = [day] * len(ids)
    return pa.table(cols)


def test_a_rerun_replaces_its_day_in_one_commit_and_only_a_glob_double_counts(tmp_path):
    table = str(tmp_path / "curated" / "events")
    day1, day2 = f"{table}/ds=2024-01-01", f"{table}/ds=2024-01-02"
    assert delta.write_day(day1, _rows(range(3)), counts={"in": 4, "good": 3, "quarantined": 1}) == 3
    delta.write_day(day2, _rows([7]))
    assert delta.write_day(day1, _rows(range(3)), counts={"in": 3, "good": 3, "quarantined": 0}) == 3  # a rerun
    assert delta.days(table) == ["2024-01-01", "2024-01-02"]
    assert sorted(delta.read_day(day1)["id"].to_pylist()) == ["0", "1", "2"]
    assert delta.read_day(day1).schema.names == ["id", "v"]
    assert delta.day_counts(day1) == {"in": 3, "good": 3, "quarantined": 0}  # the latest write's, with its rows
    assert delta.day_counts(day2) is None
    # what every Hive-style reader that globs the folder sees: the replaced file is still there until vacuumed
    assert pads.dataset(table, format="parquet", partitioning="hive").count_rows() == 7
    assert sum(delta.read_day(f"{table}/ds={d}").num_rows for d in delta.days(table)) == 4
    ops = delta.history(table)
    assert [(c["version"], c["operation"], c["ds"], c["rows"]) for c in ops] == [
        (3, "WRITE", "2024-01-01", 3), (2, "WRITE", "2024-01-02", 1), (1, "WRITE", "2024-01-01", 3),
        (0, "CREATE TABLE", None, None),
    ]  # fmt: skip
    assert delta.read_day(f"{table}/ds=2024-02-01").num_rows == 0  # a day the table does not hold: empty


def test_rows_of_another_day_are_refused_and_nothing_is_committed(tmp_path):
    table = str(tmp_path / "t")
    delta.write_day(f"{table}/ds=2024-01-01", _rows([1]))
    with pytest.raises(ValueError, match=r"rows of ds=\['2024-01-04'\] in a write of ds=2024-01-03"):
        delta.write_day(f"{table}/ds=2024-01-03", _rows([1], "2024-01-04"))
    assert delta.days(table) == ["2024-01-01"]
    with pytest.raises(ValueError, match="not a partition path"):
        delta.write_day(table, _rows([1]))


def test_a_stream_of_batches_is_written_with_bounded_memory_and_counted(tmp_path):
    schema = pa.schema([("id", pa.string()), ("v", pa.float64())])
    batches = (_rows(range(i * 100, (i + 1) * 100)).to_batches()[0] for i in range(20))
    path = str(tmp_path / "t" / "ds=2024-01-01")
    assert delta.write_day(path, batches, schema) == 2000
    got = list(delta.iter_day_batches(path, ["id"], 512))
    assert sum(b.num_rows for b in got) == 2000
    assert max(b.num_rows for b in got) <= 512


def test_two_writers_of_one_day_get_one_winner_and_the_loser_names_the_version_that_stands(tmp_path):
    table = str(tmp_path / "t")
    delta.write_day(f"{table}/ds=2024-01-01", _rows([0]))
    barrier, outcomes = threading.Barrier(4), []

    def write(i: int) -> None:
        barrier.wait()
        try:
            delta.write_day(f"{table}/ds=2024-01-02", _rows(range(i * 10, i * 10 + 5)))
            outcomes.append(("won", i))
        except delta.ConcurrentDayWrite as exc:
            outcomes.append(("lost", str(exc)))

    threads = [threading.Thread(target=write, args=(i,)) for i in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    won = [o for o in outcomes if o[0] == "won"]
    assert len(won) >= 1
    for _, message in (o for o in outcomes if o[0] == "lost"):
        assert "another writer committed first (table version" in message
        assert "rerun the task" in message
    rows = delta.read_day(f"{table}/ds=2024-01-02")["id"].to_pylist()
    assert len(rows) == 5  # one writer's rows, whole: never a mix
    assert len({int(r) // 10 for r in rows}) == 1


def test_writers_in_separate_processes_leave_one_whole_day(tmp_path):
    table = str(tmp_path / "t")
    code = (
        "import sys, pyarrow as pa\nfrom shoplake.io import delta\ni = int(sys.argv[1])\n"
        "try:\n    delta.write_day(sys.argv[2] + '/ds=2024-01-01', pa.table({'id': [f'{i}-{k}' for k in range(50)]}))\n"
        "    print('won')\nexcept delta.ConcurrentDayWrite as exc:\n    print('lost', exc)\n"
    )
    procs = [subprocess.Popen([sys.executable, "-c", code, str(i), table], stdout=subprocess.PIPE, text=True)
             for i in range(3)]  # fmt: skip
    said = [p.communicate(timeout=120)[0] for p in procs]
    assert all(s.startswith(("won", "lost")) for s in said), said
    ids = delta.read_day(f"{table}/ds=2024-01-01")["id"].to_pylist()
    assert len(ids) == 50
    assert len({i.split("-")[0] for i in ids}) == 1


def test_files_written_by_another_writer_commit_as_the_days_overwrite_with_statistics(tmp_path):
    import pyarrow.parquet as pq

    table = tmp_path / "t"
    delta.write_day(f"{table}/ds=2024-01-01", _rows([1, 2]))
    delta.write_day(f"{table}/ds=2024-01-02", _rows([3]))
    folder = table / "ds=2024-01-01"
    files = []
    for k, ids in enumerate(([10, 11, None], [12])):
        f = folder / f"part-spark-{k}.zstd.parquet"
        rows = {"id": [None if i is None else str(i) for i in ids], "v": [None if i is None else float(i) for i in ids]}
        pq.write_table(pa.table(rows), f, compression="zstd")
        files.append(str(f))
    schema = pa.schema([("id", pa.string()), ("v", pa.float64())])
    assert delta.commit_files(f"{table}/ds=2024-01-01", files, schema, counts={"in": 4, "good": 4}) == 4
    assert sorted(x for x in delta.read_day(f"{table}/ds=2024-01-01")["id"].to_pylist() if x) == ["10", "11", "12"]
    assert delta.read_day(f"{table}/ds=2024-01-02").num_rows == 1  # the other day untouched
    from deltalake import DeltaTable

    adds = pa.table(DeltaTable(str(table)).get_add_actions(flatten=True)).to_pylist()
    first = next(a for a in adds if a["path"].endswith("part-spark-0.zstd.parquet"))
    assert (first["num_records"], first["null_count.v"], first["min.v"], first["max.v"]) == (3, 1, 10.0, 11.0)
    assert delta.day_counts(f"{table}/ds=2024-01-01") == {"in": 4, "good": 4}
    with pytest.raises(ValueError, match="not inside the table folder"):
        delta.commit_files(f"{table}/ds=2024-01-01", [str(tmp_path / "elsewhere.parquet")], schema)


def test_a_bad_run_of_a_day_is_undone_from_history_and_vacuum_removes_what_no_snapshot_needs(tmp_path):
    table = str(tmp_path / "t")
    good, other = f"{table}/ds=2024-01-01", f"{table}/ds=2024-01-02"
    delta.write_day(good, _rows(range(5)), counts={"in": 5})  # version 1 (0 created the table)
    delta.write_day(other, _rows([9]))  # version 2
    delta.write_day(good, _rows([99]), counts={"in": 1})  # version 3: a bad rerun
    delta.write_day(other, _rows([8, 9]))  # version 4: the other day moves on
    assert delta.restore_day(good, 2) == 5
    assert sorted(delta.read_day(good)["id"].to_pylist()) == ["0", "1", "2", "3", "4"]
    assert sorted(delta.read_day(other)["id"].to_pylist()) == ["8", "9"]  # untouched by the restore
    assert delta.day_counts(good) == {"in": 5, "restored_from_version": 2}  # the counts of the rows restored
    assert delta.day_rows(good) == 5
    stale = delta.vacuum(table, retention_hours=0, dry_run=True)
    assert stale
    assert all("ds=" in f for f in stale)
    delta.vacuum(table, retention_hours=0)
    assert sorted(delta.read_day(good)["id"].to_pylist()) == ["0", "1", "2", "3", "4"]
    assert pads.dataset(table, format="parquet", partitioning="hive").count_rows() == 7  # after vacuum a glob agrees
    with pytest.raises(FileNotFoundError, match="vacuumed"):
        delta.restore_day(good, 3)
    assert json.loads(json.dumps(delta.history(table)))  # JSON-able for the CLI and the Lake page


@pytest.fixture
def s3_process():
    """moto's S3 (in a process of its own: delta-rs blocks in native code); yields ``s3://<bucket>``."""
    from object_stores import s3_endpoint

    with s3_endpoint("lake") as bucket:
        yield bucket


def test_on_s3_a_day_commits_whole_and_concurrent_writers_get_one_winner(s3_process):
    table = f"{s3_process}/curated/events"
    delta.write_day(f"{table}/ds=2024-01-01", _rows([1, 2]), counts={"in": 2})
    delta.write_day(f"{table}/ds=2024-01-01", _rows([3]), counts={"in": 1})
    assert delta.days(table) == ["2024-01-01"]
    assert delta.read_day(f"{table}/ds=2024-01-01")["id"].to_pylist() == ["3"]
    assert delta.day_counts(f"{table}/ds=2024-01-01") == {"in": 1}
    assert all(f.startswith(f"{table}/ds=2024-01-01/") for f in delta.day_files(f"{table}/ds=2024-01-01"))
    barrier, outcomes = threading.Barrier(3), []

    def write(i: int) -> None:
        barrier.wait()
        try:
            delta.write_day(f"{table}/ds=2024-01-02", _rows(range(i * 10, i * 10 + 5)))
            outcomes.append("won")
        except delta.ConcurrentDayWrite as exc:
            outcomes.append(str(exc))

    threads = [threading.Thread(target=write, args=(i,)) for i in range(3)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert outcomes.count("won") >= 1
    assert all("another writer committed first" in o for o in outcomes if o != "won")
    ids = delta.read_day(f"{table}/ds=2024-01-02")["id"].to_pylist()
    assert len(ids) == 5
    assert len({int(i) // 10 for i in ids}) == 1


def test_a_day_of_no_rows_exists_with_its_columns_which_delta_rs_own_writer_does_not_give(tmp_path):
    """Why ``write_day`` still writes a day's Parquet itself (docs/lake.md): delta-rs's ``write_deltalake`` commits
    *no file* for a day of no rows — the day is then absent from the snapshot, a check of that day cannot tell
    "ran, found nothing" from "never ran", and readers get no columns. ``write_day`` commits a zero-row file."""
    from deltalake import DeltaTable, write_deltalake

    theirs, ours = str(tmp_path / "theirs"), str(tmp_path / "ours")
    empty = _rows([], "2024-01-01").cast(pa.schema([("id", pa.string()), ("v", pa.float64()), ("ds", pa.string())]))
    write_deltalake(theirs, _rows([1], "2024-01-02"), partition_by=["ds"])
    write_deltalake(theirs, empty, mode="overwrite", partition_by=["ds"], predicate="ds = '2024-01-01'")
    assert DeltaTable(theirs).version() == 1  # the overwrite committed…
    assert delta.days(theirs) == ["2024-01-02"]  # …without the day
    delta.write_day(f"{ours}/ds=2024-01-02", _rows([1]))
    assert delta.write_day(f"{ours}/ds=2024-01-01", empty) == 0
    assert delta.days(ours) == ["2024-01-01", "2024-01-02"]
    assert delta.read_day(f"{ours}/ds=2024-01-01").schema.names[:2] == ["id", "v"]


def test_a_value_that_does_not_fit_the_tables_column_is_refused_which_delta_rs_own_writer_truncates(tmp_path):
    """Why ``write_day`` casts the rows to the table's types itself (checked) before delta-rs's writer sees them."""
    from deltalake import write_deltalake

    theirs, ours = str(tmp_path / "theirs"), str(tmp_path / "ours")
    ints = pa.table({"n": pa.array([1], pa.int32()), "ds": ["2024-01-01"]})
    halves = pa.table({"n": [1.5], "ds": ["2024-01-02"]})
    write_deltalake(theirs, ints, partition_by=["ds"])
    write_deltalake(theirs, halves, mode="overwrite", partition_by=["ds"], predicate="ds = '2024-01-02'",
                    schema_mode="merge")  # fmt: skip
    assert delta.read_day(f"{theirs}/ds=2024-01-02")["n"].to_pylist() == [1]  # 1.5 became 1, silently
    delta.write_day(f"{ours}/ds=2024-01-01", ints)
    with pytest.raises(pa.ArrowInvalid, match="truncated"):
        delta.write_day(f"{ours}/ds=2024-01-02", halves)
    assert delta.days(ours) == ["2024-01-01"]


def test_a_streamed_day_keeps_its_rows_in_order_which_delta_rs_own_writer_does_not(tmp_path):
    """Why a day streamed in several batches is written as one Parquet file by shoplake (docs/lake.md): delta-rs's
    writer spreads the batches over its threads and writes them back in the order they finish. An enriched day is
    read row for row beside its curated day, and a rerun must write identical rows."""
    import os

    from deltalake import write_deltalake

    ids = [f"id{i:04d}" for i in range(400)]
    rows = pa.table({"id": ids, "ds": ["2024-01-01"] * 400})
    batches = rows.to_batches(max_chunksize=7)
    theirs = str(tmp_path / "theirs")
    write_deltalake(theirs, pa.Table.from_batches(batches), partition_by=["ds"])
    if (os.cpu_count() or 1) > 1:  # one thread would keep the order
        assert delta.read_day(f"{theirs}/ds=2024-01-01")["id"].to_pylist() != ids
    assert delta.write_day(f"{tmp_path}/ours/ds=2024-01-01", iter(batches), rows.schema) == 400
    assert delta.read_day(f"{tmp_path}/ours/ds=2024-01-01")["id"].to_pylist() == ids
    one_table = pa.Table.from_batches(batches).drop_columns(["ds"])  # one table of many chunks
    assert delta.write_day(f"{tmp_path}/ours/ds=2024-01-02", one_table) == 400
    assert delta.read_day(f"{tmp_path}/ours/ds=2024-01-02")["id"].to_pylist() == ids
