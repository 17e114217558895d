"""End to end on the real sample: steam_reviews_daily for two days, then steam_purchase_model_weekly, every zone."""

import datetime as dt
import json
import sqlite3
from pathlib import Path

import pytest

from shoplake.io.lake import read_counts, read_partition
from shoplake.paths import Zone, partition_path, quarantine_path

pytestmark = [pytest.mark.integration, pytest.mark.spark]

DAYS = ("2019-03-01", "2019-03-02")


@pytest.fixture
def purchase_dag(steam_dag):
    from airflow.dag_processing.dagbag import DagBag

    from conftest import DAGS

    return DagBag(dag_folder=str(DAGS)).dags["steam_purchase_model_weekly"]


def test_manual_runs_name_their_day_and_run_one_at_a_time(purchase_dag):
    assert purchase_dag.params["ds"] is None
    assert purchase_dag.max_active_runs == 1


def test_whole_pipeline_fills_every_zone_and_publishes_a_gated_tracked_model(
    steam_dag, purchase_dag, run_day, lake_root
):
    for ds in DAYS:
        run_day(steam_dag, ds)

    conf = {"ds": DAYS[-1], "window_days": 2, "n_estimators": 200, "seed": 11, "min_new_days": 0}
    run_at = dt.datetime(2019, 3, 4, 4, tzinfo=dt.UTC)
    dr = purchase_dag.test(logical_date=run_at, run_conf=conf)
    assert dr.state == "success"
    # SHOPLAKE_TRAIN_BACKEND=auto: a window this small trains locally; the Spark path is skipped, not failed
    states = {ti.task_id: ti.state for ti in dr.get_task_instances()}
    assert states["choose_train_purchase_model_backend"] == "success"
    assert (states["train_purchase_model"], states["train_purchase_model_spark"]) == ("success", "skipped")

    rows = 0
    for ds in DAYS:
        raw = read_partition(partition_path(lake_root, Zone.RAW, "steam_reviews", ds))
        curated_path = partition_path(lake_root, Zone.CURATED, "steam_reviews", ds)
        counts = read_counts(curated_path)
        assert counts["in"] == raw.num_rows
        curated = read_partition(curated_path)
        enriched = read_partition(partition_path(lake_root, Zone.ENRICHED, "steam_reviews", ds))
        features = read_partition(partition_path(lake_root, Zone.ENRICHED, "steam_purchase_features", ds))
        assert enriched.num_rows == curated.num_rows == features.num_rows == counts["curated"]
        for stage in ("load", "raw", "curated", "features"):
            assert Path(quarantine_path(lake_root, stage, "steam_reviews", ds)).is_dir()
        rows += features.num_rows

    model = Path(lake_root) / "model" / "steam_purchase"
    from shoplake.ml.registry import read_current, version_files

    version = Path(version_files(lake_root, "steam_purchase", DAYS[-1]))
    assert version.parent == model / f"version={DAYS[-1]}"  # its committed files: version=<ds>/v-…
    metrics = json.loads((version / "metrics.json").read_text())
    # beside its named baselines on the same held-out rows; promoted only if it beats the strongest (real data: the
    # game's own past purchase rate is a strong baseline on these two days, and the verdict must say what happened)
    gate = metrics["gate"]
    assert set(gate["baselines"]) == {"per-appid smoothed rate", "positive_prob alone", "logistic regression"}
    current = read_current(lake_root, "steam_purchase")
    strongest = max(gate["baselines"], key=gate["baselines"].get)
    # a lead beyond noise: above the strongest baseline, on rows that can rank, by a paired-bootstrap interval above 0
    lead = gate["leads"][strongest]
    assert lead["ci95"][0] <= lead["lead"] <= lead["ci95"][1]
    assert lead["lead"] == pytest.approx(metrics["steam_purchase"]["auc"] - gate["baselines"][strongest])
    beats = metrics["steam_purchase"]["auc"] > gate["baselines"][strongest] and lead["ci95"][0] > 0
    assert gate["beats_baseline"] is (beats and not gate["unranked"]), gate["reason"]
    if gate["beats_baseline"]:
        assert current.get("model") != "per_game_rate"
        assert json.loads((model / "current.json").read_text())["path"] == f"version={DAYS[-1]}"  # relative
    elif strongest == "per-appid smoothed rate":  # the baseline wins and the version serves it (games.json)
        assert current["model"] == "per_game_rate", gate["reason"]
        assert gate["reason"].startswith("the baseline 'per-appid smoothed rate' is published as the champion")
    else:
        assert current is None
        assert gate["reason"].startswith("not promoted: ")  # and the version is written all the same
    assert sum(v["rows"] for v in metrics["split"].values()) == rows  # trained on both days, nothing dropped
    held_out = metrics["steam_purchase"]
    assert held_out["n"] == rows - int(rows * 0.8)
    assert 0.5 < held_out["auc"] <= 1.0  # the game-level features carry real signal on the sample
    assert json.loads((version / "config.json.snapshot").read_text())["seed"] == 11
    assert {p.name for p in version.iterdir()} >= {"model.ubj", "games.json", "roc.png", "model_card.md",
                                                   "feature_importance.png"}  # fmt: skip

    db = model.parent / "mlflow" / "mlflow.db"
    with sqlite3.connect(db) as con:
        aliases = con.execute("select name, alias from registered_model_aliases").fetchall()
        params = dict(con.execute("select key, value from params").fetchall())
    assert (("steam_purchase", "champion") in aliases) is (current is not None)  # the alias follows the pointer
    assert params["window_days"] == "2"
    assert dr.get_task_instance("check_model").state == "success"
    assert dr.get_task_instance("publish_copy").state == "skipped"  # no SHOPLAKE_PUBLISH_URI here (see the S3 test)


def test_a_window_without_data_ends_skipped_with_the_reason_not_failed_and_retried(purchase_dag):
    """What unpausing on an empty lake does: the weekly run skips (no retries blocking manual runs)."""
    run_at = dt.datetime(2001, 1, 8, 4, tzinfo=dt.UTC)
    dr = purchase_dag.test(logical_date=run_at, run_conf={"ds": "2001-01-07"})
    tis = {ti.task_id: ti for ti in dr.get_task_instances()}
    assert dr.state == "success"
    assert tis["resolve_partition"].state == "success"
    assert {t: tis[t].state for t in ("check_features", "train_purchase_model", "check_model")} == {
        "check_features": "skipped",
        "train_purchase_model": "skipped",
        "check_model": "skipped",
    }
    assert tis["check_features"].try_number == 1
