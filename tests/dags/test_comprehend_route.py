"""``steam_reviews_daily`` with ``SHOPLAKE_SENTIMENT_MODELS=*=comprehend``: the scoring job gets the ``aws_default``
connection's credentials and endpoint, and every review of a sample day goes to ``BatchDetectSentiment`` — here a
stand-in speaking the service's JSON protocol (``tests/fixtures/fake_comprehend.py``; moto has no batch API)."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest

from shoplake.io.lake import read_partition
from shoplake.paths import Zone, partition_path

pytestmark = [pytest.mark.integration, pytest.mark.spark]

DAY = "2019-03-02"


@pytest.fixture
def comprehend(monkeypatch, tmp_path):
    from object_stores import _process, free_port

    port, calls = free_port(), tmp_path / "calls.jsonl"
    server = [sys.executable, str(Path(__file__).resolve().parents[1] / "fixtures" / "fake_comprehend.py"), str(port),
              str(calls)]  # fmt: skip
    with _process(server, port, "fake comprehend"):
        extra = {"endpoint_url": f"http://127.0.0.1:{port}", "region_name": "us-east-1"}
        monkeypatch.setenv("AIRFLOW_CONN_AWS_DEFAULT", json.dumps({"conn_type": "aws", "login": "testing",
                                                                   "password": "testing", "extra": extra}))  # fmt: skip
        monkeypatch.setenv("SHOPLAKE_SENTIMENT_MODELS", "*=comprehend")
        for key in ("AWS_ENDPOINT_URL", "AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY"):  # only the connection's
            monkeypatch.delenv(key, raising=False)
        yield calls


def test_a_day_scored_by_comprehend_through_the_aws_connection(comprehend, steam_dag, run_day, lake_root):
    score = steam_dag.get_task("score_sentiment")
    assert score.aws_conn_id == "aws_default"
    run_day(steam_dag, DAY)
    enriched = read_partition(partition_path(lake_root, Zone.ENRICHED, "steam_reviews", DAY)).to_pylist()
    curated = read_partition(partition_path(lake_root, Zone.CURATED, "steam_reviews", DAY))
    assert len(enriched) == curated.num_rows
    scored = [r for r in enriched if r["sentiment_status"] == "scored"]
    assert {r["model_id"] for r in scored} == {"aws-comprehend"}
    assert {r["model_revision"] for r in scored} == {"2017-11-27"}
    assert all(0.0 <= r["positive_prob"] <= 1.0 for r in scored)
    # Comprehend's languages only, 25 documents a call at most, one language a call
    calls = [json.loads(line) for line in comprehend.read_text().splitlines()]
    assert calls
    assert all(c["target"].endswith("BatchDetectSentiment") for c in calls)
    assert all(1 <= c["n"] <= 25 for c in calls)
    assert sum(c["n"] for c in calls) == len(scored)
    others = [r for r in enriched if r["sentiment_status"] != "scored"]
    assert all(r["sentiment_status"] == "unsupported_language" for r in others)  # no other route here
    assert {r["language_code"] for r in others}.isdisjoint({"en", "de", "fr", "es", "pt", "it", "ja", "ko", "zh"})
