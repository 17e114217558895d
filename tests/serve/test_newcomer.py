"""The service as a newcomer meets it: the same sentiment defaults with or without make, a model that cannot load
reported at once (never a per-request hang), every champion served with a working example, 413 however a body is
sent, every answer logged, a features-table row accepted as it is, and /docs offline."""

from __future__ import annotations

import json
import logging
import shutil
from dataclasses import replace
from pathlib import Path

import pytest

pytest.importorskip("fastapi")
pytest.importorskip("xgboost")

from fastapi.testclient import TestClient
from serve_lake import settings_for

from shoplake.config import ServeSettings, Settings
from shoplake.serve.app import create_app
from shoplake.serve.models import ModelStore, ModelUnavailable, with_lake_sentiment_defaults


def _publish(lake: str, name: str, day: str, src: str, **extra) -> None:
    from shoplake.ml.registry import promote_if_not_worse

    shutil.copytree(src, f"{lake}/model/{name}/version={day}")
    promote_if_not_worse(lake, name, day, metric="macro_f1", score=0.5, extra=extra)


def test_serve_without_make_takes_the_lakes_sentiment_models_where_the_lake_has_them(tmp_path, tiny_sentiment_model):
    lake = str(tmp_path / "lake")

    def resolved(**env: str) -> str:
        return with_lake_sentiment_defaults(Settings.from_env({"SHOPLAKE_LAKE_ROOT": lake, **env})).sentiment_model_map

    bare = Settings.from_env({"SHOPLAKE_LAKE_ROOT": lake})
    assert resolved() == bare.sentiment_model_map  # nothing in the lake: the hub default stays
    _publish(lake, "sentiment_head", "2019-02-28", tiny_sentiment_model)
    _publish(lake, "sentiment_multilingual", "2019-02-28", tiny_sentiment_model)
    assert resolved() == f"en={lake}/model/sentiment_head,*={lake}/model/sentiment_multilingual"
    # what `make serve` exports resolves to the same models
    made = {"SHOPLAKE_SENTIMENT_MODEL": f"{lake}/model/sentiment_head",
            "SHOPLAKE_SENTIMENT_MULTILINGUAL_MODEL": f"{lake}/model/sentiment_multilingual"}  # fmt: skip
    assert resolved(**made) == resolved()
    # a model named explicitly wins
    assert resolved(SHOPLAKE_SENTIMENT_MODELS="en=org/x@abc") == "en=org/x@abc"


def test_a_hub_model_not_in_the_cache_is_unavailable_at_once(tmp_path, monkeypatch):
    monkeypatch.setenv("HF_HOME", str(tmp_path / "hf"))  # an empty cache
    lake = tmp_path / "lake"
    lake.mkdir()
    settings = Settings(lake_root=str(lake), serve=ServeSettings(pointer_ttl_s=0))  # the hub DistilBERT default
    c = TestClient(create_app(settings))
    status = c.get("/models").json()["models"]["sentiment"]
    assert status["available"] is False
    assert "not in the local Hugging Face cache" in status["reason"]
    got = c.post("/predict/sentiment", json={"texts": ["fun"]})
    assert got.status_code == 503
    assert "distilbert" in got.json()["detail"]["reason"]
    assert c.get("/readyz").json()["models"]["sentiment"] is False


def test_a_version_that_fails_to_load_answers_503_at_once_until_its_retry_is_due(tmp_path, service_lake, monkeypatch):
    import shoplake.serve.models as models

    own = str(tmp_path / "lake")
    shutil.copytree(service_lake, own)
    store = ModelStore(settings_for(own))
    loads = []
    spec = store.specs["purchase"]

    def broken(pointer):
        loads.append(pointer["version"])
        raise OSError("the booster file is truncated")

    store.specs["purchase"] = replace(spec, load=broken)
    c = TestClient(create_app(settings_for(own), store))
    first = c.post("/predict/purchase", json={"rows": [{"appid": 1}]})
    assert first.status_code == 503
    assert "truncated" in first.json()["detail"]["reason"]
    assert int(first.headers["Retry-After"]) == models.RETRY_S
    again = c.post("/predict/purchase", json={"rows": [{"appid": 1}]})
    assert again.status_code == 503
    assert len(loads) == 1  # not tried again within the retry delay
    status = c.get("/models").json()["models"]["purchase"]
    assert status["available"] is False
    assert "truncated" in status["reason"]
    assert c.get("/readyz").json()["unavailable"]["purchase"]
    later = models.time.monotonic() + models.RETRY_S + 1
    monkeypatch.setattr(models.time, "monotonic", lambda: later)
    assert c.post("/predict/purchase", json={"rows": [{"appid": 1}]}).status_code == 503
    assert len(loads) == 2  # due: tried once more, and the next delay doubles
    assert store._failed["purchase"].delay == 2 * models.RETRY_S
    store.specs["purchase"] = spec
    store.warm()  # warm() records failures instead of raising
    with pytest.raises(ModelUnavailable):
        store.get("purchase")


def test_every_champion_is_served_with_a_working_example(tmp_path, service_lake):
    from tiny_models import build_five_class_classifier

    own = str(tmp_path / "lake")
    shutil.copytree(service_lake, own)
    _publish(own, "review_sentiment", "2026-11-30", str(build_five_class_classifier(tmp_path / "five")))
    c = TestClient(create_app(settings_for(own)))
    status = c.get("/models").json()["models"]
    assert status["review_sentiment"]["available"] is True
    for key in ("purchase", "review_sentiment", "engagement", "recommendations"):
        info = c.get(f"/models/{key}")
        assert info.status_code == 200, (key, info.text)
        example = info.json()["example"]
        if key == "recommendations":
            assert c.get(f"/recommendations/{example['user_id']}").status_code == 200
            assert c.get(f"/similar/{example['product_id']}").status_code == 200
            continue
        path = {"purchase": "/predict/purchase", "review_sentiment": "/predict/review_sentiment",
                "engagement": "/predict/engagement"}[key]  # fmt: skip
        answer = c.post(path, json=example)
        assert answer.status_code == 200, (key, answer.text)
    stars = c.post("/predict/review_sentiment", json={"texts": ["great", "awful"]}).json()
    assert [sorted(p["probabilities"]) == sorted(stars["predictions"][0]["probabilities"]) for p in
            stars["predictions"]] == [True, True]  # fmt: skip
    for p in stars["predictions"]:
        assert 1 <= p["stars"] <= 5
        assert abs(sum(p["probabilities"].values()) - 1) < 1e-5
    # the champion is named, and a constant one says so
    assert status["engagement"]["champion"] == json.loads((Path(own) / "model/tweet_engagement/current.json")
                                                          .read_text())["model"]  # fmt: skip
    pointer = Path(own) / "model/tweet_engagement/current.json"
    pointer.write_text(json.dumps({**json.loads(pointer.read_text()), "model": "median"}))
    assert c.get("/models").json()["models"]["engagement"]["baseline"] is True


def test_a_review_model_fitted_on_titles_reads_them_from_the_request(tmp_path, service_lake):
    from tiny_models import build_titled_five_class_head

    own = str(tmp_path / "lake")
    shutil.copytree(service_lake, own)
    _publish(own, "review_sentiment", "2026-11-30", str(build_titled_five_class_head(tmp_path / "titled")))
    c = TestClient(create_app(settings_for(own)))

    def probabilities(body: dict) -> list[float]:
        answer = c.post("/predict/review_sentiment", json=body)
        assert answer.status_code == 200, answer.text
        return [p["probabilities"][k] for p in answer.json()["predictions"] for k in sorted(p["probabilities"])]

    texts = ["smells lovely, lasts all day", "faded in an hour"]
    untitled = probabilities({"texts": texts})
    assert probabilities({"texts": texts, "titles": ["", ""]}) == pytest.approx(untitled)
    titled = probabilities({"texts": texts, "titles": ["My new favourite", "Disappointed"]})
    assert titled != pytest.approx(untitled)
    wrong = c.post("/predict/review_sentiment", json={"texts": texts, "titles": ["one"]})
    assert wrong.status_code == 422
    assert "1 titles for 2 texts" in wrong.text


def test_a_features_table_row_is_accepted_as_it_is_and_its_extra_columns_named(client_lake):
    from purchase_data import feature_table

    c = client_lake
    row = feature_table("2019-03-04", 1, seed=5).to_pylist()[0]
    row = {k: (v.isoformat() if hasattr(v, "isoformat") else v) for k, v in row.items()}
    row = {k: (None if isinstance(v, float) and v != v else v) for k, v in row.items()}
    got = c.post("/predict/purchase", json={"rows": [row]})
    assert got.status_code == 200, got.text
    assert got.json()["ignored_columns"] == ["steam_purchase", "timestamp_created"]
    assert got.json()["predictions"][0]["recommendationid"] == row["recommendationid"]
    assert c.post("/predict/purchase", json={"rows": [{**row, "bogus": 1}]}).status_code == 422
    huge = c.post("/predict/purchase", json={"rows": [{**row, "votes_up": 1e39}]})  # float32 would make it inf
    assert huge.status_code == 422
    assert huge.json()["detail"][0]["field"] == "body.rows.0.votes_up"
    assert c.post("/predict/engagement", json={"text": "promo", "created_at": 1671703200}).status_code == 422


@pytest.fixture(scope="module")
def client_lake(service_lake, tiny_sentiment_model) -> TestClient:
    return TestClient(create_app(settings_for(service_lake, tiny_sentiment_model, max_body_bytes=2000)))


def test_oversized_bodies_are_413_however_sent_and_every_answer_is_logged(client_lake, caplog):
    def chunks():
        for _ in range(50):
            yield b'{"texts": ["' + b"y" * 100 + b'"]}'

    with caplog.at_level(logging.INFO, logger="shoplake.serve.access"):
        json_type = {"Content-Type": "application/json"}
        streamed = client_lake.post("/predict/sentiment", content=chunks(), headers=json_type)
        declared = client_lake.post("/predict/sentiment", json={"texts": ["y" * 3000]})
    assert streamed.status_code == 413, streamed.text
    assert "over 2000 bytes" in streamed.json()["detail"]
    assert declared.status_code == 413
    lines = [json.loads(r.getMessage()) for r in caplog.records if r.name == "shoplake.serve.access"]
    assert [(line["path"], line["status"]) for line in lines[-2:]] == [("/predict/sentiment", 413)] * 2
    assert streamed.headers["X-Request-ID"] == lines[-2]["request_id"]


def test_docs_are_served_offline_from_the_package(client_lake):
    page = client_lake.get("/docs")
    assert page.status_code == 200
    assert "cdn" not in page.text.lower()
    asset = page.text.split('src="', 1)[1].split('"', 1)[0]
    assert asset.startswith("/static-offline-docs/")
    assert client_lake.get(asset).status_code == 200


def test_an_unknown_query_parameter_is_refused_by_name(client_lake):
    got = client_lake.get("/recommendations/u1", params={"kk": 5})
    assert got.status_code == 422
    assert got.json()["detail"][0]["field"] == "query.kk"
    assert "this operation takes: k" in got.json()["detail"][0]["reason"]
    assert client_lake.get("/recommendations/u1", params={"k": 1}).status_code == 200
    assert client_lake.get("/models", params={"verbose": 1}).status_code == 422
    assert client_lake.get("/", params={"utm_source": "mail"}).status_code == 200  # the page is for people
    assert client_lake.get("/docs", params={"utm_source": "mail"}).status_code == 200


def test_a_row_models_example_is_a_real_row_of_its_newest_features_day(tmp_path):
    """The page's Predict on a churn or engagement-level model sends a row from the table the model learnt from
    (newest day, the model's columns and the ids, NaN as null), not an all-null row every model answers alike."""
    import pyarrow as pa

    from shoplake.io.lake import write_partition
    from shoplake.serve.routes.catalog import example_row

    lake = str(tmp_path / "lake")
    table = f"{lake}/enriched/telco_churn_features"
    write_partition(pa.table({"user_id": ["old"], "tenure": [1.0], "contract": ["m2m"], "label": [1.0]}),
                    f"{table}/ds=2024-01-01")  # fmt: skip
    write_partition(pa.table({"user_id": ["u7", "u8"], "tenure": [float("nan"), 30.0], "contract": ["two_year", "m2m"],
                              "charges": [70.5, 20.0], "label": [0.0, 1.0]}), f"{table}/ds=2024-01-02")  # fmt: skip
    row = example_row(lake, "telco_churn_features", ["user_id", "tenure", "contract", "charges", "payment"])
    assert row == {"user_id": "u7", "tenure": None, "contract": "two_year", "charges": 70.5, "payment": None}
    assert example_row(lake, "clickstream_engagement", ["user_id", "views"]) == {"user_id": None, "views": None}
