"""Tweets: bytes-literal decoding in Spark SQL, repeated headers, duplicates and reasons, hashed handles."""

from __future__ import annotations

import ast
import glob

import pytest
from checks import quarantine_reasons

pytestmark = pytest.mark.spark

DAY = "2022-12-22"
HEADER = "timestamp,tweet_text,username,all_hashtags,location,followers_count,retweet_count,favorite_count\n"


def test_decoding_matches_python_on_every_tweet_of_the_sample(spark):
    import pandas as pd
    from pyspark.sql import functions as F

    from shoplake.config import Settings
    from shoplake.transforms.tweets import decode_literal

    sample = Settings.from_env().tweets_path  # the shared sample (a glob), read in place
    frames = [pd.read_csv(f, dtype=str) for f in sorted(glob.glob(sample))]
    texts = [t for t in pd.concat(frames)["tweet_text"] if t != "tweet_text"]
    assert len(texts) > 2000
    got = spark.createDataFrame([(t,) for t in texts], "t string").select(decode_literal(F.col("t")).alias("d"))
    assert [r.d for r in got.collect()] == [ast.literal_eval(t).decode("utf-8") for t in texts]


def test_a_crafted_file_lands_curates_and_quarantines_with_reasons(spark, tmp_path):
    from shoplake.transforms.tweets import curate_tweets, land_tweets

    rows = [
        HEADER.strip(),  # the scraper's repeated header
        "2022-12-22 10:00:00+00:00,\"b'Promo #Murah @toko https://t.co/x \\xf0\\x9f\\x98\\x8d it\\'s 50%+'\",b'Ann_1',"
        "\"['Murah']\",Jakarta,1000,2,3",
        "2022-12-22 10:00:00+00:00,\"b'Promo #Murah @toko https://t.co/x \\xf0\\x9f\\x98\\x8d it\\'s 50%+'\",b'Ann_1',"
        "\"['Murah']\",Jakarta,1000,1,1",  # an earlier run's copy with lower counts
        "2022-12-22 11:00:00+00:00,plain text tweet #Diskon,b'bob',[],,5,0,0",
        "2022-12-22 12:00:00+00:00,b'broken \\xff bytes',b'cy',[],,5,0,0",
        "2022-12-22 13:00:00+00:00,b'ok',b'di',[],,x,0,0",
        "not a time,b'ok',b'ed',[],,1,0,0",
        "2022-12-21 13:00:00+00:00,b'the day before',b'fi',[],,1,0,0",
    ]
    (tmp_path / "shopee.csv").write_text(HEADER + "\n".join(rows) + "\n", encoding="utf-8")
    landed, headers = land_tweets(spark, str(tmp_path / "*.csv"), DAY)
    assert headers == 1
    assert landed.good.count() == 6  # the day's rows and the one whose time does not parse
    checked = curate_tweets(landed.good)
    good = {r.text: r for r in checked.good.collect()}
    promo = good["Promo #Murah @toko https://t.co/x \U0001f60d it's 50%+"]
    assert (promo.likes, promo.retweets, promo.engagement) == (3, 2, 5)  # the copy with the highest counts
    assert (promo.hashtags, promo.n_mentions, promo.n_urls, promo.hour) == (["murah"], 1, 1, 10)
    assert promo.clean_text == "Promo #Murah @toko \U0001f60d it's 50%+"
    assert (promo.platform, len(promo.author_key)) == ("shopee", 64)
    plain = good["plain text tweet #Diskon"]
    assert (plain.hashtags, plain.has_location) == (["diskon"], False)  # from the text when the list is empty
    assert quarantine_reasons(checked) == [
        "duplicate tweet (overlapping scrape runs; the copy with the highest counts kept)",
        "followers_count not a whole number >= 0",
        "timestamp not 'YYYY-MM-DD HH:MM:SS+00:00'",
        "tweet_text not a decodable bytes literal",
    ]
    docs = " ".join(r.document for r in checked.quarantine.collect())
    assert "Ann_1" not in docs  # handles are hashed in quarantine documents too
    assert "'di'" not in docs


def test_the_services_python_rules_give_the_spark_jobs_columns_on_the_busiest_day_of_the_sample(spark):
    """The prediction service derives a request's features in Python; they must equal what curate_tweets wrote."""
    import collections
    import datetime as dt

    import pandas as pd

    from shoplake.config import Settings
    from shoplake.transforms.tweets import curate_tweets, land_tweets, tweet_features

    sample = Settings.from_env().tweets_path
    days = collections.Counter(str(t)[:10] for f in glob.glob(sample) for t in pd.read_csv(f, dtype=str)["timestamp"])
    day = next(d for d, _ in days.most_common() if d[:2] == "20")
    landed, _ = land_tweets(spark, sample, day)
    rows = curate_tweets(landed.good).good.collect()
    assert len(rows) > 50
    columns = ("clean_text", "hashtags", "n_hashtags", "n_mentions", "n_urls", "text_chars", "hour")
    for r in rows:
        created = r.created_at.replace(tzinfo=dt.UTC) if r.created_at.tzinfo is None else r.created_at
        mine = tweet_features(r.text, followers=r.followers, created_at=created, platform=r.platform)
        # the sample lists hashtags beside the text; a request without them takes the text's #tags
        listed = tweet_features(r.text, hashtags=r.hashtags, created_at=created)
        assert {c: listed[c] for c in columns} == {c: getattr(r, c) for c in columns}, r.text
        assert {c: mine[c] for c in columns if c not in ("hashtags", "n_hashtags")} == {
            c: getattr(r, c) for c in columns if c not in ("hashtags", "n_hashtags")
        }
