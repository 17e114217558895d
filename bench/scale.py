"""A pipeline at N times its sample: grow the input with fresh ids, run the DAG's own jobs, measure time and memory.

    python bench/scale.py --pipeline recommendations --factor 10 [--lake DIR] [--driver-memory 1g] [--keep]

Pipelines and what is grown (each from its configured source, else the shared sample):

* ``recommendations``, ``churn`` — the REES46 clickstream CSV (day 2019-10-01);
* ``steam_reviews`` — the raw ``steam_reviews`` partition of 2019-03-02, built from every review of the Steam sample
  (the Mongo load and extract steps are not run: their throughput is ``bench/mongo_to_raw.py``'s);
* ``purchase_model`` — the feature partition of that Steam day: built once at factor 1 through the Steam steps
  (cached under ``.bench/steam-features-1x``, not timed), then copied N times with fresh review ids; the training
  DAG's steps run on it (``check_features`` with the ``auto`` backend choice, the chosen training job, the check);
* ``product_reviews`` — the Sephora review and catalogue CSVs (day 2026-02-24, the demo's);
* ``tweets`` — the Indonesian e-commerce tweet CSVs (day 2022-12-22).

**Growth.** Copy ``c`` of ``N`` (``c = 0`` is the sample itself, so factor 1 is exactly today's input) gets fresh
ids — users, products, sessions, reviews, authors, tweet accounts: ``id × 1000 + c`` for numeric ids, ``<id>-c`` for
the others — so the catalogue and the user base grow N times, not just the rows; clickstream copies move forward by
``c × 7919 mod 3600`` seconds, less where that would pass the last event's midnight (same days), Steam copies are
spread over the day; texts, categories, brands and prices are reused. Steam games (``appid``) are kept: a bigger
store has more reviews per game here, not N times the games (fresh game ids would add N times the one-hot game
columns). CSV copies are separate files of one folder (the jobs read a glob).

**Runs.** Every Spark step is ``spark-submit`` of the DAG's job file with the local backend's settings
(``shoplake_airflow.spark.local_conf``) and ``spark.driver.memory`` from ``--driver-memory`` (default 1g, the issue's
bound); every Airflow-worker step runs in a fresh Python process: the checks as the library function the DAG task
calls, the Python jobs of the gpu / default queues (sentiment, embeddings, local training) as their job files.
``--replay-sentiment`` (steam_reviews) runs the sentiment step's own streaming code (``score_partition``) with the
model's forward pass replaced by the factor-1 run's score of the same text (every grown review reuses a sample
text): Steam at 100x on a CPU in minutes instead of hours, the model's own time left out (and said so in the line).
Printed last, one JSON line::

    {"pipeline", "factor", "rows", "partition_rows", "wall_s", "driver_peak_rss_mb", "worker_peak_rss_mb",
     "steps": {...}}

``rows`` = source rows the run reads (the grown input); ``partition_rows`` = rows of the day's main partition the
pipeline works on (curated events, scored reviews, feature rows, curated tweets); ``wall_s`` = all steps, growth
excluded; ``driver_peak_rss_mb`` = the largest resident
memory of a Spark step's whole process tree (driver JVM with its local executors, the Python driver, Python
workers), sampled every 0.2 s; ``worker_peak_rss_mb`` = the same for the Airflow-worker steps. ``steps`` has each
step's seconds and peak. A failed step prints its log tail and exits 1.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
DAY = "2019-10-01"
ID_FACTOR = 1000  # fresh numeric id of copy c: id × 1000 + c (c < 1000)
STEAM_DAY, REVIEWS_DAY, TWEETS_DAY = "2019-03-02", "2026-02-24", "2022-12-22"


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
    # seconds between the last event and its day's end: a copy's shift never moves an event into the next day
    slack = int(
        (times.max().normalize() + pd.Timedelta(days=1) - pd.Timedelta(seconds=1) - times.max()).total_seconds()
    )
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
            shifted = times + pd.Timedelta(seconds=((c * 7919) % 3600) % (slack + 1))
            copy["event_time"] = shifted.dt.strftime("%Y-%m-%d %H:%M:%S UTC")
        copy.to_csv(out / f"part-{c:04d}.csv", index=False)
    return len(base) * factor


def grow_csv(source: str, factor: int, out: Path, fresh: dict[str, str]) -> int:
    """``factor`` copies of the CSV(s) ``source`` into ``out/<c>/<file name>`` (names kept: a tweet file's name is
    its platform), the ``fresh`` columns given new ids per copy (``numeric``: ``id × 1000 + c``; ``text``:
    ``<id>-c``); rows."""
    import glob

    import pandas as pd

    files = sorted(glob.glob(source))
    if not files:
        raise SystemExit(f"no CSV matches {source}")
    rows = 0
    for f in files:
        base = pd.read_csv(f, dtype=str, keep_default_na=False)
        for c in range(factor):
            copy = base.copy()
            for col, kind in fresh.items() if c else ():
                if kind == "numeric":
                    copy[col] = (pd.to_numeric(copy[col]) * ID_FACTOR + c).astype("Int64").astype(str)
                else:
                    copy[col] = copy[col].where(copy[col] == "", copy[col] + f"-{c}")
            (out / f"{c:04d}").mkdir(parents=True, exist_ok=True)
            copy.to_csv(out / f"{c:04d}" / Path(f).name, index=False)
        rows += len(base) * factor
    return rows


def grow_steam_raw(lake: str, factor: int) -> int:
    """The raw ``steam_reviews`` partition of :data:`STEAM_DAY`: every sample review ``factor`` times, fresh review
    and author ids, creation times spread evenly over the day (``bench/daily_run_scaling.py``'s builder)."""
    sys.path.insert(0, str(ROOT / "bench"))
    import daily_run_scaling as steam

    seed = steam.sample_rows()
    steam.DS = STEAM_DAY
    steam.raw_day(lake, len(seed) * factor, seed)
    return len(seed) * factor


# ---- measured runs -------------------------------------------------------------------------------------------------


def measured(cmd: list[str], env: dict[str, str], log: Path) -> tuple[float, float]:
    """Run ``cmd`` (its output to ``log``); returns (wall seconds, peak RSS MiB of its process tree).

    The tree's RSS is summed every 0.2 s; the root process's own peak (``/usr/bin/time``, where installed) is the
    floor, so a step shorter than one sample still reports its memory.
    """
    import psutil

    timer = ["/usr/bin/time", "-f", "SCALE_MAXRSS_KB=%M"] if Path("/usr/bin/time").exists() else []
    started = time.monotonic()
    with log.open("w") as fh:
        proc = subprocess.Popen([*timer, *cmd], stdout=fh, stderr=subprocess.STDOUT, env=env, cwd=ROOT)
        root = psutil.Process(proc.pid)
        peak = 0
        while proc.poll() is None:
            try:
                tree = [root, *root.children(recursive=True)]
                peak = max(peak, sum(_rss(p) for p in tree if p.pid != proc.pid or not timer))
            except psutil.NoSuchProcess:
                pass
            time.sleep(0.2)
    wall = time.monotonic() - started
    text = log.read_text(errors="replace")
    if proc.returncode:
        say("\n".join(text.splitlines()[-40:]))
        raise SystemExit(f"step failed (rc {proc.returncode}): {' '.join(cmd[:6])} … — log {log}")
    own = [int(m) for m in re.findall(r"SCALE_MAXRSS_KB=(\d+)", text)]
    return wall, max(peak / 2**20, own[-1] / 1024 if own else 0.0)


def _rss(p) -> int:
    try:
        return p.memory_info().rss
    except Exception:  # exited between listing and reading
        return 0


class Runner:
    def __init__(self, lake: str, driver_memory: str, logs: Path, ds: str = DAY) -> None:
        sys.path.insert(0, str(ROOT / "plugins"))
        from shoplake.config import Settings
        from shoplake_airflow.spark import local_conf

        self.lake, self.logs, self.ds = lake, logs, ds
        self.conf = {**local_conf(Settings.from_env()), "spark.driver.memory": driver_memory}
        self.env = {
            **os.environ,
            "PYSPARK_PYTHON": sys.executable,
            "PYSPARK_DRIVER_PYTHON": sys.executable,
            "SPARK_LOCAL_IP": "127.0.0.1",
            "SHOPLAKE_LAKE_ROOT": lake,
        }
        self.steps: dict[str, dict[str, float]] = {}
        self.timed = True  # False during a pipeline's untimed set-up (purchase_model's features)
        self.replay_sentiment = False  # steam_reviews: replay the factor-1 scores instead of the model

    def spark(self, name: str, job: str, args: list[str]) -> None:
        submit = str(Path(sys.executable).parent / "spark-submit")
        confs = [x for k, v in self.conf.items() for x in ("--conf", f"{k}={v}")]
        cmd = [
            submit,
            "--master",
            "local[2]",
            *confs,
            str(ROOT / job),
            "--ds",
            self.ds,
            "--lake-root",
            self.lake,
            *args,
        ]
        self._record(name, "spark", *measured(cmd, self.env, self.logs / f"{name}.log"))

    def worker(self, name: str, code: str) -> None:
        """A step of the Airflow worker: ``code`` run in a fresh interpreter (``lake`` and ``ds`` defined)."""
        prelude = f"import json\nlake, ds = {self.lake!r}, {self.ds!r}\n"
        cmd = [sys.executable, "-c", prelude + code]
        self._record(name, "worker", *measured(cmd, self.env, self.logs / f"{name}.log"))

    def job(self, name: str, script: str, args: list[str]) -> None:
        """A Python job of the gpu / default queue (``python_job`` / ``gpu_job``: a fresh process on a worker)."""
        cmd = [sys.executable, str(ROOT / script), "--ds", self.ds, "--lake-root", self.lake, *args]
        self._record(name, "worker", *measured(cmd, self.env, self.logs / f"{name}.log"))

    def last_json(self, name: str) -> dict:
        """The JSON object a step printed last."""
        lines = [x for x in (self.logs / f"{name}.log").read_text().splitlines() if x.startswith("{")]
        return json.loads(lines[-1])

    def _record(self, name: str, where: str, wall: float, peak: float) -> None:
        if not self.timed:
            say(f"  (set-up) {name:<16} {where:<7} {wall:7.1f} s")
            return
        self.steps[name] = {"where": where, "wall_s": round(wall, 1), "peak_rss_mb": round(peak)}
        say(f"  {name:<24} {where:<7} {wall:7.1f} s  peak {peak:7.0f} MiB")


def run_recommendations(r: Runner, source_glob: str) -> None:
    """``clickstream_recommendations_daily``'s steps on the grown day (curated first by the churn pipeline's job)."""
    args = ["--source", "clickstream", "--source-path", source_glob]
    r.spark("curate_churn_source", "jobs/spark/curate_churn_source.py", args)
    r.worker(
        "check_window",
        "from shoplake.pipelines.recommendations_checks import check_window\nprint(check_window(lake, ds, 1, 20))",
    )
    # the recommenders' own cost: ALS's search (12 fits, docs/recommendations.md) is left out of the scale figures
    recs = ["--window-days", "1", "--mlflow-uri", "none", "--als-tune", "false"]
    r.spark("train_recommenders", "jobs/spark/train_recommenders.py", recs)
    r.worker(
        "check_recommendations",
        "from shoplake.pipelines.recommendations_checks import check_recommendations\n"
        "print(check_recommendations(lake, ds, k=10, window_days=1))",
    )


def run_churn(r: Runner, source_glob: str) -> None:
    """``clickstream_churn_daily``'s steps on the grown day (the demo's one-day window and one-hour horizon)."""
    args = ["--source", "clickstream", "--source-path", source_glob, "--window-days", "1", "--label-horizon-hours", "1"]
    r.spark("curate_churn_source", "jobs/spark/curate_churn_source.py", args)
    r.worker(
        "check_curated",
        "from shoplake.pipelines.churn import check_curated\nprint(check_curated(lake, ds, 'clickstream'))",
    )
    r.spark("build_churn_features", "jobs/spark/build_churn_features.py", args)
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


def sentiment_args(r: Runner) -> list[str]:
    """``--models`` as the DAG passes it (``SHOPLAKE_SENTIMENT_MODELS`` / ``SHOPLAKE_SENTIMENT_MODEL``); without one
    configured, the lake's offline head: the repository lake's if ``make sentiment-model`` made it, else cold-started
    into the bench lake first (set-up, not timed)."""
    from shoplake.config import Settings

    cfg = Settings.from_env()
    engine = cfg.sentiment_engine_args  # SHOPLAKE_SENTIMENT_PRECISION / _COMPILE, as the DAG passes them
    if os.environ.get("SHOPLAKE_SENTIMENT_MODELS") or os.environ.get("SHOPLAKE_SENTIMENT_MODEL"):
        return ["--models", cfg.sentiment_model_map, "--model-cache", cfg.model_cache, *engine]
    head = ROOT / "lake" / "model" / "sentiment_head"
    if not (head / "current.json").is_file():
        head = Path(r.lake) / "model" / "sentiment_head"
        timed, r.timed = r.timed, False
        r.job("train_sentiment_head", "jobs/train/train_sentiment_head.py", ["--steam-source", cfg.steam_source_dir])
        r.timed = timed
    return ["--models", f"en={head}", "--model-cache", cfg.model_cache, *engine]


def run_steam_reviews(r: Runner, _source: str) -> None:
    """``steam_reviews_daily`` from the raw partition on: curate, sentiment, features, and their checks. With
    ``r.replay_sentiment`` the sentiment step runs :func:`replay_sentiment` instead of the model (see ``--help``)."""
    models = [] if r.replay_sentiment else sentiment_args(r)
    r.spark("curate_steam_reviews", "jobs/spark/curate_steam_reviews.py", [])
    r.worker("check_curated", "from shoplake.pipelines.steam_reviews import check_curated\n"
             "print(json.dumps(check_curated(lake, ds, raw_rows=None), default=str))")  # fmt: skip
    if r.replay_sentiment:
        cache = steam_cache(r.conf["spark.driver.memory"])
        code = f"import sys\nsys.path.insert(0, {str(ROOT / 'bench')!r})\nfrom scale import replay_sentiment\n"
        r.worker("score_sentiment_replayed", code + f"print(json.dumps(replay_sentiment(lake, ds, {cache!r})))")
    else:
        r.job("score_sentiment", "jobs/gpu/score_sentiment.py", models)
    r.worker(
        "build_features",
        "from shoplake.pipelines.steam_reviews import build_purchase_features\n"
        "print(json.dumps(build_purchase_features(lake, ds, curated_rows=None), default=str))",
    )


STEAM_CACHE = ROOT / ".bench" / "steam-features-1x"


def steam_cache(driver_memory: str) -> str:
    """``.bench/steam-features-1x``: the Steam day at factor 1 through the Steam pipeline's own steps (curated,
    scored, features), built once (set-up, not timed) and reused by ``purchase_model`` and ``--replay-sentiment``."""
    from shoplake.io.lake import existing_partitions
    from shoplake.paths import STEAM_PURCHASE_FEATURES, Zone, partition_path

    cache = str(STEAM_CACHE)
    if not existing_partitions([partition_path(cache, Zone.ENRICHED, STEAM_PURCHASE_FEATURES, STEAM_DAY)])[0]:
        say(f"  (set-up) building the factor-1 Steam day once into {cache}")
        grow_steam_raw(cache, 1)
        logs = Path(tempfile.mkdtemp(prefix="shoplake-scale-setup-"))
        setup = Runner(cache, driver_memory, logs, STEAM_DAY)
        setup.timed = False
        run_steam_reviews(setup, "")
    return cache


def grow_purchase_features(lake: str, factor: int, driver_memory: str) -> int:
    """The Steam day's feature partition ``factor`` times (fresh review ids) in ``lake``, from :func:`steam_cache`."""
    import pyarrow as pa
    import pyarrow.compute as pc

    from shoplake.io.lake import read_partition, write_partition
    from shoplake.paths import STEAM_PURCHASE_FEATURES, Zone, partition_path

    seed = read_partition(partition_path(steam_cache(driver_memory), Zone.ENRICHED, STEAM_PURCHASE_FEATURES, STEAM_DAY))
    ids = pc.cast(seed["recommendationid"], pa.int64())
    copies = []
    for c in range(factor):
        fresh = pc.add(pc.multiply(ids, ID_FACTOR), c) if c else ids
        column = pc.cast(fresh, seed.schema.field("recommendationid").type)
        copies.append(seed.set_column(seed.schema.get_field_index("recommendationid"), "recommendationid", column))
    table = pa.concat_tables(copies)
    write_partition(table, partition_path(lake, Zone.ENRICHED, STEAM_PURCHASE_FEATURES, STEAM_DAY))
    return table.num_rows


class ReplayedModel:
    """Stands in for the sentiment model in ``--replay-sentiment``: each text's score is the factor-1 run's score of
    the same text (every grown review reuses a sample text, so it is what the model answers for it). Holds one
    float per distinct sample text — bounded by the sample, not the grown day."""

    def __init__(self, cache: str) -> None:
        from shoplake.io.lake import read_partition
        from shoplake.ml.sentiment.classifier import EngineConfig
        from shoplake.paths import STEAM_REVIEWS, Zone, partition_path

        curated = read_partition(partition_path(cache, Zone.CURATED, STEAM_REVIEWS, STEAM_DAY))
        scored = read_partition(partition_path(cache, Zone.ENRICHED, STEAM_REVIEWS, STEAM_DAY))
        languages = set(scored["model_language"].to_pylist())
        if languages != {"en"}:
            raise SystemExit(f"--replay-sentiment replays one en route; the factor-1 run used {sorted(languages)}")
        prob = dict(zip(scored["recommendationid"].to_pylist(), scored["positive_prob"].to_pylist(), strict=True))
        ids, texts = curated["recommendationid"].to_pylist(), curated["review_text"].to_pylist()
        self.scores = {t if isinstance(t, str) else "": prob[i] for i, t in zip(ids, texts, strict=True)}
        self.model_id = f"{scored['model_id'][0].as_py()} (replayed)"
        self.revision = scored["model_revision"][0].as_py()
        self.cfg = EngineConfig()

    def positive_proba(self, texts):
        import numpy as np

        return np.array([self.scores[t] for t in texts], dtype=np.float32)


def replay_sentiment(lake: str, ds: str, cache: str) -> dict:
    """``score_sentiment``'s streaming path over the grown day — ``score_partition`` reading the curated partition in
    record batches, routing, writing the enriched one — with :class:`ReplayedModel` for the model's forward pass."""
    from shoplake.ml.sentiment.routing import Router, score_partition
    from shoplake.paths import STEAM_REVIEWS, Zone, partition_path

    router = Router.single(ReplayedModel(cache), language="en")
    src = partition_path(lake, Zone.CURATED, STEAM_REVIEWS, ds)
    return score_partition(router, src, partition_path(lake, Zone.ENRICHED, STEAM_REVIEWS, ds))


def run_purchase_model(r: Runner, _source: str) -> None:
    """``steam_purchase_model_weekly`` on the grown feature day."""
    from shoplake.config import Settings

    limit = Settings.from_env().spark_train_rows
    r.worker(
        "check_features",
        "from shoplake.pipelines.purchase_model import check_features, choose_backend\n"
        f"print(check_features(lake, ds, 28, 200))\nprint(json.dumps(choose_backend(lake, ds, 28, {limit})))",
    )
    if r.last_json("check_features")["backend"] == "spark":
        r.spark(
            "train_purchase_model_spark",
            "jobs/spark/train_purchase_model_spark.py",
            ["--backend", "spark", "--mlflow-uri", "none"],
        )
    else:
        r.job("train_purchase_model", "jobs/train/train_purchase_model.py", ["--mlflow-uri", "none"])
    r.worker("check_model", "from shoplake.pipelines.purchase_model import check_published\n"
             "print(check_published(lake, ds, 'steam_purchase'))")  # fmt: skip


def run_product_reviews(r: Runner, source: str) -> None:
    """``product_reviews_daily``: curate reviews + catalogue, score the five classes, check."""
    reviews, catalog = source.split("|")
    r.spark("curate_product_reviews", "jobs/spark/curate_product_reviews.py",
            ["--reviews-source", reviews, "--catalog-source", catalog])  # fmt: skip
    r.worker("check_reviews", "from shoplake.pipelines.product_reviews import check_curated\n"
             "print(check_curated(lake, ds))")  # fmt: skip
    r.job("score_product_reviews", "jobs/gpu/score_product_reviews.py", sentiment_args(r))


def run_tweets(r: Runner, source: str) -> None:
    """``tweet_engagement_daily``: curate, embed, check the window, train the engagement model."""
    r.spark("curate_tweets", "jobs/spark/curate_tweets.py", ["--source", source])
    r.worker("check_tweets", "from shoplake.pipelines.tweets import check_curated\nprint(check_curated(lake, ds))")
    r.job("embed_tweets", "jobs/gpu/embed_tweets.py", [])
    r.worker(
        "check_window",
        "from shoplake.pipelines.tweets import EngagementTrainConfig as C, check_window\n"
        "d = {f.name: f.default for f in __import__('dataclasses').fields(C)}\n"
        "print(check_window(lake, ds, d['window_days'], d['min_rows']))",
    )
    r.job("train_tweet_engagement", "jobs/train/train_tweet_engagement.py", ["--mlflow-uri", "none"])


#: the partition whose rows say how much a run worked on: (zone, dataset)
MAIN = {
    "recommendations": ("curated", "clickstream_events"),
    "churn": ("curated", "clickstream_events"),
    "steam_reviews": ("enriched", "steam_reviews"),
    "purchase_model": ("enriched", "steam_purchase_features"),
    "product_reviews": ("enriched", "product_reviews"),
    "tweets": ("curated", "ecommerce_tweets"),
}

PIPELINES = {
    "recommendations": run_recommendations,
    "churn": run_churn,
    "steam_reviews": run_steam_reviews,
    "purchase_model": run_purchase_model,
    "product_reviews": run_product_reviews,
    "tweets": run_tweets,
}


def grow(pipeline: str, factor: int, work: Path, lake: str, driver_memory: str) -> tuple[int, str, str]:
    """Grow the pipeline's input: (rows, source the jobs read, the partition day)."""
    from shoplake.config import Settings

    cfg = Settings.from_env()
    if pipeline in ("recommendations", "churn"):
        return (
            grow_clickstream(cfg.churn_source("clickstream"), factor, work / "input"),
            str(work / "input" / "*.csv"),
            DAY,
        )
    if pipeline == "steam_reviews":
        return grow_steam_raw(lake, factor), "", STEAM_DAY
    if pipeline == "purchase_model":
        return grow_purchase_features(lake, factor, driver_memory), "", STEAM_DAY
    if pipeline == "product_reviews":
        reviews = grow_csv(cfg.product_reviews_path, factor, work / "reviews", {"product_id": "text", "author": "text"})
        grow_csv(cfg.product_catalog_path, factor, work / "catalog", {"product_id": "text"})
        return (
            reviews,
            f"{work / 'reviews' / '*' / '*.csv'}|{work / 'catalog' / '*' / 'product_info.csv*'}",
            REVIEWS_DAY,
        )
    rows = grow_csv(cfg.tweets_path, factor, work / "tweets", {"username": "text"})
    return rows, str(work / "tweets" / "*" / "*.csv"), TWEETS_DAY


def _mib(value: int) -> str:
    return f"{value:,}" if value else "–"  # no step of that kind ran


def summarise(lines: list[str]) -> str:
    """A Markdown table from result lines (one pipeline per row; factors as column groups) with each pipeline's
    least-squares split of wall time into fixed seconds + seconds per 1,000 partition rows."""
    results: dict[str, dict[int, dict]] = {}
    for line in lines:
        if line.strip().startswith("{"):
            r = json.loads(line)
            results.setdefault(r["pipeline"], {})[r["factor"]] = r
    factors = sorted({f for by in results.values() for f in by})
    head = ["pipeline", *(f"{f}x rows · s · driver/worker MiB" for f in factors), "fixed s + s per 1k rows"]
    out = ["| " + " | ".join(head) + " |", "|" + " --- |" * len(head)]
    for name, by in results.items():
        cells = [name]
        for f in factors:
            r = by.get(f)
            cells.append(
                f"{r['partition_rows']:,} · {r['wall_s']:.0f} · "
                f"{_mib(r['driver_peak_rss_mb'])}/{_mib(r['worker_peak_rss_mb'])}"
                if r
                else "—"
            )
        xs = [by[f]["partition_rows"] for f in by]
        ys = [by[f]["wall_s"] for f in by]
        if len(xs) >= 2 and len(set(xs)) >= 2:
            mx, my = sum(xs) / len(xs), sum(ys) / len(ys)
            slope = sum((x - mx) * (y - my) for x, y in zip(xs, ys, strict=True)) / sum((x - mx) ** 2 for x in xs)
            fixed = my - slope * mx
            # a negative intercept: the cost is not linear in the rows (e.g. ALS scoring, users × products)
            cells.append(f"{fixed:.0f} + {slope * 1000:.3f}" if fixed >= 0 else "not linear")
        else:
            cells.append("—")
        out.append("| " + " | ".join(cells) + " |")
    return "\n".join(out)


def main(argv: list[str] | None = None) -> dict:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--pipeline", choices=list(PIPELINES))
    ap.add_argument("--factor", type=int, default=1)
    ap.add_argument("--lake", default="", help="lake root to use (default: a fresh temporary folder, removed after)")
    ap.add_argument("--driver-memory", default="1g", help="spark.driver.memory of every Spark step")
    ap.add_argument("--keep", action="store_true", help="keep the temporary lake, input and logs")
    ap.add_argument(
        "--replay-sentiment",
        action="store_true",
        help="steam_reviews: run every step but the model's forward pass, which replays the factor-1 run's score of "
        "each (reused) text — the sentiment step's streaming, routing and writes at full size, without the CPU "
        "hours of the model (a GPU step); marked in the result line",
    )
    ap.add_argument("--summarise", nargs="+", metavar="FILE", help="print a Markdown table of result lines instead")
    args = ap.parse_args(argv)
    if args.summarise:
        lines = [line for f in args.summarise for line in Path(f).read_text().splitlines()]
        sys.stdout.write(summarise(lines) + "\n")
        return {}
    if not args.pipeline:
        ap.error("--pipeline is required")
    if not 1 <= args.factor < ID_FACTOR:
        raise SystemExit(f"--factor must be 1..{ID_FACTOR - 1}")
    work = Path(tempfile.mkdtemp(prefix=f"shoplake-scale-{args.pipeline}-{args.factor}x-"))
    lake = args.lake or str(work / "lake")
    logs = work / "logs"
    logs.mkdir()
    t = time.monotonic()
    rows, source, ds = grow(args.pipeline, args.factor, work, lake, args.driver_memory)
    say(f"grew {rows} rows ({args.factor}x) in {time.monotonic() - t:.1f} s into {work}")
    if args.replay_sentiment and args.pipeline != "steam_reviews":
        ap.error("--replay-sentiment is for --pipeline steam_reviews")
    runner = Runner(lake, args.driver_memory, logs, ds)
    runner.replay_sentiment = args.replay_sentiment
    PIPELINES[args.pipeline](runner, source)
    steps = runner.steps
    from shoplake.io.lake import partition_rows
    from shoplake.paths import Zone, partition_path

    zone, dataset = MAIN[args.pipeline]
    result = {
        "pipeline": args.pipeline,
        "factor": args.factor,
        "rows": rows,
        "partition_rows": partition_rows(partition_path(lake, Zone(zone), dataset, ds)),
        "wall_s": round(sum(s["wall_s"] for s in steps.values()), 1),
        "driver_peak_rss_mb": max((s["peak_rss_mb"] for s in steps.values() if s["where"] == "spark"), default=0),
        "worker_peak_rss_mb": max((s["peak_rss_mb"] for s in steps.values() if s["where"] == "worker"), default=0),
        "driver_memory": args.driver_memory,
        **(
            {"sentiment": "replayed factor-1 scores (the model's forward pass not run)"}
            if args.replay_sentiment
            else {}
        ),
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
