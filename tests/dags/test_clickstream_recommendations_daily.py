"""clickstream_recommendations_daily end to end with ``dag.test()``: spark-submit, quality checks, asset events."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path

import pytest
from click_events import write_events

from shoplake.ml.registry import version_files
from shoplake.paths import Zone, partition_path

pytestmark = [pytest.mark.integration, pytest.mark.spark]

DAY = "2031-02-01"
CONF = {"ds": DAY, "window_days": 1, "min_support": 0.2, "min_test_users": 5, "als_max_iter": 3, "min_train_rows": 10,
        "als_tune": False}  # fmt: skip


@pytest.fixture
def dag(airflow_db):
    from airflow.dag_processing.dagbag import DagBag

    from conftest import DAGS

    return DagBag(dag_folder=str(DAGS)).dags["clickstream_recommendations_daily"]


def _states(dr) -> dict[str, str]:
    return {ti.task_id: ti.state for ti in dr.get_task_instances()}


def test_a_manual_run_trains_checks_and_publishes_both_branches_then_a_thin_window_skips(dag, lake_root, monkeypatch):
    monkeypatch.setenv("SHOPLAKE_BASELINE_GATE", "off")  # 20 shoppers: too few for a model to beat popularity
    write_events(lake_root, DAY)
    dr = dag.test(run_conf=CONF)
    assert dr.state == "success"
    states = _states(dr)
    assert states.pop("run_other_event_days") == "skipped"  # a manual run: no other event days to start
    assert set(states.values()) == {"success"}
    for dataset in ("recs_item_item", "recs_fp_rules", "recs_fp_itemsets", "recs_als_user", "recs_popularity"):
        assert Path(partition_path(lake_root, Zone.ENRICHED, dataset, DAY)).is_dir(), dataset
    model = Path(lake_root) / "model" / "recommender"
    version = Path(version_files(lake_root, "recommender", DAY))
    metrics = json.loads((version / "metrics.json").read_text())
    assert {"item_item_cf", "fp_growth", "als", "popularity"} <= set(metrics)
    assert json.loads((model / "current.json").read_text())["version"] == DAY
    with sqlite3.connect(Path(lake_root) / "model" / "mlflow" / "mlflow.db") as con:  # the ALS factors, registered
        source = con.execute("select source from model_versions where name = 'recommender'").fetchall()
    assert source == [(str(version / "als"),)]
    checks = next(ti for ti in dr.get_task_instances() if ti.task_id == "check_recommendations")
    assert checks.xcom_pull(task_ids="check_recommendations")["rules_checked"] == 2
    engagement = checks.xcom_pull(task_ids="check_engagement")
    assert (engagement["rows"], engagement["ds"]) == (50, DAY)
    assert (
        json.loads((Path(lake_root) / "model" / "clickstream_engagement" / "current.json").read_text())["version"]
        == DAY
    )

    # the day before has no curated partition: the run ends skipped with the reason, nothing trains
    thin = dag.test(run_conf={**CONF, "ds": "2031-01-31"})
    got = _states(thin)
    assert got.pop("other_event_days") == "success"  # (an empty list: nothing else to start)
    assert {got[t] for t in got if t != "resolve_partition"} == {"skipped"}
    assert not (model / "version=2031-01-31").exists()
