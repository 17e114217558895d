"""Five-class review sentiment on the Sephora sample: curate the last REVIEW_DAYS days of reviews (the curate job of
``product_reviews_daily``, one Spark session for all days), then run ``product_review_sentiment`` in-process
(`airflow dags test`) for the last day — train the offline head on the window, score the day, publish CSV + Parquet
— and print the evaluation against the star ratings. Used by `make demo-reviews`.

The window follows the source: its last submission day and the REVIEW_DAYS before it (another dump works as is).
"""

from __future__ import annotations

import datetime as dt
import logging
import os
import sys
import time
from pathlib import Path

from demo import train_and_read, verdict_line

from shoplake.config import Settings
from shoplake.io.filecommit import resolve_existing
from shoplake.io.lake import partition_rows, read_counts
from shoplake.ml.sentiment import FIVE_CLASSES
from shoplake.paths import PRODUCT_REVIEWS, REVIEW_SENTIMENT_MODEL, Zone, partition_path
from shoplake.pipelines.review_sentiment import results_csv_path, results_path

ROOT = Path(__file__).resolve().parents[1]
log = logging.getLogger("demo_reviews")


def last_day(source: str) -> str:
    import glob

    import pandas as pd

    files = sorted(glob.glob(source)) or [source]
    times = pd.concat([pd.read_csv(f, usecols=["submission_time"])["submission_time"] for f in files])
    return str(pd.to_datetime(times, utc=True, errors="coerce").max().date())


def curate_days(cfg: Settings, days: list[str]) -> None:
    sys.path.insert(0, str(ROOT / "jobs" / "spark"))
    import curate_product_reviews as job
    from pyspark.sql import SparkSession

    spark = (
        SparkSession.builder.master("local[2]").appName("demo_reviews")
        .config("spark.sql.session.timeZone", "UTC").config("spark.ui.showConsoleProgress", "false").getOrCreate()
    )  # fmt: skip
    spark.sparkContext.setLogLevel("ERROR")
    started = time.monotonic()
    for i, day in enumerate(days, 1):
        job.main(["--ds", day, "--lake-root", cfg.lake_root], spark=spark)
        if i % 10 == 0 or i == len(days):
            log.info("  curated %d / %d days (%.0f s)", i, len(days), time.monotonic() - started)
    spark.stop()


def per_class_table(m: dict) -> None:
    """Each class's held-out support, how often it was predicted, precision / recall / F1 with 95 % intervals."""

    def cell(figures: dict, key: str) -> str:
        value, ci = figures.get(key), (figures.get("ci95") or {}).get(key)
        if value is None:
            return f"{'—':>19}"
        return f"{value:5.2f} [{ci[0]:.2f}, {ci[1]:.2f}]" if ci else f"{value:5.2f} {'':13}"

    log.info("  %-14s %7s %9s %-19s %-19s %-19s", "class", "support", "predicted", "precision [95% CI]",
             "recall [95% CI]", "F1 [95% CI]")  # fmt: skip
    for c in FIVE_CLASSES:
        f = (m.get("per_class") or {}).get(c)
        if f is None:  # a version written before per-class intervals: its F1 alone
            log.info("  %-14s F1 %s", c, m["per_class_f1"].get(c))
            continue
        note = f"  {f['note']}" if f.get("note") else ""
        log.info("  %-14s %7d %9d %s %s %s%s", c, f["support"], f["predicted"], cell(f, "precision"),
                 cell(f, "recall"), cell(f, "f1"), note)  # fmt: skip


def main() -> int:
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    logging.getLogger("py4j").setLevel(logging.WARNING)
    cfg = Settings.from_env()
    n_days = int(os.environ.get("REVIEW_DAYS", "30"))
    end = last_day(cfg.product_reviews_path)
    days = [str(dt.date.fromisoformat(end) - dt.timedelta(days=d)) for d in range(n_days - 1, -1, -1)]
    log.info("== curate product reviews %s .. %s (%d days, the curate job of product_reviews_daily)",
             days[0], days[-1], n_days)  # fmt: skip
    curate_days(cfg, days)
    counts = [read_counts(partition_path(cfg.lake_root, Zone.CURATED, PRODUCT_REVIEWS, d)) for d in days]
    log.info("  %d reviews read, %d curated, %d quarantined", sum(c["in"] for c in counts),
             sum(c["curated"] for c in counts), sum(c["quarantined"] for c in counts))  # fmt: skip

    conf = {"ds": end, "window_days": n_days, "retrain_days": 0}
    found = train_and_read(cfg, "product_review_sentiment", end, conf, REVIEW_SENTIMENT_MODEL, "train_review_sentiment")
    if found is None:
        return 1
    version, m = found
    split = m["split"]
    log.info("\nheld-out: the newest %d reviews (%s .. %s), stars %s; trained on %d older ones", split["test"],
             split["test_from"][:10], split["test_to"][:10], split["test_stars"], split["train"])  # fmt: skip
    log.info("  %-34s %8s %8s %6s %8s %10s %9s", "model", "accuracy", "macro-F1", "QWK", "Spearman", "3-class F1",
             "|stars|")  # fmt: skip

    def row(name: str, r: dict, three: float) -> None:
        qwk = "—" if r["qwk"] is None else f"{r['qwk']:.3f}"
        rho = "—" if r["spearman"] is None else f"{r['spearman']:.3f}"
        log.info("  %-34s %8.3f %8.3f %6s %8s %10.3f %9.2f", name, r["accuracy"], r["macro_f1"], qwk, rho, three,
                 r["mean_abs_star_error"])  # fmt: skip

    row(m["model"]["model_id"].rsplit("/", 1)[-1], m, m["three_class"]["macro_f1"])
    for name, b in m["baselines"].items():
        row(f"{name} baseline", b, b["three_class_macro_f1"])
    per_class_table(m)
    log.info("  confusion (rows = stars 1..5, columns = predicted 1..5): %s", m["confusion"])
    log.info("  confusion matrix PNG: %s/confusion.png", version["path"].replace(cfg.lake_root, "<lake>"))
    ci = m.get("ci95") or {}
    log.info("  95%% bootstrap intervals: %s", ", ".join(f"{k} [{v[0]:.3f}, {v[1]:.3f}]" for k, v in ci.items() if v))
    rule = m.get("decision_rule") or {}
    if rule.get("class_bias") is not None:
        log.info("  decision rule: log-bias per class 1..5 %s, chosen out of fold on %s training reviews (%s)",
                 rule["class_bias"], rule.get("rows", "?"), rule["reason"])  # fmt: skip
    log.info("  %s", verdict_line(found))
    groups = m["by_product"]["groups"]
    log.info("  products with >= %d held-out reviews: %d (%s below)", m["by_product"]["min_rows"], len(groups),
             m["by_product"]["groups_below_min_rows"])  # fmt: skip
    for name, g in groups.items():
        log.info("    %-10s n=%-4d accuracy %.3f macro-F1 %.3f mean stars %.2f", name, g["n"], g["accuracy"],
                 g["macro_f1"], g["mean_stars"])  # fmt: skip
    languages = m.get("by_language") or {"groups": {}, "min_rows": m["by_product"]["min_rows"]}
    log.info("  languages with >= %d held-out reviews: %d (%s below)", languages["min_rows"],
             len(languages["groups"]), languages.get("groups_below_min_rows", 0))  # fmt: skip
    for name, g in languages["groups"].items():
        ci = g.get("macro_f1_ci95")
        interval = f" [95% CI {ci[0]:.3f}, {ci[1]:.3f}]" if ci else ""
        note = f"; {g['note']}" if g.get("note") else ""
        log.info("    %-4s n=%-4d (%s with 1-2 stars) macro-F1 %.3f%s%s", name, g["n"], g.get("negatives", "?"),
                 g["macro_f1"], interval, note)  # fmt: skip
    csv = resolve_existing(results_csv_path(cfg.results, end))  # the committed version its _current.json names
    day = results_path(cfg.results, end)
    lake = cfg.lake_root
    log.info("  results of %s: Delta table %s (%d rows) and %s/part-0.csv", end, day.replace(lake, "<lake>"),
             partition_rows(day), csv.replace(lake, "<lake>"))  # fmt: skip
    return 0


if __name__ == "__main__":
    from shoplake.jobconfig import run_script

    run_script(main)
