"""Engagement levels of the clickstream (per user × product × session) and their structured features, in PySpark.

**Levels.** 0 *low* = viewed only, 1 *medium* = added to cart, 2 *disengaged* = removed from cart, 3 *high* =
purchased. When one user × product × session holds several event types the furthest stage wins, in the order
view < cart < remove_from_cart < purchase: a product carted then removed is *disengaged* (2), one bought — even after
a removal — is *high* (3).

**Features** (nothing from the row's own events besides what is known when the session is under way):
``price``, ``price_rank`` (percent rank of the price among the category's products), ``product_users`` and
``product_buyers`` (distinct users / purchasers of the product in the training period only), ``brand`` and
``top_category`` (categorical), ``session_products`` and ``session_categories`` (diversity of the session),
``hour`` (UTC hour of the session start), and the user's recency / frequency / monetary value from sessions that
started before this one: ``user_recency_hours`` (null without a previous session), ``user_sessions_before``,
``user_spend_before``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from pyspark.sql import DataFrame

LEVELS = {"view": 0, "cart": 1, "remove_from_cart": 2, "purchase": 3}
LEVEL_NAMES = ("low", "medium", "disengaged", "high")
NUMERIC = [
    "price",
    "price_rank",
    "product_users",
    "product_buyers",
    "session_products",
    "session_categories",
    "hour",
    "user_recency_hours",
    "user_sessions_before",
    "user_spend_before",
]
CATEGORICAL = ["brand", "top_category"]


def engagement_rows(events: DataFrame) -> DataFrame:
    """One row per user × product × session: ``level`` (0–3), ``session_start``, price and catalogue columns."""
    from pyspark.sql import functions as F

    stage = F.create_map(*[x for name, lvl in LEVELS.items() for x in (F.lit(name), F.lit(lvl))])
    ev = events.where(F.col("user_session").isNotNull() & F.col("event_type").isin(*LEVELS))
    ev = ev.withColumn("_stage", stage[F.col("event_type")])
    sessions = ev.groupBy("user_session").agg(
        F.min("event_time").alias("session_start"),
        F.countDistinct("product_id").alias("session_products"),
        F.countDistinct(F.coalesce("category_code", F.col("category_id").cast("string"))).alias("session_categories"),
    )
    rows = ev.groupBy("user_id", "product_id", "user_session").agg(
        F.max("_stage").alias("level"),
        F.first("price", ignorenulls=True).alias("price"),
        F.first("category_id", ignorenulls=True).alias("category_id"),
        F.first("brand", ignorenulls=True).alias("brand"),
        F.first("top_category", ignorenulls=True).alias("top_category"),
    )
    return rows.join(sessions, "user_session")


def with_features(rows: DataFrame, events: DataFrame, train_until: object) -> DataFrame:
    """Add the structured features; product statistics come from events before ``train_until`` only."""
    from pyspark.sql import Window
    from pyspark.sql import functions as F

    past = events.where(F.col("event_time") < F.lit(train_until))
    product = past.groupBy("product_id").agg(
        F.countDistinct("user_id").alias("product_users"),
        F.countDistinct(F.when(F.col("event_type") == "purchase", F.col("user_id"))).alias("product_buyers"),
    )
    catalogue = events.groupBy("product_id", "category_id").agg(F.first("price", ignorenulls=True).alias("_p"))
    ranks = catalogue.withColumn(
        "price_rank", F.percent_rank().over(Window.partitionBy("category_id").orderBy("_p"))
    ).select("product_id", "category_id", "price_rank")
    spend = events.where(F.col("event_type") == "purchase").groupBy("user_session").agg(F.sum("price").alias("_spent"))
    per_session = rows.select("user_id", "user_session", "session_start").distinct().join(spend, "user_session", "left")
    before = Window.partitionBy("user_id").orderBy("session_start").rowsBetween(Window.unboundedPreceding, -1)
    user = per_session.select(
        "user_session",
        ((F.col("session_start").cast("double") - F.max("session_start").over(before).cast("double")) / 3600.0).alias(
            "user_recency_hours"
        ),
        F.count("user_session").over(before).alias("user_sessions_before"),
        F.coalesce(F.sum("_spent").over(before), F.lit(0.0)).alias("user_spend_before"),
    )
    return (
        rows.join(product, "product_id", "left")
        .join(ranks, ["product_id", "category_id"], "left")
        .join(user, "user_session", "left")
        .withColumn("product_users", F.coalesce("product_users", F.lit(0)).cast("double"))
        .withColumn("product_buyers", F.coalesce("product_buyers", F.lit(0)).cast("double"))
        .withColumn("hour", F.hour("session_start").cast("double"))
        .withColumn("brand", F.coalesce("brand", F.lit("(none)")))
        .withColumn("top_category", F.coalesce("top_category", F.lit("(none)")))
        .withColumn("label", F.col("level").cast("double"))
    )
