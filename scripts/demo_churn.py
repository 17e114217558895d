"""Run the three churn DAGs in-process (`airflow dags test`) on the shared samples and print each model comparison.

* telco_churn_weekly — the customer table, default Params (the whole zoo, 3-fold CV, the small grid);
* clickstream_churn_daily — 2019-10-01 with a 1-hour label period (the sample holds under three hours);
* sparkify_churn_daily — 2018-11-29 with the default definition: the sample has no Cancellation Confirmation, so
  the run builds features and stops, the reason in the check_features log.

Used by `make demo-churn`, with the Airflow environment of the Makefile. `make demo-churn-next-week` then runs
telco_churn_weekly a week later (the same customers): the new model meets the champion the first run published,
re-scored on the same held-out users (`--next-week`).
"""

from __future__ import annotations

import json
import logging

from demo import airflow_dags_test

from shoplake.config import Settings
from shoplake.io.lake import filesystem, read_counts
from shoplake.ml.registry import read_current_metrics, version_files
from shoplake.paths import Zone, churn_names, partition_path

log = logging.getLogger("demo_churn")

CLICKSTREAM_SAMPLE = {"window_days": 1, "label_horizon_hours": 1}
RUNS = (
    # dag id, run at (a manual run covers the interval before it), conf, source, partition
    ("telco_churn_weekly", "2026-11-23T05:00:00+00:00", {}, "telco", "2026-11-22"),
    ("clickstream_churn_daily", "2019-10-02", CLICKSTREAM_SAMPLE, "clickstream", "2019-10-01"),
    ("sparkify_churn_daily", "2018-11-30", {}, "sparkify", "2018-11-29"),
)


def comparison(cfg: Settings, source: str, ds: str) -> None:
    found = read_current_metrics(cfg.lake_root, churn_names(source).model)
    if found is None:
        log.info("  no %s_churn model", source)
        return
    current, metrics = found
    log.info("  %-20s %8s %8s %8s %8s %8s", "model", "cv F1w", "F1w", "F1 churn", "accuracy", "AUC")
    for r in metrics["models"]:
        cv = "" if r["cv_f1_weighted"] is None else f"{r['cv_f1_weighted']:.3f}"
        name = r["model"] + (" *" if r["best"] else "")
        log.info(
            "  %-20s %8s %8.3f %8.3f %8.3f %8.3f",
            name, cv, r["f1_weighted"], r["f1_churn"], r["accuracy"], r["auc"],
        )  # fmt: skip
    n = metrics["held_out"]
    serves = current.get("model") or "?"
    log.info("  held-out users %d (%d churned); current.json → %s, serving %s", n["n"], n["churned"],
             current["version"], serves)  # fmt: skip
    log.info("  gate: %s", (metrics.get("gate") or {}).get("reason", "no gate recorded"))
    if current["version"] != ds:  # this run's version was not promoted: what its gate said
        fs, root = filesystem(version_files(cfg.lake_root, churn_names(source).model, ds))
        mine = json.loads(fs.cat(f"{root}/metrics.json")).get("gate") or {}
        log.info("  this run's version %s (AUC %.4f): %s", ds, mine.get("score") or float("nan"),
                 mine.get("reason", "no gate recorded"))  # fmt: skip
    log.info("  comparison plot: %s/comparison.png", current["path"].replace(cfg.lake_root, "<lake>"))


#: the Telco run of the week after the first one (see ``--next-week``)
NEXT_WEEK = ("telco_churn_weekly", "2026-11-30T05:00:00+00:00", {}, "telco", "2026-11-29")


def main() -> int:
    import argparse

    p = argparse.ArgumentParser(description="run the churn DAGs on the samples and print each comparison")
    p.add_argument("--next-week", action="store_true", help="only telco_churn_weekly, a week after the first run")
    a = p.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    cfg = Settings.from_env()
    for dag_id, run_at, conf, source, ds in [NEXT_WEEK] if a.next_week else RUNS:
        log.info("== airflow dags test %s %s --conf '%s'", dag_id, run_at, json.dumps(conf))
        if not airflow_dags_test(dag_id, run_at, conf):
            return 1
        features = read_counts(partition_path(cfg.lake_root, Zone.ENRICHED, churn_names(source).features, ds))
        log.info("  features ds=%s: %s", ds, features)
        comparison(cfg, source, ds)
    log.info("\nSparkify over November 2018: backfill the days, then set churn_pages (docs/churn.md)")
    return 0


if __name__ == "__main__":
    from shoplake.jobconfig import run_script

    run_script(main)
