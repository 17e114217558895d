"""The engagement job on a crafted clickstream: levels, time hold-out, outputs, checks, gate, too little data."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click_events import shop_log, write_events

from shoplake.io.lake import read_partition
from shoplake.paths import Zone, partition_path
from shoplake.pipelines.engagement import check_engagement

pytestmark = [pytest.mark.spark, pytest.mark.integration]

DAY = "2031-01-01"


def _train(spark, lake: str, *extra: str) -> dict:
    import train_engagement_model as job

    argv = ["--ds", DAY, "--lake-root", lake, "--window-days", "1", "--min-train-rows", "10", "--mlflow-uri", "none"]
    return job.main([*argv, *extra], spark=spark)


def test_levels_hold_out_the_newest_sessions_and_the_version_reports_against_the_majority(spark, tmp_path):
    lake = str(tmp_path / "lake")
    write_events(lake, DAY)
    result = _train(spark, lake, "--test-fraction", "0.2")
    rows = read_partition(partition_path(lake, Zone.ENRICHED, "clickstream_engagement", DAY)).to_pandas()
    # u00–u09: {1: view, 2: view + cart} then 1000+u; u10–u14: 1, then 2; u15–u19: 3, then 1000+u
    assert len(rows) == 50
    assert rows["level"].value_counts().to_dict() == {0: 40, 1: 10}
    held = rows[rows["held_out"]]
    assert held["session_start"].min() > rows[~rows["held_out"]]["session_start"].max()  # by time, whole sessions
    assert 5 <= len(held) <= 20
    preds = read_partition(partition_path(lake, Zone.ENRICHED, "clickstream_engagement_predictions", DAY))
    assert preds.num_rows == len(held) == result["held_out_rows"]
    metrics = json.loads((Path(result["path"]) / "metrics.json").read_text())
    assert metrics["majority_baseline"]["predicts"] == "low"
    assert metrics["train_levels"] == {"low": 40 - len(held), "medium": 10}
    assert set(metrics["held_out"]["per_class"]) == {"low", "medium", "disengaged", "high"}
    assert (Path(result["path"]) / "confusion.png").stat().st_size > 1000
    # the model serves only when it beats the majority level on the same held-out sessions; otherwise the majority
    # level is published in its place (the pointer carries its class shares), and the version says why
    beats = result["macro_f1"] > result["baseline_macro_f1"]
    assert result["serves"] == ("model" if beats else "majority level")
    assert metrics["gate"]["baseline"] == "majority level"
    assert metrics["gate"]["reason"] == result["reason"]
    pointer = json.loads((Path(lake) / "model" / "clickstream_engagement" / "current.json").read_text())
    if not beats:
        assert "the baseline 'majority level' is published as the champion" in result["reason"]
        assert pointer["model"] == "majority_class"
        assert sum(pointer["class_probabilities"]) == pytest.approx(1.0)
    assert check_engagement(lake, DAY)["held_out"] == len(held)


def test_too_little_data_is_a_clear_data_error(spark, tmp_path):
    lake = str(tmp_path / "lake")
    write_events(lake, DAY, [r for r in shop_log() if r[0] >= "u15"])  # one level only
    with pytest.raises(ValueError, match=r"training needs >= 10 rows of >= 2 levels"):
        _train(spark, lake)


def test_training_twice_on_the_same_sessions_gives_the_same_figures_to_the_bit(spark, tmp_path):
    lake = str(tmp_path / "lake")
    write_events(lake, DAY)
    first = json.loads((Path(_train(spark, lake)["path"]) / "metrics.json").read_text())
    second = json.loads((Path(_train(spark, lake)["path"]) / "metrics.json").read_text())  # a rerun of the day
    assert second["held_out"] == first["held_out"]  # per-level precision / recall / F1, confusion, macro-F1
    assert second["gate"]["score"] == first["gate"]["score"]
