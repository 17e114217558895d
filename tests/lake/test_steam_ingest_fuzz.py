"""Property-based tests of the Steam ingest path with generated malformed input: saved response files (valid,
empty, truncated, not a response) holding reviews whose fields are mutated the ways real dumps are — strings for
numbers, nulls, wrong types, huge and negative integers, NaN, lone surrogates, NUL bytes, ``$`` and ``.`` in keys,
deep nesting — read by ``read_saved_responses``, upserted by ``load_reviews`` into the embedded Mongo and exported
by ``extract_window``. Whatever comes in: nothing crashes, every record is counted
(``read = out_of_window + inserted + matched + quarantined``; the day's documents = raw good + raw quarantined),
and every quarantine row has a reason."""

from __future__ import annotations

import json
import math

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from shoplake.ingest.mongo_extract import extract_window
from shoplake.ingest.mongo_load import load_reviews
from shoplake.ingest.steam_source import read_saved_responses
from shoplake.io.lake import write_partition

pytestmark = pytest.mark.integration

START, END = 1_551_398_400, 1_551_484_800  # 2019-03-01 UTC, the day the reviews are placed in
#: derandomized: CI runs the same examples every time; a failure prints the input to replay
FUZZ = settings(
    max_examples=60,
    deadline=None,
    derandomize=True,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow, HealthCheck.data_too_large],
)

_text = st.text(max_size=30)  # any unicode, lone surrogates and NUL included
_odd_values = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(2**70), max_value=2**70),  # past int64 too: BSON cannot store those
    st.floats(allow_nan=True, allow_infinity=True),
    _text,
    st.sampled_from(["3", " 42 ", "-1", "4294967295", "1e3", "0.7304", ""]),  # numbers as strings
    st.lists(st.integers(), max_size=3),
    st.dictionaries(_text, st.integers(), max_size=2),
)
_odd_keys = st.one_of(_text, st.sampled_from(["$where", "a.b", "\x00", "", "_id", "$"]))


def _deep(depth: int):
    value: object = "bottom"
    for _ in range(depth):
        value = {"d": value}
    return value


@st.composite
def reviews(draw, rid: int):
    """A review near the real shape, with some fields mutated, dropped or added."""
    review = {
        "recommendationid": str(rid),
        "author": {
            "steamid": "7656119" + str(rid),
            "num_games_owned": 10,
            "num_reviews": 2,
            "playtime_forever": 100,
            "playtime_last_two_weeks": 5,
            "last_played": START,
        },
        "language": draw(st.sampled_from(["english", "schinese", "russian", "brazilian"])),
        "review": draw(st.text(max_size=60)),
        "timestamp_created": START + draw(st.integers(min_value=-100, max_value=86_500)),
        "timestamp_updated": START,
        "voted_up": draw(st.booleans()),
        "votes_up": 1,
        "votes_funny": 0,
        "weighted_vote_score": draw(st.sampled_from([0, "0.5", 0.25])),
        "comment_count": 0,
        "steam_purchase": True,
        "received_for_free": False,
        "written_during_early_access": False,
    }
    for _ in range(draw(st.integers(min_value=0, max_value=3))):
        action = draw(st.sampled_from(["set", "drop", "add", "author", "deep"]))
        if action == "set":
            review[draw(st.sampled_from(sorted(review)))] = draw(_odd_values)
        elif action == "drop":
            review.pop(draw(st.sampled_from(sorted(review))), None)
        elif action == "add":
            review[draw(_odd_keys)] = draw(_odd_values)
        elif action == "author" and isinstance(review.get("author"), dict):
            review["author"][draw(st.sampled_from(sorted(review["author"])))] = draw(_odd_values)
        elif action == "deep":
            review["nested"] = _deep(draw(st.sampled_from([5, 120])))  # BSON allows about 100 levels
    return review


@st.composite
def source_files(draw):
    """``{file name: bytes}``: review responses in both saved shapes, and files that are not responses at all."""
    files: dict[str, bytes] = {}
    rid = 1
    for appid in range(draw(st.integers(min_value=1, max_value=3))):
        kind = draw(st.sampled_from(["dict", "list", "list", "empty", "truncated", "no_reviews", "scalar"]))
        revs = []
        for _ in range(draw(st.integers(min_value=0, max_value=6))):
            # a key repeated across files sometimes: duplicates in one load are quarantined, not upserted twice
            revs.append(draw(reviews(draw(st.sampled_from([rid, 1])))))
            rid += 1
        if draw(st.booleans()):
            revs.append(draw(_odd_values))  # a review that is not an object
        name = f"review_{appid + 10}.json"
        if kind == "dict":
            body = json.dumps({"reviews": {str(i): r for i, r in enumerate(revs)}})
        elif kind == "list":
            body = json.dumps({"reviews": revs})
        elif kind == "empty":
            body = ""
        elif kind == "truncated":
            body = json.dumps({"reviews": revs})[: draw(st.integers(min_value=1, max_value=40))]
        elif kind == "no_reviews":
            body = json.dumps({"query_summary": {}})
        else:
            body = json.dumps(draw(_odd_values))
        files[name] = body.encode("utf-8", "surrogatepass")
    return files


@given(files=source_files())
@FUZZ
def test_malformed_source_files_are_counted_and_quarantined_with_reasons_never_crash(
    files, tmp_path_factory, mongo_collection
):
    folder = tmp_path_factory.mktemp("source")
    lake = tmp_path_factory.mktemp("lake")
    for name, body in files.items():
        (folder / name).write_bytes(body)
    mongo_collection.delete_many({})

    loaded = load_reviews(mongo_collection, read_saved_responses(folder), start_ts=START, end_ts=END)
    c = loaded.counts()
    assert c["read"] == c["out_of_window"] + c["inserted"] + c["matched"] + c["quarantined"], c
    assert c["files_skipped"] + c["quarantined"] == len(loaded.quarantine), c
    q = loaded.quarantine_table()
    assert q.num_rows == len(loaded.quarantine)
    assert all(isinstance(r, str) and r.strip() for r in q.column("reason").to_pylist()), q.to_pylist()
    write_partition(
        q, str(lake / "load" / "ds=2019-03-01"), sort_by="record_id"
    )  # whatever the reasons and documents hold
    stored = mongo_collection.count_documents({})
    assert stored == c["inserted"], (stored, c)  # a fresh collection: every stored document was inserted now

    raw = extract_window(mongo_collection, start_ts=START, end_ts=END)
    assert raw.good.num_rows + raw.quarantine.num_rows == stored, raw.counts()
    reasons = raw.quarantine.column("reason").to_pylist()
    assert all(isinstance(r, str) and r.strip() for r in reasons), raw.quarantine.to_pylist()
    write_partition(raw.good, str(lake / "raw" / "ds=2019-03-01"), counts=raw.counts())
    write_partition(raw.quarantine, str(lake / "raw_quarantine" / "ds=2019-03-01"), sort_by="record_id")
    for row in raw.good.to_pylist():  # what passes is in range and typed
        assert START <= row["timestamp_created"] < END, row
        assert row["recommendationid"].isdigit(), row
        assert all(not (isinstance(v, float) and math.isnan(v)) for v in row.values()), row


def _review(rid: str, **extra) -> dict:
    return {"recommendationid": rid, "timestamp_created": START + 10, "review": "ok", **extra}


@pytest.mark.parametrize(
    ("extra", "reason"),
    [
        ({"votes_up": 2**64}, "not storable in MongoDB: OverflowError"),
        ({"review": "broken \udc80 text"}, "not storable in MongoDB"),
        ({"\x00": 1}, "not storable in MongoDB: InvalidDocument"),
    ],
    ids=["int-past-64-bits", "lone-surrogate", "nul-in-key"],
)
def test_a_document_mongo_cannot_store_is_quarantined_and_the_rest_load(mongo_collection, tmp_path, extra, reason):
    from shoplake.ingest.steam_source import SourceRecord

    records = [SourceRecord(10, _review(rid), "review_10.json") for rid in ("1", "3")]
    records.insert(1, SourceRecord(10, _review("2", **extra), "review_10.json"))
    loaded = load_reviews(mongo_collection, records, start_ts=START, end_ts=END)
    assert (loaded.inserted, loaded.quarantined) == (2, 1), loaded.counts()
    rid, why, document = loaded.quarantine[0]
    assert rid == "2"
    assert why.startswith(reason), why
    assert '"recommendationid": "2"' in document
    assert sorted(d["_id"] for d in mongo_collection.find()) == ["1", "3"]
    write_partition(
        loaded.quarantine_table(), str(tmp_path / "q" / "ds=2019-03-01")
    )  # the reason and document are valid UTF-8


class _DepthLimited:
    """The collection as a real mongod answers: a document nested deeper than 100 levels is refused by the
    server (code 15) inside an unordered bulk write, and the other writes stand (the embedded server accepts it)."""

    def __init__(self, collection):
        self._c = collection

    def __getattr__(self, name):
        return getattr(self._c, name)

    def bulk_write(self, requests, ordered=True):
        from pymongo.errors import BulkWriteError

        def depth(v, d=0):
            return max((depth(x, d + 1) for x in v.values()), default=d + 1) if isinstance(v, dict) else d

        deep = [i for i, r in enumerate(requests) if depth(r._doc) > 100]
        done = self._c.bulk_write([r for i, r in enumerate(requests) if i not in deep], ordered=ordered)
        if not deep:
            return done
        errors = [{"index": i, "code": 15, "errmsg": "Document exceeds maximum nesting depth of 100"} for i in deep]
        raise BulkWriteError({"writeErrors": errors, "nUpserted": done.upserted_count, "nMatched": done.matched_count})


def test_a_document_the_server_refuses_is_quarantined_and_the_rest_of_the_batch_loads(mongo_collection):
    from shoplake.ingest.steam_source import SourceRecord

    records = [SourceRecord(10, _review(r, **({"nested": _deep(120)} if r == "2" else {})), "f") for r in "123"]
    loaded = load_reviews(_DepthLimited(mongo_collection), records, start_ts=START, end_ts=END)
    assert (loaded.read, loaded.inserted, loaded.quarantined) == (3, 2, 1), loaded.counts()
    rid, why, _ = loaded.quarantine[0]
    assert rid == "2"
    assert why == "refused by MongoDB (code 15): Document exceeds maximum nesting depth of 100"
    assert sorted(d["_id"] for d in mongo_collection.find()) == ["1", "3"]
