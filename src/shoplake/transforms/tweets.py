"""E-commerce tweets with like and retweet counts (the Indonesian Shopee / Tokopedia scrape layout), in PySpark.

* :func:`land_tweets` — the tweets of day ``ds`` (UTC) as text, with ``platform`` from the file name; the scraper's
  repeated header rows are dropped and counted (they are not records); unparseable CSV records → quarantine.
* :func:`curate_tweets` — decoded, typed tweets. ``tweet_text`` and ``username`` come as Python bytes literals
  written as text (``b'Promo \\xf0\\x9f\\x98\\x8d'``); a plain string is taken as it is. Rules: a parseable time,
  a decodable text, counts that are whole numbers >= 0 (``"3"``, ``"3.0"`` accepted); the same tweet seen again
  by an overlapping scrape run is a duplicate. Usernames never leave the raw stage in clear: ``author_key`` (curated)
  and the ``username`` of curate-stage quarantine documents are a SHA-256 of the lower-cased decoded handle.
  (Unparseable CSV records go to ``quarantine/raw_…`` whole — the raw stage's own rejects, kept like raw.)
* Target ``engagement`` = likes + retweets — the source has no reply or quote counts.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from shoplake.transforms.checked import CORRUPT, Checked, split_corrupt, split_on

if TYPE_CHECKING:
    from pyspark.sql import Column, DataFrame, SparkSession

COLUMNS = (
    "timestamp",
    "tweet_text",
    "username",
    "all_hashtags",
    "location",
    "followers_count",
    "retweet_count",
    "favorite_count",
)

#: the text rules, one definition for Spark (Java regex) and the prediction service (Python with re.ASCII, since
#: Java's \w and \s are ASCII-only)
URL_RE = r"https?://\S+"
HASHTAG_RE = r"#(\w+)"
MENTION_RE = r"@(\w{1,30})"
SPACE_RE = r"\s+"
PLATFORMS = ("shopee", "tokopedia")


def decode_literal(col: Column) -> Column:
    """Spark SQL decoding of a Python bytes literal written as text (``b'caf\\xc3\\xa9'`` → ``café``).

    The ``\\xNN`` escapes become URL escapes and ``try_url_decode`` reads them as UTF-8 (``%`` and ``+`` are
    protected first; ``\\n``, ``\\t``, ``\\r``, ``\\'``, ``\\"`` and ``\\\\`` are unescaped). A value that is
    not a bytes literal is taken as plain text; bytes that are not UTF-8 give ``NULL`` (no Python UDF: it runs in
    the JVM, on EMR too).
    """
    from pyspark.sql import functions as F

    literal = col.rlike(r"^b(['\"]).*\1$")
    inner = F.regexp_extract(col, r"^b(['\"])(.*)\1$", 2)
    escaped = inner
    for pattern, repl in (
        ("%", "%25"),
        (r"\+", "%2B"),
        (r"\\\\", "%5C"),
        (r"\\x([0-9a-fA-F]{2})", "%$1"),
        (r"\\n", "%0A"),
        (r"\\t", "%09"),
        (r"\\r", "%0D"),
        (r"\\'", "'"),
        (r'\\"', '"'),
    ):
        escaped = F.regexp_replace(escaped, pattern, repl)
    decoded = F.try_url_decode(escaped)
    bad = decoded.isNull() | decoded.contains("\ufffd")  # malformed UTF-8 becomes U+FFFD
    return F.when(~literal, col).when(bad, F.lit(None)).otherwise(decoded)


def land_tweets(spark: SparkSession, path: str, ds: str) -> tuple[Checked, int]:
    """``(checked rows of day ds, repeated header rows skipped)``."""
    from pyspark.sql import functions as F
    from pyspark.sql import types as T

    schema = T.StructType([T.StructField(c, T.StringType()) for c in (*COLUMNS, CORRUPT)])
    df = (
        spark.read.schema(schema)
        .option("header", True)
        .option("multiLine", True)
        .option("escape", '"')
        .option("mode", "PERMISSIVE")
        .option("columnNameOfCorruptRecord", CORRUPT)
        .csv(path)
        .withColumn("source_file", F.input_file_name())
        .withColumn("platform", F.lower(F.regexp_extract("source_file", r"([^/]+?)(\.[^./]*)?$", 1)))
    )
    split = split_corrupt(df, F.col("timestamp"), "CSV record")
    headers = split.good.where(F.col("timestamp") == "timestamp")
    skipped = headers.count()
    rows = split.good.where(F.col("timestamp") != "timestamp")
    day = F.to_date(_created(F.col("timestamp")))
    return Checked(rows.where(day.isNull() | (day == F.lit(ds).cast("date"))), split.quarantine), skipped


def _created(col):
    from pyspark.sql import functions as F

    return F.coalesce(
        F.try_to_timestamp(col, F.lit("yyyy-MM-dd HH:mm:ssXXX")),
        F.try_to_timestamp(col, F.lit("yyyy-MM-dd HH:mm:ss")),
    )


def curate_tweets(raw: DataFrame) -> Checked:
    """Decoded, typed, de-duplicated tweets (module docstring for the rules)."""
    from pyspark.sql import Window
    from pyspark.sql import functions as F

    def count(col: str):
        n = F.expr(f"try_cast(trim({col}) AS DOUBLE)")
        return F.when((n >= 0) & (n == F.floor(n)), n.cast("long"))

    df = raw.withColumn("_text", decode_literal(F.col("tweet_text"))).withColumn(
        "_user", decode_literal(F.col("username"))
    )
    key = F.sha2(F.concat_ws("\u241f", "platform", "timestamp", "username", "tweet_text"), 256)
    # the quarantine document holds every column: the handle goes in hashed, like author_key
    df = df.withColumn("_key", key).withColumn("username", F.sha2(F.lower(F.coalesce("_user", "username")), 256))
    # counts only grow: of the copies of one tweet from overlapping runs, the one with the highest counts is the
    # latest observation and stays
    latest = Window.partitionBy("_key").orderBy(
        F.desc_nulls_last(count("favorite_count") + count("retweet_count")),
        F.desc_nulls_last(count("followers_count")),
        "source_file",
    )
    df = df.withColumn("_dup", F.row_number().over(latest))
    reasons = [
        F.when(_created(F.col("timestamp")).isNull(), F.lit("timestamp not 'YYYY-MM-DD HH:MM:SS+00:00'")),
        F.when(F.col("_text").isNull(), F.lit("tweet_text not a decodable bytes literal")),
        F.when(F.col("_text").isNotNull() & (F.trim("_text") == ""), F.lit("empty tweet")),
        *[
            F.when(count(c).isNull(), F.lit(f"{c} not a whole number >= 0"))
            for c in ("followers_count", "retweet_count", "favorite_count")
        ],
        F.when(
            F.col("_dup") > 1, F.lit("duplicate tweet (overlapping scrape runs; the copy with the highest counts kept)")
        ),
    ]
    split = split_on(df, reasons, F.col("_key"))
    created = _created(F.col("timestamp"))
    listed = F.regexp_extract_all(F.coalesce("all_hashtags", F.lit("")), F.lit(r"'([^']*)'"), 1)
    in_text = F.regexp_extract_all(F.col("_text"), F.lit(HASHTAG_RE), 1)
    tags = F.transform(F.when(F.size(listed) > 0, listed).otherwise(in_text), lambda t: F.lower(t))
    clean = F.trim(F.regexp_replace(F.regexp_replace("_text", URL_RE, " "), SPACE_RE, " "))
    good = split.good.select(
        F.col("_key").alias("tweet_id"),
        F.col("platform"),
        created.alias("created_at"),
        F.col("_text").alias("text"),
        clean.alias("clean_text"),
        tags.alias("hashtags"),
        F.size(tags).alias("n_hashtags"),
        F.size(F.regexp_extract_all(F.col("_text"), F.lit(MENTION_RE), 1)).alias("n_mentions"),
        F.size(F.regexp_extract_all(F.col("_text"), F.lit(f"({URL_RE})"), 1)).alias("n_urls"),
        F.length(F.col("_text")).alias("text_chars"),
        F.hour(created).alias("hour"),
        F.when(F.col("_user").isNotNull(), F.sha2(F.lower(F.col("_user")), 256)).alias("author_key"),
        (F.trim(F.coalesce("location", F.lit(""))) != "").alias("has_location"),
        count("followers_count").alias("followers"),
        count("favorite_count").alias("likes"),
        count("retweet_count").alias("retweets"),
        (count("favorite_count") + count("retweet_count")).alias("engagement"),
    )
    return Checked(good, split.quarantine)


def tweet_features(
    text: str,
    *,
    hashtags: Sequence[str] | None = None,
    followers: int = 0,
    created_at: dt.datetime | None = None,
    platform: str = "shopee",
    has_location: bool = False,
) -> dict[str, Any]:
    """The curated columns the engagement models read, for one decoded tweet (the prediction service's input).

    Plain Python, the same rules as :func:`curate_tweets`: hashtags as given (lower-cased), else the ``#tags`` of
    the text; mentions, URLs, characters and the UTC hour from the text and time; ``clean_text`` without URLs and
    with whitespace collapsed. ``tests/lake/test_tweets.py`` checks it against the Spark job on the sample.
    """
    created = created_at or dt.datetime.now(dt.UTC)
    if created.tzinfo is not None:
        created = created.astimezone(dt.UTC)
    tags = [t.lower() for t in hashtags] if hashtags else [t.lower() for t in re.findall(HASHTAG_RE, text, re.ASCII)]
    clean = re.sub(SPACE_RE, " ", re.sub(URL_RE, " ", text, flags=re.ASCII), flags=re.ASCII).strip(" ")
    return {
        "platform": platform,
        "created_at": created,
        "text": text,
        "clean_text": clean,
        "hashtags": tags,
        "n_hashtags": len(tags),
        "n_mentions": len(re.findall(MENTION_RE, text, re.ASCII)),
        "n_urls": len(re.findall(URL_RE, text, re.ASCII)),
        "text_chars": len(text),
        "hour": created.hour,
        "has_location": has_location,
        "followers": followers,
    }
