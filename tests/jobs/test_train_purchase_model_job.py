"""The purchase training job on synthetic feature partitions: artifacts, gating, MLflow, the SageMaker round trip."""

import json
import sqlite3
import sys
import tarfile
from pathlib import Path

import pytest

pytest.importorskip("xgboost")
pytest.importorskip("mlflow")
sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "fixtures"))
sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "jobs" / "train"))

from purchase_data import write_feature_days

from shoplake.pipelines.purchase_model import VERSION_FILES, check_published

DAYS = ["2019-03-01", "2019-03-02", "2019-03-03"]


def _train(lake: str, ds: str, *extra: str) -> dict:
    import train_purchase_model as job

    return job.main(["--ds", ds, "--lake-root", lake, "--window-days", "3", "--device", "cpu", *extra])


def _registered(lake: str) -> list[tuple]:
    db = Path(lake) / "model" / "mlflow" / "mlflow.db"
    with sqlite3.connect(db) as con:
        versions = con.execute("select name, version from model_versions order by version").fetchall()
        aliases = con.execute("select name, alias, version from registered_model_aliases").fetchall()
    return versions, aliases


def test_training_writes_a_complete_version_tracks_it_and_gates_the_pointer(tmp_path):
    lake = str(tmp_path / "lake")
    write_feature_days(lake, DAYS)
    write_feature_days(lake, ["2019-03-04"], seed=9)

    first = _train(lake, "2019-03-03")
    version = Path(first["path"])  # the committed files of version=2019-03-03 (its pointer names them)
    model = tmp_path / "lake/model/steam_purchase"
    assert version.parent == model / "version=2019-03-03"
    assert version.name.startswith("v-")
    assert sorted(p.name for p in version.iterdir() if not p.name.startswith("_")) == sorted(VERSION_FILES)
    metrics = json.loads((version / "metrics.json").read_text())
    assert metrics["steam_purchase"]["auc"] > 0.85
    assert first["promoted"]
    assert {"auc", "pr_auc", "f1", "at_valid_threshold"} <= set(metrics["steam_purchase"])
    assert metrics["voted_up"]["auc"] > 0.6  # the second target is reported too
    assert metrics["split"]["test"]["rows"] == 90
    assert {"per-appid smoothed rate", "logistic regression", "positive_prob alone"} <= set(metrics["baselines"])
    assert {"game_target_rate", "game_log_reviews"} <= set(
        json.loads((version / "features.json").read_text())["features"]
    )
    unseen = metrics["unseen_games"]  # games the training rows never held, scored beside the baselines
    assert unseen["games"] >= 1
    assert "model_auc" in unseen or "note" in unseen
    assert "steam_purchase" in (version / "model_card.md").read_text()
    assert json.loads((version / "features.json").read_text())["target"] == "steam_purchase"
    assert json.loads((version / "config.json.snapshot").read_text())["seed"] == 7
    current = json.loads((model / "current.json").read_text())
    assert current["version"] == "2019-03-03"
    assert current["auc"] == first["auc"]
    assert check_published(lake, "2019-03-03", "steam_purchase")["current_version"] == "2019-03-03"
    assert _registered(lake) == ([("steam_purchase", 1)], [("steam_purchase", "champion", 1)])

    # a crippled challenger (one stump, no game columns) is worse on the same held-out rows: the pointer stays
    worse = _train(lake, "2019-03-04", "--n-estimators", "1", "--max-depth", "1", "--app-min-reviews", "0")
    assert not worse["promoted"]
    assert worse["champion_auc"] > worse["auc"]
    gate = json.loads(Path(worse["path"], "metrics.json").read_text())["gate"]
    assert gate["champion_lead"]["lead"] == pytest.approx(worse["auc"] - worse["champion_auc"])  # paired, per row
    assert gate["champion_lead"]["ci95"][0] <= gate["champion_lead"]["lead"] <= gate["champion_lead"]["ci95"][1]
    assert json.loads((model / "current.json").read_text())["version"] == "2019-03-03"
    assert Path(worse["path"], "model.ubj").is_file()  # the challenger is kept for inspection
    assert _registered(lake) == ([("steam_purchase", 1), ("steam_purchase", 2)], [("steam_purchase", "champion", 1)])

    # a rerun of the champion's own day replaces its version and re-points to it
    again = _train(lake, "2019-03-03")
    assert again["promoted"]
    assert again["auc"] == first["auc"]
    assert sorted(p.name for p in model.iterdir()) == ["current.json", "version=2019-03-03", "version=2019-03-04"]
    assert Path(again["path"]) != version
    assert Path(again["path"]).parent == model / "version=2019-03-03"


def test_too_few_rows_is_a_clear_error(tmp_path):
    lake = str(tmp_path / "lake")
    write_feature_days(lake, ["2019-03-01"], n=50)
    with pytest.raises(ValueError, match="widen the window"):
        _train(lake, "2019-03-01", "--mlflow-uri", "none")
    with pytest.raises(FileNotFoundError, match="no steam_purchase_features partition"):
        _train(lake, "2019-02-01", "--mlflow-uri", "none")


def test_sagemaker_round_trip_exported_channels_to_published_model(tmp_path):
    """The export the SageMaker task group uploads, a booster trained on it as the built-in algorithm does
    (headerless CSV, label first, no feature names), packed as model.tar.gz, evaluated and published."""
    import numpy as np
    import pandas as pd
    import xgboost as xgb

    lake = str(tmp_path / "lake")
    write_feature_days(lake, DAYS)
    channels = tmp_path / "channels"
    exported = _train(lake, "2019-03-03", "--export-uri", str(channels))
    assert (exported["train"], exported["validation"]) == (315, 45)
    assert exported["scale_pos_weight"] > 1  # more non-purchases than purchases in the synthetic days
    from shoplake_airflow.training import EXPORT_HANDOFF

    assert exported[EXPORT_HANDOFF[0]] == exported["scale_pos_weight"]  # the key the SageMaker group pulls exists
    train = pd.read_csv(channels / "train" / "data.csv", header=None)
    assert len(train) == 315
    assert set(train[0].unique()) == {0.0, 1.0}
    valid = pd.read_csv(channels / "validation" / "data.csv", header=None)
    booster = xgb.train(
        {"objective": "binary:logistic", "tree_method": "hist", "max_depth": 4, "eta": 0.1, "seed": 7},
        xgb.DMatrix(train.iloc[:, 1:].to_numpy(), label=train[0].to_numpy(), missing=np.nan),
        num_boost_round=80,
        evals=[(xgb.DMatrix(valid.iloc[:, 1:].to_numpy(), label=valid[0].to_numpy()), "validation")],
        verbose_eval=False,
    )
    (tmp_path / "out").mkdir()
    booster.save_model(str(tmp_path / "out" / "xgboost-model"))
    with tarfile.open(tmp_path / "model.tar.gz", "w:gz") as tar:
        tar.add(tmp_path / "out" / "xgboost-model", arcname="xgboost-model")

    result = _train(lake, "2019-03-03", "--backend", "sagemaker", "--booster-path", str(tmp_path / "model.tar.gz"))
    assert result["promoted"]
    assert result["auc"] > 0.85
    metrics = json.loads(Path(result["path"], "metrics.json").read_text())
    assert metrics["backend"] == "sagemaker"
    assert metrics["rounds"] == 80

    bad = tmp_path / "bad.ubj"
    xgb.train({}, xgb.DMatrix(np.ones((4, 2)), label=[0, 1, 0, 1]), 1).save_model(str(bad))
    with pytest.raises(ValueError, match="has 2 features"):
        _train(lake, "2019-03-03", "--booster-path", str(bad), "--mlflow-uri", "none")


def test_the_gate_counts_the_window_and_says_what_to_do_when_it_is_too_thin(tmp_path):
    from shoplake.pipelines.purchase_model import check_features

    lake = str(tmp_path / "lake")
    write_feature_days(lake, ["2019-03-01", "2019-03-03"], n=150)
    ok = check_features(lake, "2019-03-03", 3, 200)
    assert (ok["trainable"], ok["partitions"], ok["rows"], ok["reason"]) == (True, 2, 300, "")
    thin = check_features(lake, "2019-03-03", 1, 200)
    assert (thin["trainable"], thin["rows"]) == (False, 150)
    assert thin["reason"].startswith("150 feature rows in the 1 days up to 2019-03-03 (< min_rows 200)")
    empty = check_features(lake, "2018-01-07", 7, 200)
    assert (empty["trainable"], empty["partitions"], empty["path"]) == (False, 0, None)
    assert "run steam_reviews_daily for those days first" in empty["reason"]


def test_the_gate_waits_for_min_new_days_since_the_current_model(tmp_path):
    from shoplake.pipelines.purchase_model import check_features

    lake = str(tmp_path / "lake")
    write_feature_days(lake, ["2019-03-01", "2019-03-02", "2019-03-03"], n=100)
    assert check_features(lake, "2019-03-03", 3, 200, min_new_days=7)["trainable"]  # no model yet: train
    model = Path(lake) / "model" / "steam_purchase"
    (model / "version=2019-03-01").mkdir(parents=True)
    (model / "current.json").write_text(json.dumps({"version": "2019-03-01", "path": "version=2019-03-01"}))
    waiting = check_features(lake, "2019-03-03", 3, 200, min_new_days=3)
    assert waiting["trainable"] is False
    assert waiting["reason"].startswith("2 day(s) of features newer than the current model (version 2019-03-01)")
    assert check_features(lake, "2019-03-03", 3, 200, min_new_days=2)["trainable"]
    assert check_features(lake, "2019-03-03", 3, 200, min_new_days=0)["trainable"]
    assert check_features(lake, "2019-03-01", 3, 100, min_new_days=7)["trainable"]  # rerun of the current version


def test_training_twice_on_the_same_lake_gives_the_same_metrics_and_model(tmp_path):
    """Deterministic for a given input and seed: two lakes holding the same feature days train to the same
    ``metrics.json`` (every figure) and the same booster bytes (XGBoost ``hist`` on the CPU is deterministic)."""
    versions = []
    for name in ("a", "b"):
        lake = str(tmp_path / name)
        write_feature_days(lake, DAYS)
        versions.append(Path(_train(lake, "2019-03-03", "--mlflow-uri", "none")["path"]))
    metrics = [json.loads((v / "metrics.json").read_text()) for v in versions]
    assert metrics[0] == metrics[1]
    for name in ("model.ubj", "features.json", "games.json", "feature_importance.csv"):
        assert (versions[0] / name).read_bytes() == (versions[1] / name).read_bytes(), name
