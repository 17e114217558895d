"""tweet_engagement_daily end to end with ``dag.test()`` on the sample's main day."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from shoplake.io.lake import read_counts, read_partition
from shoplake.ml.registry import version_files
from shoplake.paths import Zone, partition_path

pytestmark = [pytest.mark.integration, pytest.mark.spark]

DAY = "2022-12-22"


def test_the_sample_day_trains_a_gated_tracked_model_and_a_quiet_day_skips_training(airflow_db, lake_root, monkeypatch):
    monkeypatch.setenv(
        "SHOPLAKE_BASELINE_GATE", "off"
    )  # one sample day: the gate itself is tests/lake/ml/test_publishing.py
    from airflow.dag_processing.dagbag import DagBag

    from conftest import DAGS

    dag = DagBag(dag_folder=str(DAGS)).dags["tweet_engagement_daily"]
    dr = dag.test(run_conf={"ds": DAY, "window_days": 1, "n_estimators": 50})
    assert dr.state == "success"
    assert set({ti.task_id: ti.state for ti in dr.get_task_instances()}.values()) == {"success"}
    raw = read_counts(partition_path(lake_root, Zone.RAW, "ecommerce_tweets", DAY))
    curated = read_counts(partition_path(lake_root, Zone.CURATED, "ecommerce_tweets", DAY))
    assert raw["header_rows_skipped"] == 6  # 4 in shopee.csv, 2 in tokopedia.csv (SOURCE.md)
    assert raw["good"] == curated["in"] == curated["curated"] + curated["quarantined"]
    quarantine = read_partition(partition_path(lake_root, Zone.QUARANTINE, "curated_ecommerce_tweets", DAY))
    assert set(quarantine.column("reason").to_pylist()) == {
        "duplicate tweet (overlapping scrape runs; the copy with the highest counts kept)"
    }
    assert "author_key" in read_partition(partition_path(lake_root, Zone.CURATED, "ecommerce_tweets", DAY)).schema.names
    embeddings = read_partition(partition_path(lake_root, Zone.ENRICHED, "tweet_embeddings", DAY))
    assert embeddings.num_rows == curated["curated"]
    model = Path(lake_root) / "model" / "tweet_engagement"
    version = Path(version_files(lake_root, "tweet_engagement", DAY))
    metrics = json.loads((version / "metrics.json").read_text())
    assert set(metrics["models"]) == {"median", "linear_hashtags_followers", "xgb_tfidf_meta", "xgb_embeddings_meta",
                                      "per_account_mean"}  # fmt: skip
    assert {"mae", "rmse", "rmse_log1p", "spearman", "mae_nonzero"} <= set(metrics["models"]["median"])
    assert set(metrics["gate"]["baselines"]) == {"median", "per_account_mean"}
    assert metrics["best_model"] != "per_account_mean"  # a baseline is compared, never chosen to serve
    assert json.loads((model / "current.json").read_text())["model"] == metrics["best_model"]
    assert (version / "predicted_vs_actual.png").is_file()

    # the day before holds a dozen tweets: curated and embedded, then the run ends skipped (too few to train)
    quiet = dag.test(run_conf={"ds": "2022-12-21", "window_days": 1})
    got = {ti.task_id: ti.state for ti in quiet.get_task_instances()}
    assert (got["embed_tweets"], got["check_window"], got["train_tweet_engagement"]) == (
        "success",
        "skipped",
        "skipped",
    )
    assert not (model / "version=2022-12-21").exists()
