"""A pipeline at N times its sample: grow the input with fresh ids, run the DAG's own jobs, measure time and memory.

    python bench/scale.py --pipeline recommendations --factor 10 [--lake DIR] [--driver-memory 1g] [--keep]

Pipelines here: ``recommendations`` and ``churn`` (the clickstream source), both grown from the REES46 events
sample (``SHOPLAKE_CLICKSTREAM_SOURCE`` or the shared sample). Not yet grown by this script: steam_reviews,
purchase_model, product_reviews, tweets (the command says so and exits 2).

**Growth.** Copy ``c`` of ``N`` (``c = 0`` is the sample itself, so factor 1 is exactly today's input) gets fresh
users, products and sessions — ``id × 1000 + c`` for numeric ids, ``<session>-c`` for sessions — so the catalogue
and the user base grow N times, not just the rows; each copy's timestamps move forward by ``c × 7919 mod 3600``
seconds, inside the same day (the sample spans under three hours of 2019-10-01). Categories, brands and prices are
reused. Copies are written as separate CSV files of one folder (the jobs read a glob).

**Runs.** Every Spark step is ``spark-submit`` of the DAG's job file with the local backend's settings
(``shoplake_airflow.spark.local_conf``) and ``spark.driver.memory`` from ``--driver-memory`` (default 1g, the issue's
bound); every Airflow-worker step (the checks) runs the library function the DAG task calls, in a fresh Python
process. Printed last, one JSON line::

    {"pipeline", "factor", "rows", "wall_s", "driver_peak_rss_mb", "worker_peak_rss_mb", "steps": {...}}

``rows`` = input events; ``wall_s`` = all steps, growth excluded; ``driver_peak_rss_mb`` = the largest resident
memory of a Spark step's whole process tree (driver JVM with its local executors, the Python driver, Python
workers), sampled every 0.2 s; ``worker_peak_rss_mb`` = the same for the Airflow-worker steps. ``steps`` has each
step's seconds and peak. A failed step prints its log tail and exits 1.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
DAY = "2019-10-01"
ID_FACTOR = 1000  # fresh numeric id of copy c: id × 1000 + c (c < 1000)
NOT_YET = ("steam_reviews", "purchase_model", "product_reviews", "tweets")


def say(text: str) -> None:
    sys.stderr.write(text + "\n")


# ---- growth --------------------------------------------------------------------------------------------------------


def grow_clickstream(source: str, factor: int, out: Path) -> int:
    """``factor`` copies of the clickstream CSV(s) ``source`` (a path or glob) into ``out/part-<c>.csv``; rows."""
    import glob

    import pandas as pd

    if not 1 <= factor < ID_FACTOR:
        raise SystemExit(f"--factor must be 1..{ID_FACTOR - 1}")
    files = sorted(glob.glob(source))
    if not files:
        raise SystemExit(f"no clickstream CSV matches {source}")
    base = pd.concat([pd.read_csv(f, dtype=str, keep_default_na=False) for f in files], ignore_index=True)
    times = pd.to_datetime(base["event_time"].str.replace(" UTC", "", regex=False), utc=True)
    out.mkdir(parents=True, exist_ok=True)
    for c in range(factor):
        copy = base.copy()
        if c:
            for col in ("user_id", "product_id"):
                numeric = pd.to_numeric(copy[col], errors="coerce")
                fresh = (numeric * ID_FACTOR + c).astype("Int64").astype(str)
                copy[col] = fresh.where(numeric.notna(), copy[col] + f"-{c}")
            copy["user_session"] = copy["user_session"].where(
                copy["user_session"] == "", copy["user_session"] + f"-{c}"
            )
            shifted = times + pd.Timedelta(seconds=(c * 7919) % 3600)
            copy["event_time"] = shifted.dt.strftime("%Y-%m-%d %H:%M:%S UTC")
        copy.to_csv(out / f"part-{c:04d}.csv", index=False)
    return len(base) * factor


# ---- measured runs -------------------------------------------------------------------------------------------------


def measured(cmd: list[str], env: dict[str, str], log: Path) -> tuple[float, float]:
    """Run ``cmd`` (its output to ``log``); returns (wall seconds, peak RSS MiB of its process tree)."""
    import psutil

    started = time.monotonic()
    with log.open("w") as fh:
        proc = subprocess.Popen(cmd, stdout=fh, stderr=subprocess.STDOUT, env=env, cwd=ROOT)
        root = psutil.Process(proc.pid)
        peak = 0
        while proc.poll() is None:
            try:
                tree = [root, *root.children(recursive=True)]
                peak = max(peak, sum(_rss(p) for p in tree))
            except psutil.NoSuchProcess:
                pass
            time.sleep(0.2)
    wall = time.monotonic() - started
    if proc.returncode:
        tail = log.read_text(errors="replace").splitlines()[-40:]
        say("\n".join(tail))
        raise SystemExit(f"step failed (rc {proc.returncode}): {' '.join(cmd[:6])} … — log {log}")
    return wall, peak / 2**20


def _rss(p) -> int:
    try:
        return p.memory_info().rss
    except Exception:  # exited between listing and reading
        return 0


class Runner:
    def __init__(self, lake: str, driver_memory: str, logs: Path) -> None:
        sys.path.insert(0, str(ROOT / "plugins"))
        from shoplake.config import Settings
        from shoplake_airflow.spark import local_conf

        self.lake, self.logs = lake, logs
        self.conf = {**local_conf(Settings.from_env()), "spark.driver.memory": driver_memory}
        self.env = {
            **os.environ,
            "PYSPARK_PYTHON": sys.executable,
            "PYSPARK_DRIVER_PYTHON": sys.executable,
            "SPARK_LOCAL_IP": "127.0.0.1",
            "SHOPLAKE_LAKE_ROOT": lake,
        }
        self.steps: dict[str, dict[str, float]] = {}

    def spark(self, name: str, job: str, args: list[str]) -> None:
        submit = str(Path(sys.executable).parent / "spark-submit")
        confs = [x for k, v in self.conf.items() for x in ("--conf", f"{k}={v}")]
        cmd = [submit, "--master", "local[2]", *confs, str(ROOT / job), "--ds", DAY, "--lake-root", self.lake, *args]
        self._record(name, "spark", *measured(cmd, self.env, self.logs / f"{name}.log"))

    def worker(self, name: str, code: str) -> None:
        """A step of the Airflow worker: ``code`` run in a fresh interpreter (``lake`` and ``ds`` defined)."""
        prelude = f"lake, ds = {self.lake!r}, {DAY!r}\n"
        cmd = [sys.executable, "-c", prelude + code]
        self._record(name, "worker", *measured(cmd, self.env, self.logs / f"{name}.log"))

    def _record(self, name: str, where: str, wall: float, peak: float) -> None:
        self.steps[name] = {"where": where, "wall_s": round(wall, 1), "peak_rss_mb": round(peak)}
        say(f"  {name:<24} {where:<7} {wall:7.1f} s  peak {peak:7.0f} MiB")


def run_recommendations(r: Runner, source_glob: str) -> None:
    """``clickstream_recommendations_daily``'s steps on the grown day (curated first by the churn pipeline's job)."""
    r.spark(
        "curate_events", "jobs/spark/curate_churn_source.py", ["--source", "clickstream", "--source-path", source_glob]
    )
    r.worker(
        "check_window",
        "from shoplake.pipelines.recommendations import check_window\nprint(check_window(lake, ds, 1, 20))",
    )
    r.spark("train_recommenders", "jobs/spark/train_recommenders.py", ["--window-days", "1", "--mlflow-uri", "none"])
    r.worker(
        "check_recommendations",
        "from shoplake.pipelines.recommendations import check\nprint(check(lake, ds, k=10, window_days=1))",
    )


def run_churn(r: Runner, source_glob: str) -> None:
    """``clickstream_churn_daily``'s steps on the grown day (the demo's one-day window and one-hour horizon)."""
    args = ["--source", "clickstream", "--source-path", source_glob, "--window-days", "1", "--label-horizon-hours", "1"]
    r.spark("curate_events", "jobs/spark/curate_churn_source.py", args)
    r.worker(
        "check_curated",
        "from shoplake.pipelines.churn import check_curated\nprint(check_curated(lake, ds, 'clickstream'))",
    )
    r.spark("build_features", "jobs/spark/build_churn_features.py", args)
    r.worker(
        "check_features",
        "from shoplake.pipelines.churn import check_features\nprint(check_features(lake, ds, 'clickstream', 10))",
    )
    r.spark("train_churn_models", "jobs/spark/train_churn_models.py", [*args, "--mlflow-uri", "none"])
    r.worker(
        "check_model", "from shoplake.pipelines.churn import check_model\nprint(check_model(lake, ds, 'clickstream'))"
    )
    r.spark("predict_churn", "jobs/spark/predict_churn.py", args)
    r.worker(
        "check_predictions",
        "from shoplake.pipelines.churn import check_predictions\nprint(check_predictions(lake, ds, 'clickstream'))",
    )


PIPELINES = {"recommendations": run_recommendations, "churn": run_churn}


def main(argv: list[str] | None = None) -> dict:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--pipeline", required=True, choices=[*PIPELINES, *NOT_YET])
    ap.add_argument("--factor", type=int, default=1)
    ap.add_argument("--lake", default="", help="lake root to use (default: a fresh temporary folder, removed after)")
    ap.add_argument("--driver-memory", default="1g", help="spark.driver.memory of every Spark step")
    ap.add_argument("--keep", action="store_true", help="keep the temporary lake, input and logs")
    args = ap.parse_args(argv)
    if args.pipeline in NOT_YET:
        say(f"bench/scale.py does not grow {args.pipeline} yet (only {', '.join(PIPELINES)})")
        raise SystemExit(2)

    from shoplake.config import Settings

    work = Path(tempfile.mkdtemp(prefix=f"shoplake-scale-{args.pipeline}-{args.factor}x-"))
    lake = args.lake or str(work / "lake")
    logs = work / "logs"
    logs.mkdir()
    t = time.monotonic()
    rows = grow_clickstream(Settings.from_env().churn_source("clickstream"), args.factor, work / "input")
    say(f"grew {rows} rows ({args.factor}x) in {time.monotonic() - t:.1f} s into {work}")
    runner = Runner(lake, args.driver_memory, logs)
    PIPELINES[args.pipeline](runner, str(work / "input" / "*.csv"))
    steps = runner.steps
    result = {
        "pipeline": args.pipeline,
        "factor": args.factor,
        "rows": rows,
        "wall_s": round(sum(s["wall_s"] for s in steps.values()), 1),
        "driver_peak_rss_mb": max((s["peak_rss_mb"] for s in steps.values() if s["where"] == "spark"), default=0),
        "worker_peak_rss_mb": max((s["peak_rss_mb"] for s in steps.values() if s["where"] == "worker"), default=0),
        "driver_memory": args.driver_memory,
        "steps": steps,
    }
    if args.keep:
        say(f"kept {work}")
    else:
        shutil.rmtree(work, ignore_errors=True)
    sys.stdout.write(json.dumps(result) + "\n")
    return result


if __name__ == "__main__":
    main()
