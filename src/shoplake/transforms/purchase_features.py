"""Steam purchase features: curated reviews joined with their sentiment, one numeric row per review.

**Target.** ``steam_purchase`` — whether the reviewer bought the game on Steam (``False``: a key activated from
another store, a bundle or a gift). It is the one purchase signal Steam publishes per review, known when the review
is written, and about balanced in the sample (≈53 % positive), so the model answers "does this review come from
a Steam buyer?" — the question a store asks when it weighs reviews or targets buyers. ``received_for_free`` is
*not* a feature: it describes the same acquisition channel as the target (free keys are never Steam purchases),
so it would leak the label. ``voted_up`` is reported as a second target with the same features (minus itself).

**Features** (all numeric; booleans as 0/1, missing values left missing for XGBoost):
review patterns (length, words, ``!``/``?``, upper-case ratio, URL, markup, edited, developer response, hour,
weekday, English), sentiment (``positive_prob``, ``sentiment_score`` of the enriched zone), votes (helpful, funny,
weighted score, comments), playtime (total, last two weeks, days played after the review), author stats (games
owned, reviews, reviews per game), early access and, for the purchase target, ``voted_up``.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from shoplake.paths import PURCHASE_TARGETS as TARGETS

if TYPE_CHECKING:
    import pandas as pd
    import pyarrow as pa

ID_COLUMNS = ("recommendationid", "appid", "timestamp_created")

#: curated columns used as features as they are (booleans become 0/1)
CURATED_FEATURES = (
    "review_chars",
    "review_words",
    "exclamation_count",
    "question_count",
    "uppercase_ratio",
    "has_url",
    "has_markup",
    "is_edited",
    "has_developer_response",
    "review_hour_utc",
    "review_dow",
    "votes_up",
    "votes_funny",
    "weighted_vote_score",
    "comment_count",
    "author_playtime_forever_h",
    "author_playtime_last_two_weeks_h",
    "days_played_after_review",
    "author_num_games_owned",
    "author_num_reviews",
    "author_reviews_per_game",
    "written_during_early_access",
)
SENTIMENT_FEATURES = ("positive_prob", "sentiment_score")
DERIVED_FEATURES = ("is_english",)
ALL_FEATURES = (*CURATED_FEATURES, *SENTIMENT_FEATURES, *DERIVED_FEATURES, "voted_up")
#: the only columns :func:`build_features` reads: a day is read without its review texts
CURATED_COLUMNS = (*ID_COLUMNS, *TARGETS, *CURATED_FEATURES, "language_code")
ENRICHED_COLUMNS = ("recommendationid", "sentiment_status", *SENTIMENT_FEATURES)
#: one-hot game columns are named ``app_<appid>``; a game without its column (unseen in training) has all zeros
APP_PREFIX = "app_"


def feature_columns(target: str, apps: Sequence[int] = (), *, games: bool = False) -> list[str]:
    """Features of a model for ``target`` (a target is never its own feature), the game-level features
    (``shoplake.transforms.game_features``) with ``games``, then one column per game of ``apps``."""
    from shoplake.transforms.game_features import GAME_FEATURES

    if target not in TARGETS:
        raise ValueError(f"target must be one of {TARGETS}, got {target!r}")
    own = [c for c in ALL_FEATURES if c != target] + (list(GAME_FEATURES) if games else [])
    return own + [f"{APP_PREFIX}{a}" for a in apps]


def frequent_apps(train: pd.DataFrame, min_reviews: int) -> list[int]:
    """Games with at least ``min_reviews`` training rows: they get a one-hot column.

    The game carries much of the purchase signal — free-to-play titles (Dota 2, Warframe) have no Steam purchases,
    others are mostly sold as keys elsewhere — so the model learns it from the games it has seen enough of.
    """
    counts = train["appid"].value_counts()
    return sorted(int(a) for a in counts[counts >= min_reviews].index)


def model_frame(df: pd.DataFrame, features: Sequence[str]) -> pd.DataFrame:
    """Exactly ``features`` of ``df`` as float columns; ``app_<id>`` columns are derived from ``appid``."""
    import pandas as pd

    cols = {}
    for name in features:
        if name.startswith(APP_PREFIX):
            cols[name] = (df["appid"] == int(name.removeprefix(APP_PREFIX))).astype("float64")
        else:
            cols[name] = df[name].astype("float64")
    return pd.DataFrame(cols, index=df.index)


def build_features(curated: pa.Table, enriched: pa.Table) -> tuple[pa.Table, pa.Table]:
    """One day's feature rows: curated reviews joined with their sentiment scores.

    Args:
        curated: a ``curated/steam_reviews`` partition.
        enriched: the ``enriched/steam_reviews`` partition of the same day.

    Returns:
        ``(features, quarantine)``: features hold ``ID_COLUMNS``, both targets and every feature (float64);
        quarantine holds ``record_id``, ``reason``, ``document`` for curated rows missing from the enriched
        partition or without a target, so ``curated rows == features + quarantined``. A review in a language no
        sentiment model supports (``sentiment_status = 'unsupported_language'``) keeps its row with null sentiment
        features: XGBoost treats them as missing.
    """
    import pyarrow as pa
    import pyarrow.compute as pc

    from shoplake.quarantine import quarantine_table

    keep = list(CURATED_COLUMNS)
    joined = curated.select(keep).join(
        enriched.select(list(ENRICHED_COLUMNS)),
        keys="recommendationid",
        join_type="left outer",
    )
    no_score = pc.is_null(joined["sentiment_status"])
    no_target = pc.or_(pc.is_null(joined["steam_purchase"]), pc.is_null(joined["voted_up"]))
    reason = pc.if_else(
        no_score,
        "no row in enriched/steam_reviews (the sentiment job did not see it)",
        pc.if_else(no_target, "steam_purchase or voted_up missing", ""),
    )
    bad = pc.not_equal(reason, "")
    bad_rows = joined.filter(bad)
    quarantine = quarantine_table(
        bad_rows["recommendationid"].to_pylist(),
        pc.filter(reason, bad).to_pylist(),
        [json.dumps(r, default=str) for r in bad_rows.to_pylist()],
    )
    good = joined.filter(pc.invert(bad))
    cols: dict[str, Any] = {c: good[c] for c in ID_COLUMNS}
    cols.update({t: good[t] for t in TARGETS})
    for c in (*CURATED_FEATURES, *SENTIMENT_FEATURES):
        cols[c] = pc.cast(good[c], pa.float64())
    cols["is_english"] = pc.cast(pc.equal(good["language_code"], "en"), pa.float64())
    features = pa.table(cols).sort_by([("timestamp_created", "ascending"), ("recommendationid", "ascending")])
    return features, quarantine


def frequent_apps_spark(df: Any, min_reviews: int) -> list[int]:
    """Spark: games with at least ``min_reviews`` rows where ``split = 'train'`` (as :func:`frequent_apps`)."""
    if min_reviews <= 0:
        return []
    # a row without a game counts for no game (pandas' value_counts drops it the same way)
    train = df.where("split = 'train' AND appid IS NOT NULL")
    rows = train.groupBy("appid").count().where(f"count >= {min_reviews}").collect()
    return sorted(int(r["appid"]) for r in rows)
