import json
import logging

import pytest

from shoplake.ingest.mongo_load import load_reviews, normalize_review
from shoplake.ingest.steam_source import SourceRecord

pytestmark = pytest.mark.integration

START, END = 1_000, 2_000


def _rec(review, appid=10, source="review_10.json"):
    return SourceRecord(appid=appid, review=review, source=source)


def _good(rid, ts=1_500, **extra):
    return {
        "recommendationid": rid,
        "timestamp_created": ts,
        "review": "fine",
        "weighted_vote_score": 0,
        **extra,
    }


def test_load_upserts_by_key_and_reruns_change_nothing(mongo_collection, caplog):
    records = [_rec(_good("1")), _rec(_good("2")), _rec(_good("3", ts=2_000)), _rec(_good("4", ts=999))]
    with caplog.at_level(logging.INFO, logger="shoplake.ingest.mongo_load"):
        first = load_reviews(mongo_collection, records, start_ts=START, end_ts=END)
    assert "source reviews read: 4 (" in caplog.text  # a stream of unknown length: the count and the rate
    zero = {"coerced": 0, "files_skipped": 0}
    assert first.counts() == {"read": 4, "out_of_window": 2, "inserted": 2, "matched": 0, "quarantined": 0, **zero}
    before = sorted(mongo_collection.find(), key=lambda d: d["_id"])
    again = load_reviews(mongo_collection, records, start_ts=START, end_ts=END)
    assert again.counts() == {"read": 4, "out_of_window": 2, "inserted": 0, "matched": 2, "quarantined": 0, **zero}
    assert sorted(mongo_collection.find(), key=lambda d: d["_id"]) == before
    doc = mongo_collection.find_one({"_id": "1"})
    assert doc["appid"] == 10
    assert doc["_source"] == "review_10.json"
    assert doc["weighted_vote_score"] == "0"  # one BSON type for the score
    assert "timestamp_created_1" in mongo_collection.index_information()


def test_unusable_records_are_quarantined_with_reasons(mongo_collection):
    records = [
        _rec(_good("1")),
        _rec("not an object"),
        _rec(_good(None)),
        _rec(_good("abc")),
        _rec(_good("5", ts="yesterday")),  # a numeric string would be coerced (see below)
        _rec(_good("6", ts=True)),
        _rec(_good("1"), source="review_10_again.json"),
    ]
    res = load_reviews(mongo_collection, records, start_ts=START, end_ts=END)
    c = res.counts()
    assert c["read"] == c["out_of_window"] + c["inserted"] + c["matched"] + c["quarantined"]
    assert (c["inserted"], c["quarantined"]) == (1, 6)
    q = res.quarantine_table().to_pylist()
    reasons = [r["reason"] for r in q]
    assert reasons[0].startswith("review is a str")
    assert reasons[1] == reasons[2] == "recommendationid missing or not a string of digits"
    assert reasons[3].startswith("timestamp_created missing")
    assert reasons[4].startswith("timestamp_created missing")
    assert reasons[5] == "duplicate recommendationid in this load (first seen in review_10.json)"
    assert json.loads(q[5]["document"])["source"] == "review_10_again.json"
    assert mongo_collection.count_documents({}) == 1


def test_normalize_review_keeps_strings_and_stringifies_numbers():
    assert normalize_review({"weighted_vote_score": "0.73"})["weighted_vote_score"] == "0.73"
    assert normalize_review({"weighted_vote_score": 0})["weighted_vote_score"] == "0"
    assert normalize_review({"weighted_vote_score": 0.5})["weighted_vote_score"] == "0.5"
    assert normalize_review({"weighted_vote_score": True})["weighted_vote_score"] is True  # left for the type check


def test_numbers_sent_as_strings_are_coerced_and_recorded(mongo_collection):
    from shoplake.ingest.mongo_load import coerce_numbers

    review = _good("1", comment_count="3", votes_up="12", author={"num_games_owned": "40", "steamid": "7"})
    fixed, paths = coerce_numbers(review)
    assert (fixed["comment_count"], fixed["votes_up"], fixed["author"]["num_games_owned"]) == (3, 12, 40)
    assert sorted(paths) == ["author.num_games_owned", "comment_count", "votes_up"]
    assert review["comment_count"] == "3"  # the caller's record is not changed
    assert coerce_numbers({"comment_count": "many"}) == ({"comment_count": "many"}, [])  # left for the type check
    assert coerce_numbers({"timestamp_created": "1500"})[0] == {"timestamp_created": 1500}

    records = [_rec(review), _rec(_good("2", timestamp_created="1600")), _rec(_good("3", comment_count=0))]
    result = load_reviews(mongo_collection, records, start_ts=START, end_ts=END)
    assert (result.inserted, result.quarantined, result.coerced) == (3, 0, 2)
    assert result.coerced_fields["comment_count"] == 1
    doc = mongo_collection.find_one({"_id": "1"})
    assert (doc["comment_count"], doc["_coerced"]) == (3, ["author.num_games_owned", "votes_up", "comment_count"])
    assert "_coerced" not in mongo_collection.find_one({"_id": "3"})


def test_an_unreadable_source_file_is_a_quarantine_row_not_a_failed_run(mongo_collection):
    records = [
        SourceRecord(appid=11, review=None, source="review_11.json", error="review_11.json: unreadable: empty"),
        _rec(_good("1")),
    ]
    result = load_reviews(mongo_collection, records, start_ts=START, end_ts=END)
    assert result.counts()["files_skipped"] == 1
    assert (result.read, result.inserted, result.quarantined) == (1, 1, 0)
    q = result.quarantine_table().to_pylist()
    assert q[0]["record_id"] is None
    assert q[0]["reason"] == "source file skipped: review_11.json: unreadable: empty"
    assert json.loads(q[0]["document"]) == {"appid": 11, "source": "review_11.json"}
