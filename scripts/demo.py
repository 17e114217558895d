"""Run steam_reviews_daily for a range of days in-process (`airflow dags test`) and show what landed where.

Used by `make demo`; expects the embedded Mongo to be up and the Airflow environment of the Makefile.
"""

from __future__ import annotations

import argparse
import datetime as dt
import logging
import subprocess
import sys

from shoplake.config import Settings
from shoplake.io.lake import read_counts, read_partition
from shoplake.paths import Zone, partition_path, quarantine_path

log = logging.getLogger("demo")
DAG_ID = "steam_reviews_daily"


def days(start: str, end: str) -> list[str]:
    first, last = dt.date.fromisoformat(start), dt.date.fromisoformat(end)
    if last < first:
        raise SystemExit(f"--to-date {end} is before --from-date {start}")
    return [(first + dt.timedelta(days=i)).isoformat() for i in range((last - first).days + 1)]


def sentiment_summary(cfg: Settings, ds: str, enriched) -> str:
    """Model, share labelled positive, and AUC against the reviewers' own voted_up on this (unseen) day."""
    from sklearn.metrics import roc_auc_score

    curated = read_partition(
        partition_path(cfg.lake_root, Zone.CURATED, "steam_reviews", ds), columns=["recommendationid", "voted_up"]
    )
    voted = dict(zip(curated["recommendationid"].to_pylist(), curated["voted_up"].to_pylist(), strict=True))
    y = [voted[i] for i in enriched["recommendationid"].to_pylist()]
    p = enriched["positive_prob"].to_pylist()
    positive = sum(label == "positive" for label in enriched["sentiment_label"].to_pylist()) / max(len(p), 1)
    auc = roc_auc_score(y, p) if len(set(y)) == 2 else float("nan")
    return (
        f"sentiment {enriched['model_id'][0]}@{enriched['model_revision'][0]}: "
        f"{positive:.0%} positive, AUC vs voted_up {auc:.3f}"
    )


def main(argv: list[str] | None = None) -> int:
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument("--from-date", required=True)
    p.add_argument("--to-date", required=True)
    a = p.parse_args(argv)
    cfg = Settings.from_env()
    for ds in days(a.from_date, a.to_date):
        # A manual run at D covers the last complete day before D (Airflow's manual data interval), so the
        # run for partition ds is triggered at ds + 1 day.
        run_at = (dt.date.fromisoformat(ds) + dt.timedelta(days=1)).isoformat()
        log.info("== airflow dags test %s %s  (data interval %s .. %s)", DAG_ID, run_at, ds, run_at)
        run = subprocess.run(["airflow", "dags", "test", DAG_ID, run_at], capture_output=True, text=True)
        if run.returncode != 0 or "state=success" not in run.stdout + run.stderr:
            sys.stderr.write(run.stdout[-4000:] + run.stderr[-4000:])
            log.error("run for %s failed (exit %s)", ds, run.returncode)
            return 1
    log.info("\nlake root: %s", cfg.lake_root)
    log.info("%-12s %-55s %8s %12s", "ds", "partition", "rows", "quarantined")
    for ds in days(a.from_date, a.to_date):
        for zone, stage in ((Zone.RAW, "raw"), (Zone.CURATED, "curated")):
            path = partition_path(cfg.lake_root, zone, "steam_reviews", ds)
            rows = read_partition(path, columns=["recommendationid"]).num_rows
            bad = read_partition(quarantine_path(cfg.lake_root, stage, "steam_reviews", ds)).num_rows
            log.info("%-12s %-55s %8d %12d", ds, path.replace(cfg.lake_root, "<lake>"), rows, bad)
        log.info(
            "%-12s curate bookkeeping %s",
            "",
            read_counts(partition_path(cfg.lake_root, Zone.CURATED, "steam_reviews", ds)),
        )
        enriched_path = partition_path(cfg.lake_root, Zone.ENRICHED, "steam_reviews", ds)
        enriched = read_partition(enriched_path)
        log.info("%-12s %-55s %8d", ds, enriched_path.replace(cfg.lake_root, "<lake>"), enriched.num_rows)
        log.info("%-12s   %s", "", sentiment_summary(cfg, ds, enriched))
    log.info("\nScheduled runs and backfills: `make standalone`, then `make backfill` (see README)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
