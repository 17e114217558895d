"""Property-based tests of the prediction service: whatever a client sends — any JSON value, any unicode (lone
surrogates too), NaN / Infinity / out-of-range numbers, huge and deep bodies — the answer is JSON and 2xx/4xx,
never 5xx, and an error never echoes more than a short excerpt of the input."""

from __future__ import annotations

import logging

import pytest

pytest.importorskip("fastapi")
pytest.importorskip("xgboost")

from fastapi.testclient import TestClient
from fuzz_bodies import any_json, check_answer, near_valid, post
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from serve_lake import settings_for

from shoplake.serve.app import create_app

#: derandomized: CI runs the same examples every time; a failure prints the body to replay
FUZZ = settings(
    max_examples=120, deadline=None, derandomize=True, suppress_health_check=[HealthCheck.function_scoped_fixture]
)

ENDPOINTS = ["/predict/purchase", "/predict/sentiment", "/predict/engagement", "/predict/churn/clickstream"]
#: this lake has no churn model: a well-formed churn request is a 503 saying so (tests/lake/ml/test_spark_portable.py
#: fuzzes the endpoint over a real one)
NO_CHURN_MODEL = "no current version of model 'clickstream_churn'"


@pytest.fixture(scope="module")
def client(service_lake, tiny_sentiment_model) -> TestClient:
    app = create_app(settings_for(service_lake, tiny_sentiment_model, max_batch=40, max_text_chars=500))
    return TestClient(app, raise_server_exceptions=False)


@pytest.mark.parametrize("path", ENDPOINTS)
@FUZZ
@given(body=any_json)
def test_any_json_value_gets_a_json_answer_never_a_5xx(client, path, body):
    check_answer(post(client, path, body), NO_CHURN_MODEL if "churn" in path else None)


@pytest.mark.parametrize("path", ENDPOINTS)
@FUZZ
@given(data=st.data())
def test_bodies_shaped_like_the_endpoints_never_get_a_5xx(client, path, data):
    body = data.draw(near_valid[path])
    check_answer(post(client, path, body), NO_CHURN_MODEL if "churn" in path else None)


@pytest.mark.parametrize(
    ("path", "body", "field"),
    [
        ("/predict/engagement", {"text": float("nan")}, "body.text"),
        ("/predict/engagement", {"text": "ok", "hashtags": float("inf")}, "body.hashtags"),
        ("/predict/engagement", {"text": "ok", "followers": 10**400}, "body.followers"),
        ("/predict/purchase", {"rows": [{"appid": 570, "votes_up": float("nan")}]}, "body.rows.0.votes_up"),
        ("/predict/purchase", {"rows": [{"appid": 570, "votes_up": float("-inf")}]}, "body.rows.0.votes_up"),
        ("/predict/purchase", {"rows": [{"appid": 10**30}]}, "body.rows.0.appid"),
        ("/predict/sentiment", {"texts": ["fine", "\ud800"]}, "body.texts.1"),
        ("/predict/churn/clickstream", {"rows": [{"sessions": float("nan")}]}, "body.rows.0.sessions"),
    ],
)
def test_nan_infinity_out_of_range_and_lone_surrogates_are_422_naming_the_field(client, path, body, field):
    resp = post(client, path, body)
    assert resp.status_code == 422, resp.text[:500]
    detail = resp.json()["detail"]
    assert any(e["field"].startswith(field) for e in detail), detail
    assert resp.headers["X-Request-ID"]


def test_huge_and_deep_bodies(client):
    # the case: a 200,000-item batch (about 800 KB) once came back as an 800 KB error
    huge = {"texts": ["a"] * 200_000}
    resp = post(client, "/predict/sentiment", huge)
    assert resp.status_code in (413, 422), resp.text[:300]
    assert len(resp.content) < 2_000, len(resp.content)
    many_bad = {"rows": [{"appid": "x"}] * 40}
    resp = post(client, "/predict/purchase", many_bad)
    body = check_answer(resp)
    assert body["errors_total"] == 40
    assert len(body["detail"]) == 20
    deep = "[" * 100_000 + "]" * 100_000  # deeper than Python's parser recurses
    for path in ENDPOINTS:
        resp = client.post(path, content=deep, headers={"content-type": "application/json"})
        assert 400 <= resp.status_code < 500, (path, resp.status_code, resp.text[:300])
        resp.json()
    long_key = {"rows": [{"k" * 100_000: 1}]}
    resp = post(client, "/predict/purchase", long_key)
    assert resp.status_code == 422
    assert len(resp.content) < 2_000, len(resp.content)


def test_an_unexpected_failure_is_a_json_500_with_the_request_id_and_the_trace_only_in_the_log(
    service_lake, tiny_sentiment_model, caplog
):
    app = create_app(settings_for(service_lake, tiny_sentiment_model))

    def broken(key):
        raise RuntimeError("secret internals /etc/shoplake")

    app.state.store.get = broken
    client = TestClient(app, raise_server_exceptions=False)
    with caplog.at_level(logging.ERROR, logger="shoplake.serve"):
        resp = client.get("/models/purchase", headers={"X-Request-ID": "req-123"})
    assert resp.status_code == 500
    assert resp.json() == {"detail": "internal error", "request_id": "req-123"}
    assert "secret internals" not in resp.text
    logged = [r for r in caplog.records if "req-123" in r.getMessage()]
    assert logged, caplog.text
    assert logged[0].exc_info
    assert "secret internals" in str(logged[0].exc_info[1])


@pytest.mark.parametrize(
    "value",
    ["x" * 78 + "\ud800" * 5, {"k\ud800" * 10: "\udc00" * 30}, ["\ud800"] * 40],
    ids=["string", "keys-and-values", "list"],
)
def test_an_excerpt_of_lone_surrogates_stays_within_its_limit(value):
    """A lone surrogate is written as its six-character escape: the cut comes after that, so the excerpt never
    grows past its limit (hypothesis found a 422 whose excerpt did)."""
    from shoplake.serve.errors import EXCERPT_CHARS, excerpt

    text = excerpt(value)
    assert len(text) <= EXCERPT_CHARS, text
    text.encode("utf-8")  # valid UTF-8
