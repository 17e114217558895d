"""What Delta costs: a day's write as a Delta commit (delta-rs's own writer) beside the same rows as one plain Parquet
file (the floor) and beside the previous release's hand-written Parquet writer + commit (its code from git history,
in a process of its own); and Steam's Spark curate job at 10x the sample, first run and rerun, on the pointer layout
of an older release (its code from git history) beside Delta — all measured in this run, on this machine.

    python bench/delta_cost.py [--sizes 10000,100000] [--repeat 5] [--curate-factor 10] [--skip-curate]

Rows are raw Steam reviews: the sample's reviews repeated with new ids, authors and times (bench/daily_run_scaling).
The write ratios are Delta's time over the floor's (target: at most 1.15 for a day of 10k+ rows) and over the
hand-written writer's (``HAND_WRITER_RELEASE``); the curate rows compare wall seconds of one spark-submit each (a
fresh JVM: start-up dominates at the sample's size).
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "bench"))
#: the last commit whose lake was the pointer layout
POINTER_RELEASE = "639ba2d"
#: the last commit whose day writer wrote Parquet and Delta's add actions by hand (not ``write_deltalake``)
HAND_WRITER_RELEASE = "4e2cdec"
#: run in a process with the other tree's library first: its ``write_partition`` timed on a table holding three days
_TIMED_WRITES = """
import json, statistics, sys, time
sys.path.insert(0, sys.argv[4])
from daily_run_scaling import DS, raw_table, sample_rows
from shoplake.io.lake import write_partition
lake, n, repeat = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
table = raw_table(n, sample_rows())
for day in ("2019-03-01", DS, "2019-03-03"):
    write_partition(table, f"{lake}/raw/steam_reviews/ds={day}")
times = []
for _ in range(repeat):
    t0 = time.perf_counter()
    write_partition(table, f"{lake}/raw/steam_reviews/ds={DS}")
    times.append(time.perf_counter() - t0)
print(json.dumps(statistics.median(times)))
"""
from daily_run_scaling import DS  # noqa: E402 - the day both benchmarks write


def bench_writes(sizes: list[int], repeat: int, seed: list[dict], tmp: Path) -> dict[int, dict[str, float]]:
    """Median seconds per write: plain ``pq.write_table`` (zstd, one file) vs ``write_partition`` (a Delta commit of
    the day, as a rerun replaces it: the table already holds that day and two others), and the hand-written writer
    of :data:`HAND_WRITER_RELEASE` doing the same in a process of its own."""
    import pyarrow.parquet as pq

    from daily_run_scaling import raw_table
    from shoplake.io.lake import write_partition

    out = {}
    for n in sizes:
        table = raw_table(n, seed)
        lake = tmp / f"writes-{n}"
        for day in ("2019-03-01", DS, "2019-03-03"):
            write_partition(table, f"{lake}/raw/steam_reviews/ds={day}")
        floor, commit = [], []
        for i in range(repeat):  # interleaved: both meet the same machine state
            t0 = time.perf_counter()
            pq.write_table(table, tmp / f"plain-{n}-{i}.parquet", compression="zstd")
            floor.append(time.perf_counter() - t0)
            t0 = time.perf_counter()
            write_partition(table, f"{lake}/raw/steam_reviews/ds={DS}")
            commit.append(time.perf_counter() - t0)
        out[n] = {"plain_parquet_s": statistics.median(floor), "delta_commit_s": statistics.median(commit),
                  "hand_written_s": _hand_written(tmp, n, repeat)}  # fmt: skip
    return out


def _hand_written(tmp: Path, n: int, repeat: int) -> float:
    """Median seconds of the previous day writer (:data:`HAND_WRITER_RELEASE`) for the same rows and table."""
    tree = _worktree(tmp, HAND_WRITER_RELEASE, "hand-written-writer")
    try:
        from shoplake.config import Settings

        env = {**os.environ, "PYTHONPATH": f"{tree / 'src'}:{tree / 'plugins'}",
               "SHOPLAKE_STEAM_SOURCE": Settings.from_env().steam_source_dir}  # fmt: skip
        done = subprocess.run([sys.executable, "-c", _TIMED_WRITES, str(tmp / f"hand-{n}"), str(n), str(repeat),
                               str(ROOT / "bench")], capture_output=True, text=True, env=env, check=False)  # fmt: skip
        if done.returncode:
            raise RuntimeError(f"{HAND_WRITER_RELEASE}'s writer failed: {done.stderr[-3000:]}")
        return float(json.loads(done.stdout.strip().splitlines()[-1]))
    finally:
        subprocess.run(["git", "-C", str(ROOT), "worktree", "remove", "--force", str(tree)], check=False,
                       capture_output=True)  # fmt: skip


def _worktree(tmp: Path, commit: str = POINTER_RELEASE, name: str = "previous-release") -> Path:
    path = tmp / name
    subprocess.run(["git", "-C", str(ROOT), "worktree", "add", "--detach", str(path), commit], check=True,
                   capture_output=True)  # fmt: skip
    return path


def _curate(tree: Path, lake: str) -> float:
    """Wall seconds of one spark-submit of ``tree``'s curate job, with ``tree``'s library first on the path."""
    sys.path.insert(0, str(tree / "plugins"))
    from shoplake.config import Settings
    from shoplake_airflow.spark import local_conf

    sys.path.pop(0)
    conf = [x for k, v in local_conf(Settings.from_env()).items() for x in ("--conf", f"{k}={v}")]
    cmd = [str(Path(sys.executable).parent / "spark-submit"), "--master", "local[2]", *conf,
           str(tree / "jobs/spark/curate_steam_reviews.py"), "--ds", DS, "--lake-root", lake]  # fmt: skip
    env = {**os.environ, "PYSPARK_PYTHON": sys.executable, "PYSPARK_DRIVER_PYTHON": sys.executable,
           "PYTHONPATH": f"{tree / 'src'}:{tree / 'plugins'}"}  # fmt: skip
    t0 = time.perf_counter()
    done = subprocess.run(cmd, capture_output=True, text=True, env=env, check=False)
    if done.returncode:
        raise RuntimeError(done.stderr[-3000:])
    return time.perf_counter() - t0


def _raw_with(tree: Path, lake: str, n: int) -> None:
    """The raw day written by ``tree``'s own ``write_partition`` (its layout), in a process with its library."""
    code = (
        "import sys; sys.path.insert(0, sys.argv[3]); "
        "from daily_run_scaling import raw_table, sample_rows; from shoplake.io.lake import write_partition; "
        "write_partition(raw_table(int(sys.argv[2]), sample_rows()), "
        f"sys.argv[1] + '/raw/steam_reviews/ds={DS}', counts={{'good': int(sys.argv[2])}})"
    )
    from shoplake.config import Settings

    env = {
        **os.environ,
        "PYTHONPATH": f"{tree / 'src'}:{tree / 'plugins'}",
        "SHOPLAKE_STEAM_SOURCE": Settings.from_env().steam_source_dir,
    }  # the other tree's default is elsewhere
    subprocess.run([sys.executable, "-c", code, lake, str(n), str(ROOT / "bench")], check=True, env=env)


def bench_curate(n: int, tmp: Path) -> dict[str, dict[str, float]]:
    before = _worktree(tmp)
    try:
        trees = {"pointer layout (previous release)": before, "Delta": ROOT}
        out = {}
        for name, tree in trees.items():
            lake = str(tmp / f"curate-{'before' if tree == before else 'after'}")
            _raw_with(tree, lake, n)
            first = _curate(tree, lake)
            rerun = _curate(tree, lake)
            out[name] = {"first_s": first, "rerun_s": rerun}
        return out
    finally:
        subprocess.run(["git", "-C", str(ROOT), "worktree", "remove", "--force", str(before)], check=False,
                       capture_output=True)  # fmt: skip


def main(argv: list[str] | None = None) -> int:
    from daily_run_scaling import sample_rows

    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--sizes", default="10000,100000")
    p.add_argument("--repeat", type=int, default=5)
    p.add_argument("--curate-factor", type=int, default=10, help="the curate day as this many times the sample")
    p.add_argument("--skip-curate", action="store_true")
    a = p.parse_args(argv)
    seed = sample_rows()
    with tempfile.TemporaryDirectory() as tmp:
        writes = bench_writes([int(x) for x in a.sizes.split(",")], a.repeat, seed, Path(tmp))
        print(f"a day's write, median of {a.repeat}, {os.cpu_count()} cores, local disk")  # noqa: T201
        print(f"{'rows':>9} {'plain Parquet s':>16} {'Delta commit s':>15} {'Delta / plain':>14} "  # noqa: T201
              f"{'hand-written s':>15} {'Delta / hand-written':>21}")  # fmt: skip
        for n, r in writes.items():
            print(f"{n:9,d} {r['plain_parquet_s']:16.3f} {r['delta_commit_s']:15.3f} "  # noqa: T201
                  f"{r['delta_commit_s'] / r['plain_parquet_s']:13.2f}x {r['hand_written_s']:15.3f} "
                  f"{r['delta_commit_s'] / r['hand_written_s']:20.2f}x")  # fmt: skip
        curate = {}
        if not a.skip_curate:
            n = a.curate_factor * len(seed)
            curate = bench_curate(n, Path(tmp))
            print(f"\ncurate_steam_reviews via spark-submit, {n:,d} raw reviews ({a.curate_factor}x the sample)")  # noqa: T201
            base = next(iter(curate.values()))
            for name, r in curate.items():
                print(f"  {name:36} first {r['first_s']:6.1f} s  rerun {r['rerun_s']:6.1f} s  "  # noqa: T201
                      f"rerun x before {r['rerun_s'] / base['rerun_s']:.2f}")  # fmt: skip
    print(json.dumps({"writes": writes, "curate": curate}))  # noqa: T201
    return 0


if __name__ == "__main__":
    sys.exit(main())
