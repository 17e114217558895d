"""Two or more writers committing one day of a Delta table at once (a retry beside a zombie attempt, a backfill beside
a manual run), as threads and as processes, on a local disk and on S3 (moto's server, where delta-rs commits with a
conditional PUT): the day ends holding one writer's whole rows and counts — never a mix — and every other writer
fails with ``ConcurrentCommitError`` naming the table version that stands. Writers of different days all commit.
A task that uses deltalake after another did, in the same process, works."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
import threading

import pyarrow as pa
import pytest

from shoplake.io import delta
from shoplake.io.lake import ConcurrentCommitError, PartitionWriter, read_counts, read_partition, write_partition

WRITERS = 4


def _table(writer: int) -> pa.Table:
    """Writer ``writer``'s table: its own ids and row count, so a mix of two writers' files is visible."""
    n = 3 + writer
    return pa.table({"id": [writer * 100 + i for i in range(n)], "writer": [writer] * n})


def _one_winner(path: str, outcomes: dict[int, str]) -> int:
    """The day holds exactly one writer's whole table and counts; that writer said it won, every other one lost
    naming a version at least the one that stands now."""
    table = read_partition(path)
    writers = set(table["writer"].to_pylist())
    assert len(writers) == 1, f"a mix of writers {writers}"
    winner = writers.pop()
    assert table.sort_by("id").equals(_table(winner)), table.to_pydict()
    assert read_counts(path) == {"writer": winner}
    assert outcomes[winner] == "won", outcomes
    for w, outcome in outcomes.items():
        if w != winner:
            assert outcome.startswith("lost"), outcomes
            assert "another writer committed first (table version" in outcome
    return winner


def _race_threads(path: str) -> dict[int, str]:
    """Every writer opens its write (the snapshot it starts from), then all commit at once."""
    barrier = threading.Barrier(WRITERS)
    outcomes: dict[int, str] = {}

    def write(w: int) -> None:
        try:
            with PartitionWriter(path, _table(w).schema, counts={"writer": w}) as out:
                out.write(_table(w))
                barrier.wait(60)
            outcomes[w] = "won"
        except ConcurrentCommitError as e:
            outcomes[w] = f"lost: {e}"

    threads = [threading.Thread(target=write, args=(w,)) for w in range(WRITERS)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(120)
    return outcomes


PROCESS_WRITER = textwrap.dedent(
    """
    import json, os, sys, time
    import pyarrow as pa
    from shoplake.io.lake import ConcurrentCommitError, PartitionWriter

    path, w, ready_dir, n = sys.argv[1], int(sys.argv[2]), sys.argv[3], int(sys.argv[4])
    rows = 3 + w
    table = pa.table({"id": [w * 100 + i for i in range(rows)], "writer": [w] * rows})
    try:
        with PartitionWriter(path, table.schema, counts={"writer": w}) as out:
            out.write(table)
            open(os.path.join(ready_dir, str(w)), "w").close()
            deadline = time.monotonic() + 60
            while len(os.listdir(ready_dir)) < n and time.monotonic() < deadline:  # every writer has begun
                time.sleep(0.01)
        print(json.dumps("won"))
    except ConcurrentCommitError as e:
        print(json.dumps(f"lost: {e}"))
    """
)


def _race_processes(path: str, ready_dir) -> dict[int, str]:
    ready_dir.mkdir()
    procs = {
        w: subprocess.Popen(
            [sys.executable, "-c", PROCESS_WRITER, path, str(w), str(ready_dir), str(WRITERS)],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for w in range(WRITERS)
    }
    outcomes = {}
    for w, p in procs.items():
        out, err = p.communicate(timeout=180)
        assert p.returncode == 0, err[-3000:]
        outcomes[w] = json.loads(out.strip().splitlines()[-1])
    return outcomes


@pytest.mark.parametrize("existing", [True, False], ids=["rerun-of-a-day", "new-day"])
def test_threads_racing_on_a_local_disk_leave_one_whole_writer(tmp_path, existing):
    path = str(tmp_path / "events" / "ds=2019-03-01")
    if existing:
        write_partition(_table(9), path, counts={"writer": 9})
    else:
        write_partition(_table(9), str(tmp_path / "events" / "ds=2019-02-28"))  # the table exists, the day not
    _one_winner(path, _race_threads(path))


def test_processes_racing_on_a_local_disk_leave_one_whole_writer(tmp_path):
    path = str(tmp_path / "events" / "ds=2019-03-01")
    write_partition(_table(9), path, counts={"writer": 9})
    _one_winner(path, _race_processes(path, tmp_path / "ready"))


def test_processes_creating_the_table_race_too(tmp_path):
    path = str(tmp_path / "events" / "ds=2019-03-01")  # no table yet: each writer may create it
    _one_winner(path, _race_processes(path, tmp_path / "ready"))


def test_writers_of_different_days_all_commit(tmp_path):
    table = tmp_path / "events"
    write_partition(_table(9), str(table / "ds=2019-02-28"))
    errors: list[BaseException] = []

    def write(w: int) -> None:
        try:
            write_partition(_table(w), str(table / f"ds=2019-03-0{w + 1}"), counts={"writer": w})
        except BaseException as e:
            errors.append(e)

    threads = [threading.Thread(target=write, args=(w,)) for w in range(WRITERS)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(120)
    assert errors == []
    assert delta.days(str(table)) == ["2019-02-28", *(f"2019-03-0{w + 1}" for w in range(WRITERS))]
    for w in range(WRITERS):
        assert read_counts(str(table / f"ds=2019-03-0{w + 1}")) == {"writer": w}


def test_one_process_uses_deltalake_for_task_after_task(tmp_path):
    """What a Celery worker or a LocalExecutor task process does: several tasks, each using deltalake, one process.
    (A process that *forks* after using deltalake is what must not happen: the executors fork before any task.)"""
    code = textwrap.dedent(
        """
        import sys, pyarrow as pa
        from shoplake.io.lake import read_partition, write_partition
        root = sys.argv[1]
        for day in ("2019-03-01", "2019-03-02", "2019-03-01"):
            write_partition(pa.table({"x": [1, 2]}), f"{root}/t/ds={day}")
            print(read_partition(f"{root}/t/ds={day}").num_rows)
        # how every job ends (run_main): delta-rs's threads can abort Python's teardown (delta-rs#2184)
        from shoplake.jobconfig import exit_process
        exit_process(0)
        """
    )
    out = subprocess.run([sys.executable, "-c", code, str(tmp_path)], capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr[-2000:]
    assert out.stdout.split() == ["2", "2", "2"]


@pytest.fixture(scope="module")
def s3_root():
    pytest.importorskip("s3fs")
    pytest.importorskip("moto")
    from object_stores import s3_endpoint

    with s3_endpoint("shoplake-races") as bucket:
        yield bucket


@pytest.mark.objectstore
def test_threads_racing_on_s3_leave_one_whole_writer(s3_root):
    path = f"{s3_root}/lake/curated/events-threads/ds=2019-03-01"
    write_partition(_table(9), path, counts={"writer": 9})
    _one_winner(path, _race_threads(path))


@pytest.mark.objectstore
def test_processes_racing_on_s3_leave_one_whole_writer(s3_root, tmp_path):
    path = f"{s3_root}/lake/curated/events-processes/ds=2019-03-01"
    write_partition(_table(9), path, counts={"writer": 9})
    _one_winner(path, _race_processes(path, tmp_path / "ready"))  # the writers inherit the endpoint's environment
