import json

import pytest

from shoplake.ingest.mongo_extract import RAW_STEAM_REVIEWS_SCHEMA

pytestmark = pytest.mark.spark

T0 = 1_551_398_400  # 2019-03-01 UTC


def raw_row(rid, *, appid=10, author="a1", updated=None, review="Great game!", score="0.5", language="english"):
    return {
        "recommendationid": rid,
        "appid": appid,
        "author_steamid": author,
        "author_num_games_owned": 4,
        "author_num_reviews": 2,
        "author_playtime_forever": 120,
        "author_playtime_last_two_weeks": 30,
        "author_last_played": T0 + 86400,
        "language": language,
        "review": review,
        "timestamp_created": T0,
        "timestamp_updated": updated or T0,
        "voted_up": True,
        "votes_up": 1,
        "votes_funny": 0,
        "weighted_vote_score": score,
        "comment_count": 0,
        "steam_purchase": True,
        "received_for_free": False,
        "written_during_early_access": False,
        "developer_response": None,
        "timestamp_dev_responded": None,
    }


def frame(spark, rows):
    import pyarrow as pa

    return spark.createDataFrame(pa.Table.from_pylist(rows, schema=RAW_STEAM_REVIEWS_SCHEMA).to_pandas())


def test_curate_cleans_types_and_features(spark):
    from shoplake.transforms.steam_reviews import curate_reviews

    raw = frame(spark, [raw_row("1", review="  [h1]WOW[/h1]\n\nbest [b]game[/b] ever!! https://x.io\x07 ")])
    res = curate_reviews(raw)
    assert res.quarantine.count() == 0
    row = res.curated.collect()[0].asDict()
    assert row["review_text"] == "WOW best game ever!! https://x.io"
    assert row["review"].startswith("  [h1]")  # the original text is kept next to the clean one
    assert row["language_code"] == "en"
    assert row["weighted_vote_score"] == 0.5
    assert str(row["created_at"]) == "2019-03-01 00:00:00"
    assert row["author_playtime_forever_h"] == 2.0
    assert (row["exclamation_count"], row["has_url"], row["has_markup"]) == (2, True, True)
    assert row["review_words"] == 5
    assert row["days_played_after_review"] == 1.0


def test_curate_dedupes_and_quarantines_with_reasons(spark):
    from shoplake.transforms.steam_reviews import curate_reviews

    rows = [
        raw_row("1"),
        raw_row("1", updated=T0 + 50, review="edited"),  # same id: latest edit wins
        raw_row("2", author="a2"),
        raw_row("3", author="a2", updated=T0 + 10),  # same author + app: latest wins
        raw_row("4", author="a4", review=" [b] [/b] "),  # nothing left after cleaning
        raw_row("5", author="a5", score="abc"),  # unparseable score
        raw_row("6", author="a6", language=" Schinese "),
    ]
    res = curate_reviews(frame(spark, rows))
    curated = {r["recommendationid"]: r.asDict() for r in res.curated.collect()}
    quarantine = {(r["record_id"], r["reason"]) for r in res.quarantine.collect()}
    assert len(curated) + len(quarantine) == len(rows)
    assert sorted(curated) == ["1", "3", "6"]
    assert curated["1"]["review_text"] == "edited"
    assert curated["6"]["language"] == "schinese"
    assert curated["6"]["language_code"] == "zh"
    assert quarantine == {
        ("1", "duplicate recommendationid (a later edit is kept)"),
        ("2", "duplicate review of this app by the same author (the latest is kept)"),
        ("4", "review text empty after cleaning"),
        ("5", "weighted_vote_score is not a number"),
    }
    doc = json.loads(next(r["document"] for r in res.quarantine.collect() if r["record_id"] == "5"))
    assert doc["weighted_vote_score"] == "abc"


def test_python_and_spark_cleaning_agree(spark):
    from pyspark.sql import functions as F

    from shoplake.transforms.steam_reviews import clean_text
    from shoplake.transforms.text import clean_review_text

    samples = ["  [h1]WOW[/h1]\n\nbest [B]game[/b] ever!! https://x.io\x07 ", "[url=https://a.b]link[/url]", "", "a\tb"]
    df = spark.createDataFrame([(s,) for s in samples], "t string")
    got = [r["c"] for r in df.select(clean_text(F.col("t")).alias("c")).collect()]
    assert got == [clean_review_text(s) for s in samples]
    assert got[0] == "WOW best game ever!! https://x.io"


def test_utf8_keeps_valid_text_and_escapes_lone_surrogates_so_parquet_and_json_can_hold_it():
    import pyarrow as pa
    import pyarrow.parquet as pq

    from shoplake.quarantine import quarantine_table, utf8

    assert utf8(None) is None
    assert utf8("") == ""
    assert utf8("Gut 👍 – très bien") == "Gut 👍 – très bien"
    broken = json.loads('"ok \\udc80 end"')  # JSON decodes a lone surrogate; UTF-8 has no form for it
    assert utf8(broken) == "ok \\udc80 end"
    utf8(broken).encode("utf-8")  # raises if anything unencodable is left
    table = quarantine_table([broken], [f"bad {broken}"], [None])
    assert table.column("record_id").to_pylist() == ["ok \\udc80 end"]
    assert table.column("document").to_pylist() == [None]
    sink = pa.BufferOutputStream()
    pq.write_table(table, sink)  # the quarantine write that a lone surrogate used to fail
    assert pq.read_table(pa.BufferReader(sink.getvalue())).column("reason").to_pylist() == ["bad ok \\udc80 end"]
