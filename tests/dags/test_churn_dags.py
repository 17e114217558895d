"""The churn DAGs end to end with ``dag.test()`` on the real samples: spark-submit jobs, branches, every zone."""

import datetime as dt
import json
from pathlib import Path

import pytest

from shoplake.io.lake import read_counts, read_partition
from shoplake.ml.registry import version_files
from shoplake.paths import Zone, partition_path, quarantine_path

pytestmark = [pytest.mark.integration, pytest.mark.spark]


@pytest.fixture
def dags(airflow_db):
    from airflow.dag_processing.dagbag import DagBag

    from conftest import DAGS

    return DagBag(dag_folder=str(DAGS)).dags


def states(dr) -> dict[str, str]:
    return {ti.task_id: ti.state for ti in dr.get_task_instances()}


def test_telco_trains_the_zoo_then_scores_with_the_champion_when_labels_are_too_thin(dags, lake_root):
    dag = dags["telco_churn_weekly"]
    first = dag.test(logical_date=dt.datetime(2026, 11, 23, 5, tzinfo=dt.UTC), run_conf={"grid": "tiny", "folds": 2})
    assert first.state == "success"
    assert set(states(first).values()) == {"success"}
    ds = "2026-11-22"  # the last day of the week before the run
    counts = read_counts(partition_path(lake_root, Zone.CURATED, "telco_customers", ds))
    assert (counts["in"], counts["curated"], counts["quarantined"]) == (7043, 7043, 0)
    assert read_partition(partition_path(lake_root, Zone.RAW, "telco_customers", ds)).num_rows == 7043
    assert Path(quarantine_path(lake_root, "curated", "telco_customers", ds)).is_dir()
    assert read_counts(partition_path(lake_root, Zone.ENRICHED, "telco_churn_features", ds))["churned"] == 1869

    model = Path(lake_root) / "model" / "telco_churn"
    current = json.loads((model / "current.json").read_text())
    assert current["version"] == ds
    version = Path(version_files(lake_root, "telco_churn", ds))
    metrics = json.loads((version / "metrics.json").read_text())
    assert [m["model"] for m in metrics["models"][:-1]] != []
    assert {m["model"] for m in metrics["models"]} == {
        "logistic_regression",
        "random_forest",
        "gbt",
        "linear_svc",
        "majority_baseline",
    }
    assert metrics["best_model"] == current["model"]
    held_out = metrics["held_out"]
    assert held_out["f1_churn"] > metrics["majority_baseline"]["f1_churn"] == 0.0
    assert held_out["auc"] > 0.75  # contract and tenure carry real signal on the sample
    lead = metrics["gate"]["leads"]["majority class"]  # a lead beyond noise: its paired-bootstrap interval above 0
    assert lead["ci95"][0] > 0.2
    assert not metrics["gate"]["unranked"]
    assert "lead [+" in metrics["gate"]["reason"]
    assert json.loads((version / "config.json.snapshot").read_text())["folds"] == 2
    predictions = read_partition(partition_path(lake_root, Zone.ENRICHED, "telco_churn_predictions", ds))
    assert predictions.num_rows == 7043
    assert set(predictions.column("model_version").to_pylist()) == {ds}

    # a week later, with a bar no class clears: no training, the champion scores the new snapshot
    later = "2026-11-29"
    second = dag.test(logical_date=dt.datetime(2026, 11, 30, 5, tzinfo=dt.UTC), run_conf={"min_class_users": 5000})
    assert second.state == "success"
    got = states(second)
    assert (got["train_churn_models"], got["check_model"]) == ("skipped", "skipped")
    assert (got["predict_churn"], got["check_predictions"]) == ("success", "success")
    scored = read_partition(partition_path(lake_root, Zone.ENRICHED, "telco_churn_predictions", later))
    assert set(scored.column("model_version").to_pylist()) == {ds}
    assert not (model / f"version={later}").exists()


def test_sparkify_default_definition_on_the_sample_stops_after_features(dags, lake_root):
    dag = dags["sparkify_churn_daily"]
    dr = dag.test(logical_date=dt.datetime(2018, 11, 30, tzinfo=dt.UTC), run_conf={"window_days": 1})
    assert dr.state == "success"
    got = states(dr)
    assert got["check_features"] == "success"
    assert {got[t] for t in ("train_churn_models", "check_model", "predict_churn", "check_predictions")} == {"skipped"}
    ds = "2018-11-29"
    assert read_counts(partition_path(lake_root, Zone.CURATED, "sparkify_events", ds))["curated"] == 366
    features = read_counts(partition_path(lake_root, Zone.ENRICHED, "sparkify_churn_features", ds))
    assert features["churned"] == 0
    assert features["churn_pages"] == ["Cancellation Confirmation"]
    assert not (Path(lake_root) / "model" / "sparkify_churn").exists()
