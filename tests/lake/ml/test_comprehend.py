"""AWS Comprehend as a sentiment route (``shoplake.ml.sentiment.comprehend``), against botocore's own service model:
a Stubber client validates every request's shape (batches of at most 25, one language each, documents within the
byte limit), and answers with partial failures and throttling. The route beside the others in the router; refused
documents quarantined with their reason, never the partition lost."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import numpy as np
import pyarrow as pa
import pytest

pytest.importorskip("boto3")

from botocore.stub import ANY, Stubber

from shoplake.ml.sentiment.comprehend import (
    BATCH_SIZE,
    MAX_BYTES,
    ComprehendClassifier,
    positive_prob,
    truncate_utf8,
)

SCORE = {"Positive": 0.8, "Negative": 0.1, "Neutral": 0.05, "Mixed": 0.05}


@pytest.fixture
def stubbed():
    import boto3

    client = boto3.client("comprehend", region_name="us-east-1", aws_access_key_id="x", aws_secret_access_key="x")
    with Stubber(client) as stub:
        yield client, stub
        stub.assert_no_pending_responses()


def _ok(n: int, errors: dict[int, str] | None = None) -> dict:
    errors = errors or {}
    results = [{"Index": i, "Sentiment": "POSITIVE", "SentimentScore": SCORE} for i in range(n) if i not in errors]
    return {
        "ResultList": results,
        "ErrorList": [{"Index": i, "ErrorCode": code, "ErrorMessage": "no"} for i, code in errors.items()],
    }


def test_texts_go_in_batches_of_25_one_language_each_and_unsupported_languages_stay_out(stubbed):
    client, stub = stubbed
    langs = ["en"] * 30 + ["de"] * 3 + ["xx"] * 2
    for n, lang in ((25, "en"), (5, "en"), (3, "de")):
        stub.add_response("batch_detect_sentiment", _ok(n), {"TextList": ANY, "LanguageCode": lang})
    clf = ComprehendClassifier(client)
    scores, errors = clf.score([f"review {i}" for i in range(35)], langs)
    assert errors == {}
    assert np.allclose(scores[:33], positive_prob(SCORE))
    assert np.isnan(scores[33:]).all()  # Comprehend has no 'xx': never sent
    assert clf.usage["calls"] == 3
    assert clf.usage["units"] == 33 * 3  # short documents bill the minimum of 3 units each
    assert BATCH_SIZE == 25


def test_a_long_text_is_cut_to_the_byte_limit_at_a_character_boundary(stubbed):
    client, stub = stubbed
    text = "é" * 3000  # 6,000 UTF-8 bytes
    cut = truncate_utf8(text)
    assert len(cut.encode("utf-8")) <= MAX_BYTES
    assert cut == "é" * (MAX_BYTES // 2)
    stub.add_response("batch_detect_sentiment", _ok(1), {"TextList": [cut], "LanguageCode": "fr"})
    ComprehendClassifier(client).score([text], ["fr"])


def test_per_item_errors_leave_that_row_unscored_with_its_reason(stubbed):
    client, stub = stubbed
    stub.add_response("batch_detect_sentiment", _ok(3, {1: "InternalServerException"}),
                      {"TextList": ANY, "LanguageCode": "en"})  # fmt: skip
    scores, errors = ComprehendClassifier(client).score(["a", "b", "c"], ["en"] * 3)
    assert np.isnan(scores[1])
    assert not np.isnan(scores[[0, 2]]).any()
    assert errors == {1: "comprehend InternalServerException: no"}


def test_throttling_is_retried_with_backoff_and_other_errors_fail_at_once(stubbed):
    client, stub = stubbed
    slept = []
    stub.add_client_error("batch_detect_sentiment", "ThrottlingException", http_status_code=400)
    stub.add_client_error("batch_detect_sentiment", "TooManyRequestsException", http_status_code=400)
    stub.add_response("batch_detect_sentiment", _ok(1))
    clf = ComprehendClassifier(client, sleep=slept.append, base_delay_s=1.0)
    scores, _ = clf.score(["fine"], ["en"])
    assert not np.isnan(scores[0])
    assert len(slept) == 2
    assert 0.5 <= slept[0] <= 1.0  # doubling, with jitter
    assert 1.0 <= slept[1] <= 2.0
    assert clf.usage["retries"] == 2
    stub.add_client_error("batch_detect_sentiment", "UnsupportedLanguageException", http_status_code=400)
    from botocore.exceptions import ClientError

    with pytest.raises(ClientError, match="UnsupportedLanguageException"):
        clf.score(["x"], ["en"])
    throttled = ComprehendClassifier(client, sleep=lambda s: None, max_attempts=2)
    for _ in range(2):
        stub.add_client_error("batch_detect_sentiment", "ThrottlingException", http_status_code=400)
    with pytest.raises(ClientError, match="ThrottlingException"):  # transient: the task's retries take over
        throttled.score(["x"], ["en"])


def test_neutral_and_mixed_sit_in_the_middle():
    assert positive_prob({"Positive": 0.0, "Negative": 0.0, "Neutral": 1.0, "Mixed": 0.0}) == 0.5
    assert positive_prob({"Positive": 0.0, "Negative": 0.0, "Neutral": 0.0, "Mixed": 1.0}) == 0.5
    assert positive_prob({"Positive": 0.0, "Negative": 1.0, "Neutral": 0.0, "Mixed": 0.0}) == 0.0


def test_the_router_sends_comprehends_languages_there_and_the_rest_to_the_other_route(stubbed, tmp_path):
    from tiny_models import build_sequence_classifier

    from shoplake.ml.sentiment import EngineConfig, Router, parse_model_map, score_texts

    client, stub = stubbed
    model = build_sequence_classifier(tmp_path / "tiny")
    router = Router(parse_model_map(f"en=comprehend,*={model}"), EngineConfig(), comprehend_client=client)
    assert router.route("en").uri == "comprehend"
    assert router.route("tlh").uri == str(model)  # Klingon: not Comprehend's, to the * route
    alone = Router(parse_model_map("*=comprehend"), EngineConfig(), comprehend_client=client)
    assert alone.route("de").uri == "comprehend"
    assert alone.route("tlh") is None  # no other route: unsupported_language, as for any model

    stub.add_response("batch_detect_sentiment", _ok(2, {1: "InternalServerException"}),
                      {"TextList": ANY, "LanguageCode": "en"})  # fmt: skip
    errors: list = []
    table = score_texts(router, ["a", "b", "c"], ["good", "REFUSE", "gut"], ["en", "en", "tlh"], errors=errors)
    rows = table.to_pylist()
    assert [r["sentiment_status"] for r in rows] == ["scored", "model_error", "scored"]
    assert [r["model_id"] for r in rows][::2] == ["aws-comprehend", rows[2]["model_id"]]
    assert rows[1]["positive_prob"] is None
    assert rows[1]["model_id"] is None
    assert errors == [(1, "comprehend InternalServerException: no")]
    assert table.schema.field("positive_prob").type == pa.float32()


def test_a_partition_scored_with_refusals_keeps_every_row_and_quarantines_the_refused(stubbed, tmp_path):
    from shoplake.io.lake import read_partition, write_partition
    from shoplake.ml.sentiment import EngineConfig, Router, parse_model_map, score_partition

    client, stub = stubbed
    lake = tmp_path / "lake"
    src, out = f"{lake}/curated/r/ds=2024-01-01", f"{lake}/enriched/r/ds=2024-01-01"
    q = f"{lake}/quarantine/enriched_r/ds=2024-01-01"
    write_partition(pa.table({"recommendationid": ["1", "2", "3"], "review_text": ["ok", "bad one", "x"],
                              "language_code": ["en", "en", "en"]}), src)  # fmt: skip
    stub.add_response("batch_detect_sentiment", _ok(3, {2: "TextSizeLimitExceededException"}))
    router = Router(parse_model_map("*=comprehend"), EngineConfig(), comprehend_client=client)
    result = score_partition(router, src, out, quarantine=q)
    assert (result["rows"], result["scored"], result["model_error"]) == (3, 2, 1)
    assert read_partition(out).num_rows == 3  # every curated row has its enriched row
    (refused,) = read_partition(q).to_pylist()
    assert refused["record_id"] == "3"
    assert refused["reason"] == "comprehend TextSizeLimitExceededException: no"
    assert json.loads(refused["document"]) == {"language": "en", "text": "x"}


def test_the_sentiment_models_evaluation_reports_comprehends_auc_on_the_same_rows(tmp_path, monkeypatch):
    from object_stores import _process, free_port

    from shoplake.pipelines.sentiment_model import SentimentTrainConfig, _comprehend_by_language

    port = free_port()
    fake = [sys.executable, str(Path(__file__).resolve().parents[2] / "fixtures" / "fake_comprehend.py"), str(port),
            str(tmp_path / "calls.jsonl")]  # fmt: skip
    for key, value in {"AWS_ENDPOINT_URL": f"http://127.0.0.1:{port}", "AWS_ACCESS_KEY_ID": "x",
                       "AWS_SECRET_ACCESS_KEY": "x", "AWS_DEFAULT_REGION": "us-east-1"}.items():  # fmt: skip
        monkeypatch.setenv(key, value)
    texts = [("great fun, love it" if i % 2 else "boring, broken, refund") for i in range(80)] + ["gut"] * 4
    y = np.array([i % 2 for i in range(80)] + [1, 0, 1, 0])
    langs = np.array(["en"] * 80 + ["tlh"] * 4, dtype=object)
    cfg = SentimentTrainConfig(ds="2019-03-02", lake_root=str(tmp_path), min_negatives=10, compare_comprehend=True)
    with _process(fake, port, "fake comprehend"):
        groups = _comprehend_by_language(texts, y, np.arange(84), langs, cfg)
    assert groups["all"]["auc"] == 1.0  # the stand-in reads the words: a perfect ranking of these rows
    assert groups["all"]["n"] == 80  # the Klingon rows are not Comprehend's: left out, not guessed
    assert set(groups) == {"all", "en"}
