"""The xgboost.spark training job: the same split, model quality and published version as the local job."""

import json
import sys
from pathlib import Path

import pytest

pytest.importorskip("xgboost")
sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "fixtures"))
sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "jobs" / "train"))

from purchase_data import write_feature_days

pytestmark = pytest.mark.spark

DAYS = ["2019-03-01", "2019-03-02", "2019-03-03"]


def test_spark_training_matches_the_local_job_on_the_same_window(spark, tmp_path):
    import train_purchase_model as local_job
    import train_purchase_model_spark as job  # jobs/spark is on sys.path (conftest)

    lakes = {name: str(tmp_path / name) for name in ("spark", "local")}
    for lake in lakes.values():
        write_feature_days(lake, DAYS)
    args = ["--ds", DAYS[-1], "--window-days", "3", "--device", "cpu", "--mlflow-uri", "none"]
    on_spark = job.main([*args, "--lake-root", lakes["spark"], "--backend", "spark"], spark=spark)
    local = local_job.main([*args, "--lake-root", lakes["local"]])

    assert on_spark["promoted"]
    assert on_spark["rows"] == local["rows"] == 450
    m_spark = json.loads(Path(on_spark["path"], "metrics.json").read_text())
    m_local = json.loads(Path(local["path"], "metrics.json").read_text())
    assert m_spark["split"] == m_local["split"]  # the same rows in train / valid / test
    assert m_spark["backend"] == "spark"
    assert m_spark["starts_from"] == m_local["starts_from"] == "logit(game_target_rate)"  # the per-game rate, both
    assert on_spark["auc"] > 0.85
    assert abs(on_spark["auc"] - local["auc"]) < 0.02
    features = json.loads(Path(on_spark["path"], "features.json").read_text())["features"]
    assert features == json.loads(Path(local["path"], "features.json").read_text())["features"]
    assert m_spark["evaluation"]["test"] == {"rows": 90, "evaluated": 90, "sampled": False}


def test_evaluation_rows_on_the_driver_are_capped_by_a_seeded_sample(spark, tmp_path, monkeypatch):
    import train_purchase_model_spark as job

    from shoplake.pipelines import purchase_model

    monkeypatch.setattr(purchase_model, "SPARK_EVAL_MAX_ROWS", 40)
    lake = str(tmp_path / "lake")
    write_feature_days(lake, DAYS)
    args = ["--ds", DAYS[-1], "--window-days", "3", "--device", "cpu", "--mlflow-uri", "none", "--lake-root", lake]
    got = job.main([*args, "--backend", "spark"], spark=spark)
    metrics = json.loads(Path(got["path"], "metrics.json").read_text())
    assert metrics["evaluation"] == {
        "valid": {"rows": 45, "evaluated": 40, "sampled": True},
        "test": {"rows": 90, "evaluated": 40, "sampled": True},
    }
    assert metrics["split"]["test"]["rows"] == 90  # the split's counts are the whole window's, not the sample's
    assert "seeded sample of 40 rows" in metrics["backend_note"]
    assert 0.5 < got["auc"] <= 1.0
