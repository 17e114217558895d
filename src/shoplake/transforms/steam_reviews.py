"""Curate raw Steam reviews with PySpark: clean text, types, dedupe, features, language.

Pure functions over DataFrames; the job in ``jobs/spark/curate_steam_reviews.py`` reads the raw partition, calls
``curate_reviews`` and writes both outputs. Every raw row ends up either in ``curated`` or in ``quarantine``
with a reason, so ``rows in == curated + quarantined``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from shoplake.transforms.text import BBCODE_RE, CONTROL_RE, URL_RE

if TYPE_CHECKING:
    from pyspark.sql import Column, DataFrame

#: Steam's ``language`` names (the API's ``language`` parameter) → ISO 639-1 codes
STEAM_LANGUAGES: dict[str, str] = {
    "english": "en",
    "french": "fr",
    "german": "de",
    "spanish": "es",
    "latam": "es",
    "italian": "it",
    "portuguese": "pt",
    "brazilian": "pt",
    "russian": "ru",
    "polish": "pl",
    "turkish": "tr",
    "ukrainian": "uk",
    "schinese": "zh",
    "tchinese": "zh",
    "japanese": "ja",
    "koreana": "ko",
    "thai": "th",
    "vietnamese": "vi",
    "dutch": "nl",
    "swedish": "sv",
    "danish": "da",
    "finnish": "fi",
    "norwegian": "no",
    "czech": "cs",
    "hungarian": "hu",
    "romanian": "ro",
    "greek": "el",
    "bulgarian": "bg",
    "arabic": "ar",
    "indonesian": "id",
}


@dataclass(frozen=True)
class CurateResult:
    curated: DataFrame
    quarantine: DataFrame


def clean_text(col: Column) -> Column:
    """Strip Steam markup and control characters, collapse whitespace, trim."""
    from pyspark.sql import functions as F

    text = F.regexp_replace(col, CONTROL_RE, " ")
    text = F.regexp_replace(text, r"(?i)" + BBCODE_RE, " ")
    text = F.regexp_replace(text, r"\s+", " ")
    return F.trim(text)


def add_types(df: DataFrame) -> DataFrame:
    """Unix seconds → UTC timestamps, the score string → double, minutes → hours."""
    from pyspark.sql import functions as F

    return (
        df.withColumn("created_at", F.timestamp_seconds("timestamp_created"))
        .withColumn("updated_at", F.timestamp_seconds("timestamp_updated"))
        .withColumn("author_last_played_at", F.timestamp_seconds("author_last_played"))
        .withColumn(
            "dev_responded_at",
            F.when(F.col("timestamp_dev_responded") > 0, F.timestamp_seconds("timestamp_dev_responded")),
        )
        .withColumn("weighted_vote_score", F.col("weighted_vote_score").try_cast("double"))
        .withColumn("author_playtime_forever_h", F.col("author_playtime_forever") / 60.0)
        .withColumn("author_playtime_last_two_weeks_h", F.col("author_playtime_last_two_weeks") / 60.0)
    )


def add_language(df: DataFrame) -> DataFrame:
    """Normalise Steam's language name and add its ISO code (``und`` when unknown)."""
    from pyspark.sql import functions as F

    mapping = F.create_map(*[F.lit(x) for kv in sorted(STEAM_LANGUAGES.items()) for x in kv])
    lang = F.lower(F.trim("language"))
    return df.withColumn("language", lang).withColumn(
        "language_code", F.coalesce(F.element_at(mapping, lang), F.lit("und"))
    )


def add_features(df: DataFrame) -> DataFrame:
    """Review-text and author features used by the sentiment and purchase models."""
    from pyspark.sql import functions as F

    text = F.col("review_text")
    letters = F.length(F.regexp_replace(text, r"[^A-Za-z]", ""))
    upper = F.length(F.regexp_replace(text, r"[^A-Z]", ""))
    return (
        df.withColumn("review_chars", F.length(text))
        .withColumn("review_words", F.size(F.split(text, r"\s+")))
        .withColumn("exclamation_count", F.length(text) - F.length(F.regexp_replace(text, "!", "")))
        .withColumn("question_count", F.length(text) - F.length(F.regexp_replace(text, r"\?", "")))
        .withColumn("uppercase_ratio", F.when(letters > 0, upper / letters).otherwise(F.lit(0.0)))
        .withColumn("has_url", F.col("review").rlike(URL_RE))
        .withColumn("has_markup", F.col("review").rlike(r"(?i)" + BBCODE_RE))
        .withColumn("is_edited", F.col("timestamp_updated") > F.col("timestamp_created"))
        .withColumn("has_developer_response", F.col("developer_response").isNotNull())
        .withColumn(
            "days_played_after_review",
            (F.col("author_last_played") - F.col("timestamp_created")) / 86400.0,
        )
        .withColumn(
            "author_reviews_per_game",
            F.when(
                F.col("author_num_games_owned") > 0,
                F.col("author_num_reviews") / F.col("author_num_games_owned"),
            ),
        )
        .withColumn("review_hour_utc", F.hour("created_at"))
        .withColumn("review_dow", F.dayofweek("created_at"))
    )


def _latest_first(*keys: str):
    from pyspark.sql import Window
    from pyspark.sql import functions as F

    return Window.partitionBy(*keys).orderBy(F.col("timestamp_updated").desc(), F.col("recommendationid"))


def curate_reviews(raw: DataFrame) -> CurateResult:
    """Raw Steam reviews → curated reviews + quarantined rows.

    Args:
        raw: rows in the raw schema (``shoplake.ingest.mongo_extract.STEAM_REVIEW_FIELDS``).

    Returns:
        ``curated``: one row per review with cleaned ``review_text``, typed timestamps, ``language_code`` and
        features; ``quarantine``: ``record_id``, ``reason``, ``document`` (the raw row as JSON) for rows that are
        duplicates (same ``recommendationid``, or a second review by the same author of the same app: the latest
        edit wins), have no text left after cleaning, or an unparseable score.
    """
    from pyspark.sql import functions as F

    df = add_language(add_types(raw.withColumn("_raw", F.to_json(F.struct(*[F.col(c) for c in raw.columns])))))
    df = df.withColumn("review_text", clean_text(F.col("review")))
    df = df.withColumn("_rank_id", F.row_number().over(_latest_first("recommendationid")))
    df = df.withColumn("_rank_author", F.row_number().over(_latest_first("appid", "author_steamid")))
    reason = F.concat_ws(
        ";",
        F.when(F.col("_rank_id") > 1, F.lit("duplicate recommendationid (a later edit is kept)")),
        F.when(
            (F.col("_rank_id") == 1) & (F.col("_rank_author") > 1),
            F.lit("duplicate review of this app by the same author (the latest is kept)"),
        ),
        F.when(F.length("review_text") == 0, F.lit("review text empty after cleaning")),
        F.when(F.col("weighted_vote_score").isNull(), F.lit("weighted_vote_score is not a number")),
    )
    df = df.withColumn("_reason", reason)
    quarantine = df.where(F.col("_reason") != "").select(
        F.col("recommendationid").alias("record_id"),
        F.col("_reason").alias("reason"),
        F.col("_raw").alias("document"),
    )
    curated = add_features(df.where(F.col("_reason") == "")).drop("_raw", "_rank_id", "_rank_author", "_reason")
    return CurateResult(curated=curated, quarantine=quarantine)
