"""Two or more writers committing one partition at once (a retry beside a zombie attempt, a backfill beside a manual
run), as threads and as processes, on a local disk and on S3 (moto's server): the partition ends holding one
writer's whole table — never a mix — and every other writer knows it lost (``ConcurrentCommitError`` naming the
version that stands)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
import threading
import time

import pyarrow as pa
import pytest

from shoplake.io import lake
from shoplake.io.lake import ConcurrentCommitError, PartitionWriter, read_counts, read_partition, write_partition

WRITERS = 4


def _table(writer: int) -> pa.Table:
    """Writer ``writer``'s table: its own ids and row count, so a mix of two writers' files is visible."""
    n = 3 + writer
    return pa.table({"id": [writer * 100 + i for i in range(n)], "writer": [writer] * n})


def _versions(path: str) -> set[str]:
    fs, root = lake.filesystem(path)
    fs.invalidate_cache()
    return {e.rstrip("/").rsplit("/", 1)[-1] for e in fs.ls(root, detail=False)} - {lake.POINTER_FILE}


def _assert_one_whole_writer(path: str, outcomes: dict[int, str | ConcurrentCommitError]) -> int:
    """The partition holds exactly one writer's whole table and counts; that writer committed, every other one
    either lost (naming the version that stood when it tried) or committed before it; returns the winner."""
    lake.filesystem(path)[0].invalidate_cache()
    table = read_partition(path)
    writers = set(table["writer"].to_pylist())
    assert len(writers) == 1, f"a mix of writers {writers}"
    winner = writers.pop()
    assert table.sort_by("id").equals(_table(winner)), table.to_pydict()
    assert read_counts(path) == {"writer": winner}
    standing = lake.read_pointer(path)["version"]
    assert outcomes[winner] == standing, outcomes
    for w, outcome in outcomes.items():
        if isinstance(outcome, ConcurrentCommitError):
            assert outcome.other, outcome
            assert outcome.other != outcome.version, outcome
            assert outcome.version not in _versions(path), f"writer {w}'s discarded version is still there"
    return winner


def test_a_write_that_another_commit_overtook_is_discarded_and_names_the_winner(tmp_path):
    path = str(tmp_path / "events" / "ds=2019-03-01")
    write_partition(_table(9), path, counts={"writer": 9})
    slow = PartitionWriter(path, _table(1).schema, counts={"writer": 1}).__enter__()
    slow.write(_table(1))
    write_partition(_table(2), path, counts={"writer": 2})  # commits while the slow write is still running
    with pytest.raises(ConcurrentCommitError) as lost:
        slow.__exit__(None, None, None)
    fast = lake.read_pointer(path)["version"]
    assert lost.value.other == fast
    assert fast in str(lost.value)
    assert lost.value.version in str(lost.value)
    _assert_one_whole_writer(path, {1: lost.value, 2: fast})
    # the fast write's version and the one it replaced; the loser's is gone
    assert len(_versions(path)) == 2
    # the next write (begun after every commit) replaces the partition as usual
    write_partition(_table(3), path, counts={"writer": 3})
    assert _assert_one_whole_writer(path, {3: lake.read_pointer(path)["version"]}) == 3


def _race_threads(path: str, monkeypatch) -> dict[int, str | ConcurrentCommitError]:
    """WRITERS threads write at once; each reads the old pointer slowly, so without the commit lock every one of
    them would see the same old pointer and believe it won."""
    read_pointer = lake.read_pointer

    def slow_read(p):
        got = read_pointer(p)
        time.sleep(0.2)
        return got

    monkeypatch.setattr(lake, "read_pointer", slow_read)
    barrier = threading.Barrier(WRITERS)
    outcomes: dict[int, str | ConcurrentCommitError] = {}

    def run(w: int) -> None:
        out = PartitionWriter(path, _table(w).schema, counts={"writer": w})
        try:
            with out:
                out.write(_table(w))
                barrier.wait(timeout=30)  # every writer has begun before any commits
            outcomes[w] = out._commit.version
        except ConcurrentCommitError as e:
            outcomes[w] = e

    threads = [threading.Thread(target=run, args=(w,)) for w in range(WRITERS)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=120)
    monkeypatch.setattr(lake, "read_pointer", read_pointer)
    assert len(outcomes) == WRITERS, outcomes
    return outcomes


def _one_winner(path: str, outcomes: dict[int, str | ConcurrentCommitError]) -> None:
    winner = _assert_one_whole_writer(path, outcomes)
    losers = {w: o for w, o in outcomes.items() if w != winner}
    # every writer began before the first commit: exactly one wins, each other one lost to the winner's version
    assert all(isinstance(o, ConcurrentCommitError) for o in losers.values()), outcomes
    assert {o.other for o in losers.values()} == {outcomes[winner]}, outcomes


def test_threads_racing_on_a_local_disk_leave_one_whole_writer(tmp_path, monkeypatch):
    path = str(tmp_path / "events" / "ds=2019-03-01")
    write_partition(_table(9), path, counts={"writer": 9})
    _one_winner(path, _race_threads(path, monkeypatch))
    assert not (tmp_path / "events" / "ds=2019-03-01" / lake.LOCK_FILE).exists()


PROCESS_WRITER = textwrap.dedent(
    """
    import json, os, sys, time
    import pyarrow as pa
    from shoplake.io import lake
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
        print(json.dumps({"won": lake.read_pointer(path)["version"]}))
    except ConcurrentCommitError as e:
        print(json.dumps({"lost": e.version, "to": e.other, "message": str(e)}))
    """
)


def _race_processes(path: str, ready_dir) -> dict[int, str | ConcurrentCommitError]:
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
    outcomes: dict[int, str | ConcurrentCommitError] = {}
    for w, p in procs.items():
        out, err = p.communicate(timeout=180)
        assert p.returncode == 0, err[-3000:]
        said = json.loads(out.strip().splitlines()[-1])
        if "won" in said:
            outcomes[w] = said["won"]
        else:
            outcomes[w] = ConcurrentCommitError(path, said["lost"], {"version": said["to"]})
            assert said["to"] in said["message"], said
    return outcomes


def test_processes_racing_on_a_local_disk_leave_one_whole_writer(tmp_path):
    path = str(tmp_path / "events" / "ds=2019-03-01")
    write_partition(_table(9), path, counts={"writer": 9})
    _one_winner(path, _race_processes(path, tmp_path / "ready"))


@pytest.fixture(scope="module")
def s3_root():
    pytest.importorskip("s3fs")
    pytest.importorskip("moto")
    from object_stores import s3_endpoint

    with s3_endpoint("shoplake-races") as bucket:
        yield bucket


@pytest.mark.objectstore
def test_threads_racing_on_s3_leave_one_whole_writer(s3_root, monkeypatch):
    path = f"{s3_root}/lake/curated/events/ds=2019-03-01-threads"
    write_partition(_table(9), path, counts={"writer": 9})
    _one_winner(path, _race_threads(path, monkeypatch))
    assert lake.LOCK_FILE not in _versions(path)


@pytest.mark.objectstore
def test_processes_racing_on_s3_leave_one_whole_writer(s3_root, tmp_path):
    path = f"{s3_root}/lake/curated/events/ds=2019-03-01-processes"
    write_partition(_table(9), path, counts={"writer": 9})
    _one_winner(path, _race_processes(path, tmp_path / "ready"))


@pytest.mark.objectstore
def test_the_s3_lock_is_created_only_if_absent(s3_root):
    """The lock relies on S3's conditional PUT (``If-None-Match: *``): a second create of it must fail."""
    fs, root = lake.filesystem(f"{s3_root}/lake/locks/ds=2019-03-01")
    held = lake._CommitLock(fs, root, "v-one")
    with held:
        with pytest.raises(FileExistsError):
            fs.pipe_file(f"{root}/{lake.LOCK_FILE}", b"{}", mode="create")
        assert json.loads(fs.cat_file(f"{root}/{lake.LOCK_FILE}"))["version"] == "v-one"
    assert not fs.exists(f"{root}/{lake.LOCK_FILE}")


def test_a_dead_writers_lock_is_broken_and_a_live_one_waited_for(tmp_path, monkeypatch, caplog):
    path = str(tmp_path / "events" / "ds=2019-03-01")
    write_partition(_table(9), path, counts={"writer": 9})
    lock = tmp_path / "events" / "ds=2019-03-01" / lake.LOCK_FILE
    # a writer that died mid-commit long ago: its lock is broken (and logged), the write goes through
    lock.write_text(json.dumps({"version": "v-dead", "at": time.time() - lake.LOCK_STALE_S - 1, "host": "gone"}))
    write_partition(_table(1), path, counts={"writer": 1})
    assert "a dead writer" in caplog.text
    assert not lock.exists()
    # a writer on this host killed mid-commit a moment ago: its process is gone, so its lock is broken at once
    gone = subprocess.Popen(["true"])
    gone.wait()
    host = os.uname().nodename
    lock.write_text(json.dumps({"version": "v-killed", "at": time.time(), "host": host, "pid": gone.pid}))
    monkeypatch.setattr(lake, "LOCK_WAIT_S", 5.0)
    write_partition(_table(3), path, counts={"writer": 3})
    assert f"its process {gone.pid} is gone" in caplog.text
    assert _assert_one_whole_writer(path, {3: lake.read_pointer(path)["version"]}) == 3
    # a live holder (this very process): the commit waits, then gives up with a transient error; the partition
    # is untouched
    lock.write_text(json.dumps({"version": "v-live", "at": time.time(), "host": host, "pid": os.getpid()}))
    monkeypatch.setattr(lake, "LOCK_WAIT_S", 0.3)
    with pytest.raises(lake.CommitLockTimeout, match="v-live"):
        write_partition(_table(2), path, counts={"writer": 2})
    assert _assert_one_whole_writer(path, {3: lake.read_pointer(path)["version"]}) == 3


def test_a_live_writers_unsealed_version_survives_another_commit(tmp_path):
    path = str(tmp_path / "events" / "ds=2019-03-01")
    slow = PartitionWriter(path, _table(1).schema, counts={"writer": 1}).__enter__()
    slow.write(_table(1))
    write_partition(_table(2), path, counts={"writer": 2})
    # the other commit's cleanup left the slow writer's files alone (it is still writing)
    assert slow._commit.version in _versions(path)
    assert (tmp_path / "events" / "ds=2019-03-01" / slow._commit.version / lake.PART_FILE).exists()
    with pytest.raises(ConcurrentCommitError):
        slow.__exit__(None, None, None)
    assert slow._commit.version not in _versions(path)


def test_a_lock_taken_over_mid_commit_stops_the_commit_before_its_pointer(tmp_path, monkeypatch):
    """Two writers breaking one dead lock at once can both believe they hold it: the last look before the pointer
    makes the one whose lock was taken over fail (transient: retried) and leaves the partition as it was."""
    path = str(tmp_path / "events" / "ds=2019-03-01")
    write_partition(_table(9), path, counts={"writer": 9})
    before = lake.read_pointer(path)["version"]
    lock = tmp_path / "events" / "ds=2019-03-01" / lake.LOCK_FILE
    write_json = lake.PartitionCommit.write_json

    def sealed_then_taken_over(self, name, obj):
        write_json(self, name, obj)
        if name == lake.SEALED_FILE:  # another writer broke this one's lock and took it
            lock.write_text(json.dumps({"version": "v-other", "at": time.time(), "host": "h", "pid": 1}))

    monkeypatch.setattr(lake.PartitionCommit, "write_json", sealed_then_taken_over)
    with pytest.raises(lake.CommitLockTimeout, match="v-other"):
        write_partition(_table(1), path, counts={"writer": 1})
    assert lake.read_pointer(path)["version"] == before
    assert lock.exists()  # the other writer's lock is left to it


def test_without_hard_links_the_local_lock_falls_back_to_an_exclusive_create(tmp_path, monkeypatch):
    def no_links(*_):
        raise PermissionError("hard links not supported here")

    monkeypatch.setattr(os, "link", no_links)
    (tmp_path / "x").mkdir()
    fs, root = lake.filesystem(str(tmp_path / "x"))
    lake._create_exclusive(fs, f"{root}/lock", b"one")
    with pytest.raises(FileExistsError):
        lake._create_exclusive(fs, f"{root}/lock", b"two")
    assert (tmp_path / "x" / "lock").read_bytes() == b"one"
    assert sorted(p.name for p in (tmp_path / "x").iterdir()) == ["lock"]  # no temporary file left behind
    write_partition(_table(1), str(tmp_path / "p" / "ds=2019-03-01"), counts={"writer": 1})
    assert read_counts(str(tmp_path / "p" / "ds=2019-03-01")) == {"writer": 1}
