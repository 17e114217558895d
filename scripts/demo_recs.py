"""Run clickstream_recommendations_daily in-process (`airflow dags test`) on the shared clickstream sample, then
print the recommenders' comparison, the engagement model's per-level F1 and one product's top-10 with names and
scores.

The sample holds under three hours of 2019-10-01, so the run uses ``window_days=1``. The day is curated first, by
the clickstream churn pipeline's own curate step (the recommendations DAG reads ``curated/clickstream_events`` and
never curates). Used by `make demo-recs`, with the Airflow environment of the Makefile.
"""

from __future__ import annotations

import json
import logging
import subprocess
import sys
from pathlib import Path

from demo import airflow_dags_test, run_version, train_and_read, verdict_line

from shoplake.config import Settings
from shoplake.io.lake import read_counts, read_partition
from shoplake.ml.recommend import MODELS
from shoplake.paths import (
    ENGAGEMENT_MODEL,
    PRODUCT_REVIEW_MAP,
    PRODUCT_REVIEWS,
    RECOMMENDER_MODEL,
    RECS_DATASETS,
    Zone,
    partition_path,
)

log = logging.getLogger("demo_recs")

DAY = "2019-10-01"
#: a day of the Sephora review sample (its reviews are of 2023-02..2026-02, after the clickstream's day)
REVIEWS_DAY = "2026-02-24"
CONF = {"ds": DAY, "window_days": 1}
ROOT = Path(__file__).resolve().parents[1]


def curate(cfg: Settings) -> bool:
    if Path(partition_path(cfg.lake_root, Zone.CURATED, "clickstream_events", DAY)).is_dir():
        return True
    log.info("== curating clickstream_events ds=%s (the churn pipeline's curate step)", DAY)
    args = ["--source", "clickstream", "--ds", DAY, "--lake-root", cfg.lake_root]
    run = subprocess.run(
        [sys.executable, str(ROOT / "jobs/spark/curate_churn_source.py"), *args], capture_output=True, text=True
    )
    if run.returncode != 0:
        sys.stderr.write(run.stderr[-4000:])
        return False
    log.info("  %s", run.stdout.strip().splitlines()[-1])
    return True


def product_names(cfg: Settings) -> dict[int, str]:
    """REES46 has no product names: category, brand and price stand in for one."""
    events = read_partition(
        partition_path(cfg.lake_root, Zone.CURATED, "clickstream_events", DAY),
        ["product_id", "category_code", "brand", "price"],
    ).to_pandas()
    first = events.drop_duplicates("product_id").set_index("product_id")
    return {
        int(p): f"{r.category_code or 'uncategorised'} · {r.brand or 'no brand'} · ${r.price:,.2f}"
        for p, r in first.iterrows()
    }


def main() -> int:
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    cfg = Settings.from_env()
    if not curate(cfg):
        return 1
    log.info("== airflow dags test product_reviews_daily --conf '%s'", json.dumps({"ds": REVIEWS_DAY}))
    if not airflow_dags_test("product_reviews_daily", "2026-02-25", {"ds": REVIEWS_DAY}):
        return 1
    counts = read_counts(partition_path(cfg.lake_root, Zone.CURATED, PRODUCT_REVIEWS, REVIEWS_DAY))
    log.info("  curated product reviews ds=%s: %s", REVIEWS_DAY, counts)
    found = train_and_read(cfg, "clickstream_recommendations_daily", "2019-10-02", CONF, RECOMMENDER_MODEL,
                           "train_recommenders")  # fmt: skip
    if found is None:
        return 1
    version, m = found
    k = m["k"]
    log.info("\nheld-out users %d (one product each; %.0f%% of them never seen in training → hit-rate ceiling %.3f)",
             m["split"]["test_users"], 100 * (1 - m["hit_rate_ceiling"]), m["hit_rate_ceiling"])  # fmt: skip
    log.info("  %-14s %8s %8s %8s %8s %9s", "model", f"P@{k}", f"R@{k}", f"NDCG@{k}", "hit rate", "coverage")
    for model in MODELS:
        r = m[model]
        name = model + (" *" if model == m["best_model"] else "")
        log.info("  %-14s %8.4f %8.4f %8.4f %8.4f %9.4f", name, r[f"precision_at_{k}"], r[f"recall_at_{k}"],
                 r[f"ndcg_at_{k}"], r["hit_rate"], r["coverage"])  # fmt: skip
    log.info("  matrix: %d users × %d products, %d non-zeros (density %.2e)", m["matrix"]["users"],
             m["matrix"]["items"], m["matrix"]["nnz"], m["matrix"]["density"])  # fmt: skip
    log.info("  %s; comparison plot: %s/comparison.png", verdict_line(found),
             version["path"].replace(cfg.lake_root, "<lake>"))  # fmt: skip
    if m.get("als_tuning", {}).get("tuned"):
        t = m["als_tuning"]
        log.info("  ALS chosen on %d validation users (inside the training events): %s", t["validation_users"],
                 t["chosen"])  # fmt: skip

    found = run_version(cfg, ENGAGEMENT_MODEL, DAY, "train_engagement_model")
    if found is None:
        return 1
    engagement, e = found
    held, base = e["held_out"], e["majority_baseline"]
    log.info(
        "\nengagement levels (%s), %d held-out rows of sessions from %s:", e["model"], held["n"], e["held_out_from"]
    )
    log.info("  %-11s %8s %8s %8s", "level", "support", "F1", "majority")
    for name in (e["levels"][key] for key in sorted(e["levels"], key=int)):  # low, medium, disengaged, high
        r = held["per_class"][name]
        f1 = "—" if r["f1"] is None else f"{r['f1']:.3f}"
        b = base["per_class"][name]["f1"]
        log.info("  %-11s %8d %8s %8s", name, r["support"], f1, "—" if b is None else f"{b:.3f}")
    where = engagement["path"].replace(cfg.lake_root, "<lake>")
    log.info("  macro-F1 %.3f vs majority baseline %.3f (always '%s'); confusion matrix: %s/confusion.png",
             held["macro_f1"], base["macro_f1"], base["predicts"], where)  # fmt: skip
    log.info("  %s", verdict_line(found))

    mapped = read_counts(partition_path(cfg.lake_root, Zone.CURATED, PRODUCT_REVIEW_MAP, DAY))
    log.info("\nproduct ↔ review map ds=%s (catalogue snapshot %s): %d of %d products matched by brand (%d with the "
             "category too), %d brand names found but the category conflicts; %d products with review figures "
             "(reviews up to ds only); %d of %d events on matched products", DAY, mapped["catalog_snapshot"],
             mapped["products_matched"], mapped["products"], mapped["by_brand_and_category"],
             mapped["brand_found_but_category_conflicts"], mapped["products_with_review_figures"],
             mapped["events_matched"], mapped["events"])  # fmt: skip

    names = product_names(cfg)
    recs = read_partition(partition_path(cfg.lake_root, Zone.ENRICHED, RECS_DATASETS["item_item"], DAY)).to_pandas()
    pop = read_partition(partition_path(cfg.lake_root, Zone.ENRICHED, RECS_DATASETS["popularity"], DAY)).to_pandas()
    listed = set(recs["product_id"])
    product = next(int(p) for p in pop["product_id"] if p in listed)  # the most popular product with neighbours
    log.info("\nitem-item top-%d for product %s (%s):", k, product, names.get(product, "?"))
    for r in recs[recs["product_id"] == product].sort_values("rec_rank").itertuples():
        log.info("  %2d. %-10s %.3f  %s", r.rec_rank, r.rec_product_id, r.score, names.get(int(r.rec_product_id), "?"))
    return 0


if __name__ == "__main__":
    from shoplake.jobconfig import run_script

    run_script(main)
