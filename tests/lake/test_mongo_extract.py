import json

import pyarrow as pa
import pytest
from bson import ObjectId

from shoplake.ingest.mongo_extract import (
    STEAM_REVIEW_FIELDS,
    document_schema,
    extract_window,
    type_reasons,
    type_violation_filter,
)

START, END = 1_551_398_400, 1_551_484_800  # 2019-03-01 UTC


def good_doc(rid: str, ts: int = START + 60, **over):
    doc = {
        "_id": rid,
        "recommendationid": rid,
        "appid": 10,
        "author": {
            "steamid": "7656119",
            "num_games_owned": 3,
            "num_reviews": 1,
            "playtime_forever": 60,
            "playtime_last_two_weeks": 5,
            "last_played": ts + 10,
        },
        "language": "english",
        "review": "Great game",
        "timestamp_created": ts,
        "timestamp_updated": ts,
        "voted_up": True,
        "votes_up": 2,
        "votes_funny": 0,
        "weighted_vote_score": "0.52",
        "comment_count": 0,
        "steam_purchase": True,
        "received_for_free": False,
        "written_during_early_access": False,
    }
    doc.update(over)
    return doc


def test_document_schema_nests_author_fields():
    schema = document_schema(STEAM_REVIEW_FIELDS)
    assert schema["author"] == pa.struct(
        [
            ("steamid", pa.string()),
            ("num_games_owned", pa.int64()),
            ("num_reviews", pa.int64()),
            ("playtime_forever", pa.int64()),
            ("playtime_last_two_weeks", pa.int64()),
            ("last_played", pa.int64()),
        ]
    )
    assert schema["review"] == pa.string()


def test_type_reasons_name_each_problem():
    doc = good_doc("1", votes_up="12", author="anon")
    del doc["language"]
    reasons = type_reasons(doc)
    assert "language missing" in reasons
    assert "votes_up is BSON string, expected int/long" in reasons
    assert "author_steamid missing" in reasons
    assert type_reasons(good_doc("2")) == []
    assert "$or" in type_violation_filter(STEAM_REVIEW_FIELDS)


@pytest.mark.integration
def test_clean_window_is_typed_and_complete(mongo_collection):
    mongo_collection.insert_many(
        [
            good_doc("1"),
            good_doc("2", developer_response="thanks", timestamp_dev_responded=START + 99),
            good_doc("3", ts=END),
            good_doc("4", ts=START - 1),
        ]
    )
    res = extract_window(mongo_collection, start_ts=START, end_ts=END)
    assert res.counts() == {"in": 2, "good": 2, "quarantined": 0}
    assert res.good.schema.field("author_playtime_forever").type == pa.int64()
    rows = sorted(res.good.to_pylist(), key=lambda r: r["recommendationid"])
    assert rows[0]["author_steamid"] == "7656119"
    assert rows[0]["developer_response"] is None
    assert rows[1]["developer_response"] == "thanks"


@pytest.mark.integration
def test_bad_documents_are_quarantined_never_dropped(mongo_collection):
    docs = [
        good_doc("1"),
        good_doc("2", votes_up="many"),  # wrong type
        good_doc("3", author="anonymous"),  # wrong shape
        good_doc("4", review="x" * 25_000),  # absurd size
        good_doc("5", votes_funny=4_294_967_295),  # Steam's uint32 overflow
        good_doc("6", weighted_vote_score="n/a"),  # not a number
        good_doc("7", timestamp_updated=START),  # updated before created (ts = START+60)
        {**good_doc("1"), "_id": ObjectId()},  # a second writer's copy: duplicate key
        {k: v for k, v in good_doc("8").items() if k != "voted_up"},  # missing field
        good_doc("9", developer_response=5),  # wrong type in an optional field
        good_doc("10", votes_up=[1, 2]),  # an array of the right type: $type matches elements (Hypothesis found it)
    ]
    mongo_collection.insert_many(docs)
    res = extract_window(mongo_collection, start_ts=START, end_ts=END, max_review_chars=20_000)
    c = res.counts()
    assert c == {"in": len(docs), "good": 1, "quarantined": len(docs) - 1}
    assert res.good["recommendationid"].to_pylist() == ["1"]
    reasons = {}
    for row in res.quarantine.to_pylist():
        reasons.setdefault(row["record_id"], []).append(row["reason"])
        assert row["reason"]
        assert isinstance(json.loads(row["document"]), dict)  # the rejected record travels with its reason
    assert reasons["2"] == ["votes_up is BSON string, expected int/long"]
    assert "author_steamid missing" in reasons["3"][0]
    assert reasons["4"] == ["review longer than 20000 characters"]
    assert reasons["5"] == ["votes_funny above 2147483648"]
    assert reasons["6"] == ["weighted_vote_score not a number in [0, 1]"]
    assert reasons["7"] == ["timestamp_updated before timestamp_created"]
    assert reasons["1"] == ["duplicate recommendationid"]
    assert reasons["8"] == ["voted_up missing"]
    assert reasons["9"] == ["developer_response is BSON int, expected string"]
    assert reasons["10"][0].startswith("votes_up is BSON ")


@pytest.mark.integration
def test_empty_window_gives_empty_typed_tables(mongo_collection):
    res = extract_window(mongo_collection, start_ts=START, end_ts=END)
    assert res.counts() == {"in": 0, "good": 0, "quarantined": 0}
    assert res.good.schema.names == [f.name for f in STEAM_REVIEW_FIELDS]
    with pytest.raises(ValueError, match="empty window"):
        extract_window(mongo_collection, start_ts=END, end_ts=START)


@pytest.mark.integration
def test_string_counters_from_older_dumps_are_kept_and_only_non_numbers_quarantined(mongo_collection):
    """The 2017-style response: comment_count and weighted_vote_score as strings (load → Mongo → raw)."""
    from shoplake.ingest.mongo_load import load_reviews
    from shoplake.ingest.steam_source import SourceRecord

    reviews = [
        {**good_doc("1", comment_count="3", weighted_vote_score="0.61"), "_id": None},
        {**good_doc("2", comment_count="4294967295"), "_id": None},  # Steam's overflow, as a string
        {**good_doc("3", comment_count="-2"), "_id": None},
        {**good_doc("4", comment_count="a few"), "_id": None},
        {**good_doc("5", votes_up="12", author={**good_doc("5")["author"], "num_reviews": "7"}), "_id": None},
    ]
    records = [SourceRecord(appid=10, review={k: v for k, v in r.items() if k != "_id"}, source="x") for r in reviews]
    loaded = load_reviews(mongo_collection, records, start_ts=START, end_ts=END)
    assert (loaded.inserted, loaded.coerced) == (5, 4)
    res = extract_window(mongo_collection, start_ts=START, end_ts=END)
    good = {r["recommendationid"]: r for r in res.good.to_pylist()}
    assert sorted(good) == ["1", "5"]
    assert (good["1"]["comment_count"], good["5"]["votes_up"], good["5"]["author_num_reviews"]) == (3, 12, 7)
    reasons = {r["record_id"]: r["reason"] for r in res.quarantine.to_pylist()}
    assert reasons == {
        "2": "comment_count above 2147483648",
        "3": "comment_count below 0",
        "4": "comment_count is BSON string, expected int/long",
    }
