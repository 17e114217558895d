"""Per-user (per-customer) churn features and labels with PySpark, one function per source.

Every builder returns one row per user with ``user_id``, numeric feature columns, optional string columns listed
in ``CATEGORICAL[source]`` (encoded inside the model pipeline), and ``label`` (1.0 = churned).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from shoplake.transforms.churn_sources import TELCO_CATEGORICAL

if TYPE_CHECKING:
    from collections.abc import Sequence

    from pyspark.sql import Column, DataFrame

DEFAULT_CHURN_PAGES = ("Cancellation Confirmation",)
#: pages that belong to the act of cancelling: never features (they would leak the label)
CANCEL_PAGES = ("Cancel", "Cancellation Confirmation")

SPARKIFY_PAGE_COUNTS = {
    "thumbs_up": "Thumbs Up",
    "thumbs_down": "Thumbs Down",
    "add_friend": "Add Friend",
    "add_to_playlist": "Add to Playlist",
    "adverts": "Roll Advert",
    "downgrade_visits": "Downgrade",
    "submit_downgrade": "Submit Downgrade",
    "upgrade_visits": "Upgrade",
    "submit_upgrade": "Submit Upgrade",
    "errors": "Error",
    "help_visits": "Help",
    "settings_visits": "Settings",
    "home_visits": "Home",
}

CATEGORICAL: dict[str, tuple[str, ...]] = {
    "sparkify": (),
    "telco": TELCO_CATEGORICAL,
    "clickstream": (),
}


def _count_if(cond: Column) -> Column:
    from pyspark.sql import functions as F

    return F.sum(F.when(cond, 1).otherwise(0)).cast("double")


def _ratio(num: Column, den: Column) -> Column:
    from pyspark.sql import functions as F

    return F.when(den > 0, num / den).otherwise(F.lit(0.0))


def sparkify_user_features(events: DataFrame, churn_pages: Sequence[str] = DEFAULT_CHURN_PAGES) -> DataFrame:
    """Sparkify users: activity, thumbs, ads, friends, downgrades, sessions, tenure; ``label`` = visited a churn page.

    Args:
        events: curated Sparkify events of the window (logged-out events, with a null ``user_id``, are ignored).
        churn_pages: pages whose visit means churn (default: Cancellation Confirmation). Events on these pages
            and on ``Cancel`` are not features.

    Returns:
        One row per user seen in the window.
    """
    from pyspark.sql import functions as F

    churn_pages = list(churn_pages)
    ev = events.where(F.col("user_id").isNotNull())
    label = ev.groupBy("user_id").agg(F.max(F.col("page").isin(*churn_pages).cast("double")).alias("label"))
    act = ev.where(~F.col("page").isin(*churn_pages, *CANCEL_PAGES))
    page = F.col("page")
    song = page == "NextSong"
    agg = act.groupBy("user_id").agg(
        F.count("*").cast("double").alias("events"),
        _count_if(song).alias("songs"),
        F.countDistinct("session_id").cast("double").alias("sessions"),
        F.countDistinct(F.to_date("event_time")).cast("double").alias("active_days"),
        (F.sum(F.when(song, F.col("length")).otherwise(0.0)) / 3600.0).alias("listen_hours"),
        F.countDistinct(F.when(song, F.col("artist"))).cast("double").alias("distinct_artists"),
        *[_count_if(page == p).alias(name) for name, p in SPARKIFY_PAGE_COUNTS.items()],
        F.max_by("level", "ts_ms").alias("_last_level"),
        F.max(F.when(F.col("level") == "paid", 1.0).otherwise(0.0)).alias("ever_paid"),
        F.first("gender", ignorenulls=True).alias("_gender"),
        F.min("registered_at").alias("_registered"),
        F.min("event_time").alias("_first"),
        F.max("event_time").alias("_last"),
    )
    seconds = F.col("_last").cast("long") - F.coalesce(F.col("_registered"), F.col("_first")).cast("long")
    span_days = F.greatest((F.col("_last").cast("long") - F.col("_first").cast("long")) / 86400.0, F.lit(1.0))
    feats = (
        agg.withColumn("tenure_days", F.greatest(seconds / 86400.0, F.lit(0.0)))
        .withColumn("is_paid", (F.col("_last_level") == "paid").cast("double"))
        .withColumn("is_male", (F.col("_gender") == "M").cast("double"))
        .withColumn("songs_per_session", _ratio(F.col("songs"), F.col("sessions")))
        .withColumn("songs_per_day", F.col("songs") / span_days)
        .withColumn("thumbs_up_ratio", _ratio(F.col("thumbs_up"), F.col("thumbs_up") + F.col("thumbs_down")))
        .withColumn("adverts_per_song", _ratio(F.col("adverts"), F.col("songs")))
        .withColumn("errors_per_event", _ratio(F.col("errors"), F.col("events")))
        .drop("_last_level", "_gender", "_registered", "_first", "_last")
    )
    # a user whose only events are churn pages still gets a row (zero activity), never silently dropped
    return label.join(feats, "user_id", "left").fillna(0.0)


def telco_customer_features(customers: DataFrame) -> DataFrame:
    """Telco customers: services and contract (categorical), tenure, charges; ``label`` = Churn."""
    from pyspark.sql import functions as F

    return customers.select(
        F.col("customer_id").alias("user_id"),
        *TELCO_CATEGORICAL,
        F.col("senior_citizen").cast("double").alias("senior_citizen"),
        F.col("tenure_months").cast("double").alias("tenure_months"),
        F.col("monthly_charges"),
        F.col("total_charges"),
        _ratio(F.col("total_charges"), F.col("tenure_months")).alias("avg_monthly_spend"),
        (F.col("monthly_charges") - _ratio(F.col("total_charges"), F.col("tenure_months"))).alias("charge_increase"),
        F.col("churned").cast("double").alias("label"),
    )


def clickstream_user_features(events: DataFrame, cutoff: Column | str, end: Column | str) -> DataFrame:
    """Clickstream users active before ``cutoff``: behaviour before it; ``label`` = no event in ``[cutoff, end)``.

    Args:
        events: curated clickstream events of the window.
        cutoff: start of the label period (timestamp literal or column); features use earlier events only.
        end: end of the label period (exclusive).

    Returns:
        One row per user with at least one event before ``cutoff``: counts per event type, sessions, products,
        categories, brands, prices, conversion ratios, active span and recency (minutes before the cutoff).
    """
    from pyspark.sql import functions as F

    cutoff_c = F.lit(cutoff).cast("timestamp") if isinstance(cutoff, str) else cutoff
    end_c = F.lit(end).cast("timestamp") if isinstance(end, str) else end
    before = events.where(F.col("event_time") < cutoff_c)
    after = (
        events.where((F.col("event_time") >= cutoff_c) & (F.col("event_time") < end_c))
        .select("user_id")
        .distinct()
        .withColumn("_returned", F.lit(1.0))
    )
    t = F.col("event_type")
    agg = before.groupBy("user_id").agg(
        F.count("*").cast("double").alias("events"),
        _count_if(t == "view").alias("views"),
        _count_if(t == "cart").alias("carts"),
        _count_if(t == "remove_from_cart").alias("removes"),
        _count_if(t == "purchase").alias("purchases"),
        F.countDistinct("user_session").cast("double").alias("sessions"),
        F.countDistinct("product_id").cast("double").alias("products"),
        F.countDistinct("category_id").cast("double").alias("categories"),
        F.countDistinct("brand").cast("double").alias("brands"),
        F.avg(F.when(t == "view", F.col("price"))).alias("avg_view_price"),
        F.sum(F.when(t == "purchase", F.col("price")).otherwise(0.0)).alias("spent"),
        F.min("event_time").alias("_first"),
        F.max("event_time").alias("_last"),
    )
    feats = (
        agg.withColumn("cart_rate", _ratio(F.col("carts"), F.col("views")))
        .withColumn("purchase_rate", _ratio(F.col("purchases"), F.col("carts") + F.col("purchases")))
        .withColumn("remove_rate", _ratio(F.col("removes"), F.col("carts")))
        .withColumn("events_per_session", _ratio(F.col("events"), F.col("sessions")))
        .withColumn("active_minutes", (F.col("_last").cast("long") - F.col("_first").cast("long")) / 60.0)
        .withColumn("recency_minutes", (cutoff_c.cast("long") - F.col("_last").cast("long")) / 60.0)
        .fillna({"avg_view_price": 0.0})
        .drop("_first", "_last")
    )
    labelled = feats.join(after, "user_id", "left")
    return labelled.withColumn("label", F.when(F.col("_returned").isNull(), 1.0).otherwise(0.0)).drop("_returned")


def feature_columns(df: DataFrame, source: str) -> tuple[list[str], list[str]]:
    """``(numeric, categorical)`` feature columns of a features frame (everything but ids and the label)."""
    categorical = [c for c in CATEGORICAL[source] if c in df.columns]
    numeric = [c for c in df.columns if c not in ("user_id", "label", *categorical)]
    return numeric, categorical
