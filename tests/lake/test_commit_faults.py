"""Commits under fault injection, against the S3 endpoint (moto's server).

A writer process replacing a day of a Delta table is killed with SIGKILL at each step in turn — before delta-rs
creates the table, before its write (data file and commit are one native call, ``write_deltalake``), at instants
spread over that call by a timer (the data file's upload, the log's conditional PUT), and right after it — and
after each kill a reader checks what the day holds: the whole old rows with their counts, or the whole new ones
with theirs — never a mix, never nothing when there was a day before. The same for a model version (a file commit,
pointer last, its S3 requests counted through s3fs) and the published results.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import textwrap

import pyarrow as pa
import pytest

# slow: a writer process per kill point (about 50 s in all), so out of `make test-fast`; `make test` runs it
pytestmark = [pytest.mark.objectstore, pytest.mark.slow]

pytest.importorskip("s3fs")
pytest.importorskip("moto")

OLD = pa.table({"id": [1, 2, 3], "v": ["old-a", "old-b", "old-c"]})
NEW = pa.table({"id": [4, 5], "v": ["new-d", "new-e"]})

#: every writer below starts with this: each S3 write request is counted, and the process SIGKILLs itself just
#: before request number ``kill_at`` (0: never); the requests it made are printed last
KILLER = textwrap.dedent(
    """
    import json, os, signal, sys

    import pyarrow as pa
    import s3fs
    from fsspec.asyn import sync_wrapper

    path, kill_at = sys.argv[1], int(sys.argv[2])
    WRITES = {"put_object", "create_multipart_upload", "upload_part", "complete_multipart_upload",
              "copy_object", "upload_part_copy", "delete_object", "delete_objects"}
    calls = []
    call_s3 = s3fs.S3FileSystem._call_s3

    async def counted(self, method, *args, **kwargs):
        if method in WRITES:
            calls.append(method + " " + str(kwargs.get("Key", "")))
            if len(calls) == kill_at:
                os.kill(os.getpid(), signal.SIGKILL)  # the writer dies before this request is sent
        return await call_s3(self, method, *args, **kwargs)

    s3fs.S3FileSystem._call_s3 = counted
    s3fs.S3FileSystem.call_s3 = sync_wrapper(counted)  # what S3File's uploads call
    """
)
#: the Delta steps of a write: delta-rs's own requests are native code, so the process dies just before (or, with
#: KILL_DURING_WRITE_MS, a timer kills it that long after the start of) the Python call that makes them
DELTA_KILLER = textwrap.dedent(
    """
    import threading, time
    import deltalake
    from deltalake import DeltaTable

    def killing(name, call):
        def wrapped(*args, **kwargs):
            calls.append(name)
            if len(calls) == kill_at:
                os.kill(os.getpid(), signal.SIGKILL)
            during = os.environ.get("KILL_DURING_WRITE_MS")
            if during and name == "delta write":
                threading.Timer(float(during) / 1000, os.kill, (os.getpid(), signal.SIGKILL)).start()
            started = time.monotonic()
            out = call(*args, **kwargs)
            if name == "delta write":
                calls.append("after write")
                print("write took", time.monotonic() - started, file=sys.stderr)
                if len(calls) == kill_at:
                    os.kill(os.getpid(), signal.SIGKILL)
            return out
        return wrapped

    DeltaTable.create = staticmethod(killing("delta create", DeltaTable.create))
    deltalake.write_deltalake = killing("delta write", deltalake.write_deltalake)
    """
)
WRITER = (
    KILLER
    + DELTA_KILLER
    + textwrap.dedent(
        """
    from shoplake.io.lake import write_partition

    write_partition(pa.table({"id": [5, 4], "v": ["new-e", "new-d"]}), path, counts={"rows": 2}, sort_by="id")
    time.sleep(float(os.environ.get("KILL_DURING_WRITE_MS") or 0) / 1000 + 0.2)  # a late timer still fires
    print(json.dumps(calls))
    """
    )
)


@pytest.fixture(scope="module")
def s3_root():
    from object_stores import s3_endpoint

    with s3_endpoint("shoplake-faults") as bucket:
        yield bucket


def _reset(path: str, *, with_old: bool) -> None:
    """The table before the writer runs: none, or the old rows committed twice for the day."""
    from shoplake.io.delta import split_partition
    from shoplake.io.lake import filesystem, write_partition

    fs, root = filesystem(split_partition(path)[0])
    if fs.exists(root):
        fs.rm(root, recursive=True)
    fs.invalidate_cache()
    if with_old:
        write_partition(OLD, path, counts={"rows": 3})
        write_partition(OLD, path, counts={"rows": 3})


def _run_writer(path: str, kill_at: int, code: str = WRITER, env: dict[str, str] | None = None):
    return subprocess.run([sys.executable, "-c", code, path, str(kill_at)], capture_output=True, text=True,
                          timeout=120, env={**os.environ, **(env or {})})  # fmt: skip


def _seen(path: str) -> str:
    """What a reader sees: "old", "new" or "missing" (anything else fails the test)."""
    from shoplake.io.lake import read_counts, read_partition

    try:
        table = read_partition(path)
    except FileNotFoundError as e:
        if "does not exist" not in str(e):
            raise
        return "missing"
    counts = read_counts(path)
    if table.equals(OLD) and counts == {"rows": 3}:
        return "old"
    if table.equals(NEW) and counts == {"rows": 2}:
        return "new"
    raise AssertionError(f"a reader saw a mix: {table.to_pydict()} with counts {counts}")


@pytest.mark.parametrize("with_old", [True, False], ids=["replace", "first-write"])
def test_a_writer_killed_at_any_step_leaves_the_old_or_the_new_day(s3_root, with_old):
    from shoplake.io import delta

    path = f"{s3_root}/lake/curated/events-{'replace' if with_old else 'first'}/ds=2024-02-29"
    table = delta.split_partition(path)[0]
    _reset(path, with_old=with_old)
    clean = _run_writer(path, 0)
    assert clean.returncode == 0, clean.stderr[-2000:]
    steps = json.loads(clean.stdout.strip().splitlines()[-1])
    assert steps[-2:] == ["delta write", "after write"], steps
    assert ("delta create" in steps) is not with_old, steps
    took = float(re.search(r"write took ([0-9.]+)", clean.stderr)[1])

    seen = []
    for kill_at in range(1, len(steps) + 1):
        _reset(path, with_old=with_old)
        killed = _run_writer(path, kill_at)
        assert killed.returncode == -9, (kill_at, killed.returncode, killed.stderr[-2000:])
        seen.append(_seen(path))
    before = "old" if with_old else "missing"
    # killed before the write: the day as it was; after it: the new rows, whole
    assert seen == [before] * (len(steps) - 1) + ["new"], list(zip(steps, seen, strict=True))

    # killed while delta-rs writes the data file or commits it: whichever side of the log's conditional PUT, never
    # a mix; what a killed writer left in the folder is in no commit, and a full vacuum removes it without touching
    # the day
    during = []
    for share in (0.1, 0.3, 0.5, 0.7, 0.9, 1.0):
        _reset(path, with_old=with_old)
        killed = _run_writer(path, 0, env={"KILL_DURING_WRITE_MS": f"{max(1.0, share * took * 1000):.0f}"})
        assert killed.returncode == -9, (share, killed.returncode, killed.stderr[-2000:])
        during.append(_seen(path))
        delta.vacuum(table, 0, full=True)
        assert _seen(path) == during[-1]
    assert set(during) <= {before, "new"}, during
    assert _run_writer(path, 0).returncode == 0
    assert _seen(path) == "new"


# ---- model versions and their champion pointer --------------------------------------------------------------------

#: publishes model "m" into the lake at argv[1]: a rerun of the champion's own day with new files (the version is
#: replaced and current.json re-written) — what swap_in's copy + delete used to leave half-copied on S3
MODEL_WRITER = KILLER + textwrap.dedent(
    """
    import pathlib, tempfile
    from shoplake.ml.publishing import Gate, publish_model_version

    local = pathlib.Path(tempfile.mkdtemp())
    (local / "model.bin").write_bytes(b"new" * 1000)
    publish_model_version(lake_root=path, name="m", ds="2024-02-29", gate=Gate("auc", 0.9), metrics={"gen": "new"},
                          config={}, local_dir=local)
    print(json.dumps(calls))
    """
)


def _reset_model(lake: str, *, with_old: bool, tmp_path) -> None:
    """The model before the writer runs: none, or the old model published twice for the day (champion)."""
    from shoplake.io.lake import filesystem
    from shoplake.ml.publishing import Gate, publish_model_version

    fs, root = filesystem(f"{lake}/model")
    if fs.exists(root):
        fs.rm(root, recursive=True)
    fs.invalidate_cache()
    if with_old:
        local = tmp_path / "old-model"
        local.mkdir(exist_ok=True)
        (local / "model.bin").write_bytes(b"old" * 500)
        for _ in range(2):
            publish_model_version(lake_root=lake, name="m", ds="2024-02-29", gate=Gate("auc", 0.5),
                                  metrics={"gen": "old"}, config={}, local_dir=local)  # fmt: skip


def _seen_model(lake: str) -> str:
    """What a scoring job sees through current.json: "old", "new" or "missing" (a mix fails the test)."""
    from shoplake.io.lake import filesystem
    from shoplake.ml.registry import read_current

    filesystem(lake)[0].invalidate_cache()
    current = read_current(lake, "m")
    if current is None:
        return "missing"
    fs, root = filesystem(current["path"])
    metrics, blob = json.loads(fs.cat(f"{root}/metrics.json")), fs.cat(f"{root}/model.bin")
    if (metrics["gen"], blob, current["auc"]) == ("old", b"old" * 500, 0.5):
        return "old"
    if (metrics["gen"], blob, current["auc"]) == ("new", b"new" * 1000, 0.9):
        return "new"
    raise AssertionError(f"a reader saw a mix: {metrics}, {blob[:6]!r}…, pointer {current}")


@pytest.mark.parametrize("with_old", [True, False], ids=["rerun-of-the-champion", "first-model"])
def test_a_model_publish_killed_at_any_step_leaves_the_old_or_the_new_model(s3_root, with_old, tmp_path):
    lake = f"{s3_root}/models-{'rerun' if with_old else 'first'}"
    _reset_model(lake, with_old=with_old, tmp_path=tmp_path)
    clean = _run_writer(lake, 0, MODEL_WRITER)
    assert clean.returncode == 0, clean.stderr[-2000:]
    steps = json.loads(clean.stdout.strip().splitlines()[-1])
    assert steps[-1].endswith("model/m/current.json"), steps  # the champion pointer is the last write

    seen = []
    for kill_at in range(1, len(steps) + 1):
        _reset_model(lake, with_old=with_old, tmp_path=tmp_path)
        killed = _run_writer(lake, kill_at, MODEL_WRITER)
        assert killed.returncode == -9, (kill_at, killed.returncode, killed.stderr[-2000:])
        seen.append(_seen_model(lake))
    before = "old" if with_old else "missing"
    # every kill up to and including the champion pointer's PUT leaves the model as it was; it is the last step
    assert seen == [before] * len(steps), list(zip(steps, seen, strict=True))
    _reset_model(lake, with_old=with_old, tmp_path=tmp_path)
    assert _run_writer(lake, 0, MODEL_WRITER).returncode == 0
    assert _seen_model(lake) == "new"


# ---- published results --------------------------------------------------------------------------------------------

#: publishes the product-review sentiment results of one day (argv[1] = "<lake>|<results root>")
RESULTS_WRITER = (
    KILLER
    + DELTA_KILLER
    + textwrap.dedent(
        """
    from shoplake.pipelines.review_sentiment import publish

    lake, results = path.split("|")
    publish(lake, "2024-02-29", results)
    print(json.dumps(calls))
    """
    )
)


def _enriched(lake: str, generation: str) -> pa.Table:
    from shoplake.io.lake import write_partition
    from shoplake.paths import PRODUCT_REVIEW_SENTIMENT, Zone, partition_path

    n = 3 if generation == "old" else 5
    table = pa.table(
        {"review_id": [f"{generation}-{i}" for i in range(n)], "predicted_class": [1 + i % 5 for i in range(n)]}
    )
    write_partition(table, partition_path(lake, Zone.ENRICHED, PRODUCT_REVIEW_SENTIMENT, "2024-02-29"))
    return table


def _seen_results(results: str) -> tuple[str, str]:
    """What a consumer of the published day reads: the table's day and the CSV export, each "old", "new" or
    "missing" — a mix within either fails the test."""
    import pyarrow.csv as pcsv

    from shoplake.io.filecommit import resolve
    from shoplake.io.lake import filesystem, read_partition
    from shoplake.pipelines.review_sentiment import results_csv_path, results_path

    def which(ids: list[str]) -> str:
        if ids == [f"old-{i}" for i in range(3)]:
            return "old"
        if ids == [f"new-{i}" for i in range(5)]:
            return "new"
        raise AssertionError(f"a reader saw a mix: {ids}")

    filesystem(results)[0].invalidate_cache()
    try:
        table = which(read_partition(results_path(results, "2024-02-29"))["review_id"].to_pylist())
    except FileNotFoundError:
        table = "missing"
    committed = resolve(results_csv_path(results, "2024-02-29"))
    if committed is None:
        return table, "missing"
    fs, root = filesystem(committed)
    csv = pcsv.read_csv(fs.open(f"{root}/part-0.csv", "rb"))
    return table, which(csv["review_id"].to_pylist())


def test_a_results_publish_killed_at_any_step_leaves_the_old_or_the_new_day(s3_root, tmp_path):
    from shoplake.io.lake import filesystem
    from shoplake.pipelines.review_sentiment import publish

    lake, results = str(tmp_path / "lake"), f"{s3_root}/results"

    def reset() -> None:
        fs, root = filesystem(results)
        if fs.exists(root):
            fs.rm(root, recursive=True)
        fs.invalidate_cache()
        _enriched(lake, "old")
        publish(lake, "2024-02-29", results)
        _enriched(lake, "new")

    reset()
    clean = _run_writer(f"{lake}|{results}", 0, RESULTS_WRITER)
    assert clean.returncode == 0, clean.stderr[-2000:]
    steps = json.loads(clean.stdout.strip().splitlines()[-1])
    pointer_step = next(i for i, s in enumerate(steps) if s.endswith("ds=2024-02-29/_current.json"))
    commit_step = steps.index("delta write")
    assert pointer_step < commit_step, steps  # the CSV export is committed first, then the table's day
    seen = []
    for kill_at in range(1, len(steps) + 1):
        reset()
        killed = _run_writer(f"{lake}|{results}", kill_at, RESULTS_WRITER)
        assert killed.returncode == -9, (kill_at, killed.returncode, killed.stderr[-2000:])
        seen.append(_seen_results(results))
    expected = [("old", "old" if i <= pointer_step else "new") for i in range(commit_step + 1)]
    expected += [("new", "new")] * (len(steps) - commit_step - 1)
    assert seen == expected, list(zip(steps, seen, strict=True))
