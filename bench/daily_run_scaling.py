"""Where a daily run's Spark time goes: fixed start-up vs per-row work of the curate job, at growing day sizes.

Builds a raw ``steam_reviews`` day of N reviews by replicating the Steam sample's reviews (new ids and authors,
timestamps spread over the day), then runs ``jobs/spark/curate_steam_reviews.py`` through ``spark-submit`` exactly
as the DAG's task does (a fresh JVM and Python each time, ``local_conf``), several times per size. Prints the wall
time per size, the job's own step time (session up → partition committed), and a least-squares split of wall
time into fixed seconds + seconds per 1,000 rows, all measured in this run — with the Spark settings before the
driver JVM's options (``LOCAL_CONF``) and with the local backend's own (``local_conf``: serial collector and the
class-data archive of ``shoplake.spark_cds``), interleaved per size.

    python bench/daily_run_scaling.py [--sizes 1000,10000,100000] [--repeat 2]
"""

from __future__ import annotations

import argparse
import json
import os
import re
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
DS = "2019-03-02"


def sample_rows() -> list[dict]:
    """The Steam sample's reviews as raw rows (``RAW_STEAM_REVIEWS_SCHEMA``: the author's fields flattened)."""
    import pyarrow as pa

    from shoplake.config import Settings
    from shoplake.ingest.mongo_extract import RAW_STEAM_REVIEWS_SCHEMA
    from shoplake.ingest.steam_source import read_saved_responses

    rows = []
    for rec in read_saved_responses(Settings.from_env().steam_source_dir):
        review, row = rec.review if isinstance(rec.review, dict) else {}, {}
        author = review.get("author") if isinstance(review.get("author"), dict) else {}
        for field in RAW_STEAM_REVIEWS_SCHEMA:
            name = field.name
            value = author.get(name.removeprefix("author_")) if name.startswith("author_") else review.get(name)
            if value is not None and pa.types.is_string(field.type):
                value = str(value)
            row[name] = value
        if isinstance(row.get("timestamp_created"), int) and row.get("recommendationid"):
            rows.append(row)
    return rows


def raw_table(n: int, seed: list[dict]):
    """``n`` raw reviews of day ``DS``: the sample's rows repeated with new ids, authors and times."""
    import datetime as dt

    import pyarrow as pa

    from shoplake.ingest.mongo_extract import RAW_STEAM_REVIEWS_SCHEMA

    start = int(dt.datetime.fromisoformat(DS).replace(tzinfo=dt.UTC).timestamp())
    rows = []
    for i in range(n):
        row = dict(seed[i % len(seed)])
        row["recommendationid"] = str(10_000_000_000 + i)
        row["author_steamid"] = str(76_000_000_000_000_000 + i)
        row["timestamp_created"] = row["timestamp_updated"] = start + (i * 86_399) // n
        rows.append(row)
    return pa.Table.from_pylist(rows, schema=RAW_STEAM_REVIEWS_SCHEMA)


def raw_day(lake: str, n: int, seed: list[dict]) -> None:
    """A raw partition of ``n`` reviews of day ``DS`` (:func:`raw_table`)."""
    from shoplake.io.lake import write_partition
    from shoplake.paths import STEAM_REVIEWS, Zone, partition_path

    write_partition(raw_table(n, seed), partition_path(lake, Zone.RAW, STEAM_REVIEWS, DS), counts={"good": n})


def run_curate(lake: str, conf: dict[str, str]) -> tuple[float, float]:
    """Wall seconds of one spark-submit of the curate job with Spark ``conf``, and the job's own step seconds."""
    job = str(ROOT / "jobs/spark/curate_steam_reviews.py")
    spark_submit = str(Path(sys.executable).parent / "spark-submit")
    args = [x for k, v in conf.items() for x in ("--conf", f"{k}={v}")]
    cmd = [spark_submit, "--master", "local[2]", *args, job, "--ds", DS, "--lake-root", lake]
    env = {**os.environ, "PYSPARK_PYTHON": sys.executable, "PYSPARK_DRIVER_PYTHON": sys.executable}
    t0 = time.perf_counter()
    done = subprocess.run(cmd, capture_output=True, text=True, env=env, check=False)
    wall = time.perf_counter() - t0
    if done.returncode:
        raise RuntimeError(done.stderr[-3000:])
    step = re.search(r"step finished in ([\d.]+) s", done.stderr + done.stdout)
    return wall, float(step.group(1)) if step else float("nan")


def split_fixed(results: dict[int, tuple[float, float]]) -> tuple[float, float]:
    """Least squares of wall seconds over rows: (fixed seconds, seconds per row)."""
    xs, ys = list(results), [w for w, _ in results.values()]
    mx, my = statistics.fmean(xs), statistics.fmean(ys)
    slope = sum((x - mx) * (y - my) for x, y in zip(xs, ys, strict=True)) / sum((x - mx) ** 2 for x in xs)
    return my - slope * mx, slope


def main(argv: list[str] | None = None) -> int:
    sys.path.insert(0, str(ROOT / "plugins"))
    from shoplake.config import Settings
    from shoplake_airflow.spark import LOCAL_CONF, local_conf

    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--sizes", default="1000,10000,100000")
    p.add_argument("--repeat", type=int, default=2)
    a = p.parse_args(argv)
    sizes = [int(x) for x in a.sizes.split(",")]
    cfg = Settings.from_env()
    configs = {
        "before (JVM defaults)": dict(LOCAL_CONF),
        "local_conf (serial GC + CDS archive)": local_conf(cfg),
    }
    if not Path(cfg.spark_cds_archive).exists():
        print(f"note: no CDS archive at {cfg.spark_cds_archive} (make spark-cds): the second row runs without one")  # noqa: T201
    results: dict[str, dict[int, tuple[float, float]]] = {name: {} for name in configs}
    seed = sample_rows()
    with tempfile.TemporaryDirectory() as tmp:
        for n in sizes:
            lake = str(Path(tmp) / f"lake-{n}")
            raw_day(lake, n, seed)
            for name, conf in configs.items():  # interleaved, so both meet the same machine state
                runs = [run_curate(lake, conf) for _ in range(a.repeat)]
                results[name][n] = (statistics.median(w for w, _ in runs), statistics.median(s for _, s in runs))
    print(f"curate_steam_reviews via spark-submit, local[2], {os.cpu_count()} cores; median of {a.repeat} runs")  # noqa: T201
    base = results[next(iter(results))]
    for name, res in results.items():
        fixed, slope = split_fixed(res)
        print(f"\n{name}: {fixed:.1f} s fixed + {slope * 1000:.3f} s per 1,000 rows")  # noqa: T201
        print(f"{'reviews/day':>12} {'wall s':>8} {'job step s':>11} {'fixed share':>12} {'x before':>9}")  # noqa: T201
        for n, (wall, step) in res.items():
            print(f"{n:12,d} {wall:8.1f} {step:11.1f} {min(1.0, fixed / wall):11.0%} {base[n][0] / wall:8.2f}x")  # noqa: T201
    summary = {
        name: dict(zip(("fixed_s", "s_per_row"), split_fixed(res), strict=True)) for name, res in results.items()
    }
    print(json.dumps(summary))  # noqa: T201
    return 0


if __name__ == "__main__":
    sys.exit(main())
