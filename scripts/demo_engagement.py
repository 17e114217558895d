"""Run tweet_engagement_daily in-process (`airflow dags test`) on the tweet sample's two days, then print the model
comparison. Used by `make demo-engagement`, with the Airflow environment of the Makefile.

The sample covers 2022-12-21 23:42 .. 2022-12-22 12:27 UTC: the first day holds a dozen tweets (its run curates and
embeds them, then ends skipped: too few to train), and the second day's run trains over the two-day window.
"""

from __future__ import annotations

import json
import logging

from demo import airflow_dags_test, run_version, verdict_line

from shoplake.config import Settings
from shoplake.io.lake import read_counts
from shoplake.ml.engagement_models import MODELS
from shoplake.paths import TWEET_ENGAGEMENT_MODEL, TWEETS, Zone, partition_path

log = logging.getLogger("demo_engagement")

DAYS = ("2022-12-21", "2022-12-22")


def main() -> int:
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    cfg = Settings.from_env()
    for day in DAYS:
        conf = {"ds": day, "window_days": 2, "min_rows": 20}
        log.info("== airflow dags test tweet_engagement_daily --conf '%s'", json.dumps(conf))
        ok = airflow_dags_test("tweet_engagement_daily", day, conf)  # the first day's run ends skipped: too few
        raw = read_counts(partition_path(cfg.lake_root, Zone.RAW, TWEETS, day))
        cur = read_counts(partition_path(cfg.lake_root, Zone.CURATED, TWEETS, day))
        log.info("  ds=%s: %d rows read (%d repeated header rows skipped), %d curated, %d quarantined", day,
                 raw["in"], raw.get("header_rows_skipped", 0), cur["curated"], cur["quarantined"])  # fmt: skip
        if not ok and day == DAYS[-1]:
            return 1
    found = run_version(cfg, TWEET_ENGAGEMENT_MODEL, DAYS[-1], "train_engagement")
    if found is None:
        return 1
    version, m = found
    split = m["split"]
    log.info("\nengagement = likes + retweets; %d training tweets, %d held out (from %s), %.0f%% of them at 0",
             split["train"], split["test"], split["test_from"], 100 * split["test_zero_share"])  # fmt: skip
    log.info("  %-26s %7s %7s %10s %9s %12s", "model", "MAE", "RMSE", "RMSE log1p", "Spearman", "MAE non-zero")
    for name in [*[n for n in MODELS if n in m["models"]], *[n for n in m["models"] if n not in MODELS]]:
        r = m["models"][name]
        rho = "—" if r["spearman"] is None else f"{r['spearman']:.3f}"
        nz = "—" if r["mae_nonzero"] is None else f"{r['mae_nonzero']:.2f}"
        star = " *" if name == m["best_model"] else ""
        log.info("  %-26s %7.3f %7.3f %10.3f %9s %12s", name + star, r["mae"], r["rmse"], r["rmse_log1p"], rho, nz)
    log.info("  %s; plot: %s/predicted_vs_actual.png", verdict_line(found),
             version["path"].replace(cfg.lake_root, "<lake>"))  # fmt: skip
    return 0


if __name__ == "__main__":
    from shoplake.jobconfig import run_script

    run_script(main)
