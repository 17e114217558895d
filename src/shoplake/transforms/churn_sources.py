"""Land and curate the three churn sources with PySpark: Sparkify event logs, a customer table, a clickstream.

For each source: ``land_*`` reads one day of the source with an explicit schema (unparseable lines → quarantine),
``curate_*`` types and cleans it (rows that break a rule → quarantine with a reason). Every input row ends in
exactly one of raw/curated or quarantine, so ``rows in == good + quarantined`` at both steps.
"""

from __future__ import annotations

import datetime as dt
from typing import TYPE_CHECKING

from shoplake.transforms.checked import CORRUPT, Checked
from shoplake.transforms.checked import split_corrupt as _split_corrupt
from shoplake.transforms.checked import split_on as _split_on

if TYPE_CHECKING:
    from pyspark.sql import Column, DataFrame, SparkSession

CLICK_EVENT_TYPES = ("view", "cart", "remove_from_cart", "purchase")


def _day_bounds(ds: str) -> tuple[int, int]:
    start = dt.datetime.fromisoformat(ds).replace(tzinfo=dt.UTC)
    return int(start.timestamp()), int((start + dt.timedelta(days=1)).timestamp())


# ---- Sparkify event logs ------------------------------------------------------------------------------------


def sparkify_schema():
    from pyspark.sql import types as T

    return T.StructType(
        [
            T.StructField("artist", T.StringType()),
            T.StructField("auth", T.StringType()),
            T.StructField("firstName", T.StringType()),
            T.StructField("gender", T.StringType()),
            T.StructField("itemInSession", T.LongType()),
            T.StructField("lastName", T.StringType()),
            T.StructField("length", T.DoubleType()),
            T.StructField("level", T.StringType()),
            T.StructField("location", T.StringType()),
            T.StructField("method", T.StringType()),
            T.StructField("page", T.StringType()),
            T.StructField("registration", T.DoubleType()),
            T.StructField("sessionId", T.LongType()),
            T.StructField("song", T.StringType()),
            T.StructField("status", T.LongType()),
            T.StructField("ts", T.LongType()),
            T.StructField("userAgent", T.StringType()),
            T.StructField("userId", T.StringType()),  # a string: "" for logged-out events
            T.StructField(CORRUPT, T.StringType()),
        ]
    )


def sparkify_source_file(source_dir: str, ds: str) -> str:
    """The day's file in the upstream layout ``log_data/YYYY/MM/YYYY-MM-DD-events.json``."""
    d = dt.date.fromisoformat(ds)
    return f"{source_dir.rstrip('/')}/log_data/{d:%Y}/{d:%m}/{ds}-events.json"


def land_sparkify(spark: SparkSession, source_dir: str, ds: str) -> Checked:
    """One day's NDJSON events, typed by the explicit schema; unparseable lines → quarantine."""
    from pyspark.sql import functions as F

    df = spark.read.schema(sparkify_schema()).option("mode", "PERMISSIVE").json(sparkify_source_file(source_dir, ds))
    return _split_corrupt(df, F.concat_ws("/", F.col("sessionId"), F.col("itemInSession")), "JSON line")


def curate_sparkify(raw: DataFrame, ds: str) -> Checked:
    """Typed, cleaned events. Rules: ``ts`` inside the day, a page and a session; logged-out events keep a null
    ``user_id`` (they count for sessions, never for a user's features); a duplicate event (same session, item and
    time) is quarantined.
    """
    from pyspark.sql import Window
    from pyspark.sql import functions as F

    lo, hi = _day_bounds(ds)
    rank = F.row_number().over(Window.partitionBy("sessionId", "itemInSession", "ts").orderBy("userId"))
    df = raw.withColumn("_dup", rank)
    reasons = [
        F.when(F.col("ts").isNull(), F.lit("ts missing")),
        F.when((F.col("ts") < lo * 1000) | (F.col("ts") >= hi * 1000), F.lit(f"ts outside {ds} (UTC)")),
        F.when(F.col("page").isNull() | (F.trim("page") == ""), F.lit("page missing")),
        F.when(F.col("sessionId").isNull(), F.lit("sessionId missing")),
        F.when(F.col("length") < 0, F.lit("negative song length")),
        F.when(F.col("_dup") > 1, F.lit("duplicate event (same session, item and ts)")),
    ]
    split = _split_on(df, reasons, F.concat_ws("/", F.col("sessionId"), F.col("itemInSession")))
    user = F.when(F.trim("userId") != "", F.trim("userId"))
    good = split.good.select(
        F.timestamp_millis("ts").alias("event_time"),
        F.col("ts").alias("ts_ms"),
        user.alias("user_id"),
        F.col("sessionId").alias("session_id"),
        F.col("itemInSession").alias("item_in_session"),
        F.trim("page").alias("page"),
        F.col("auth"),
        F.lower("level").alias("level"),
        F.col("gender"),
        F.col("location"),
        F.regexp_replace("userAgent", r'^"|"$', "").alias("user_agent"),
        F.col("song"),
        F.col("artist"),
        F.col("length"),
        F.timestamp_millis(F.col("registration").cast("long")).alias("registered_at"),
        F.col("status"),
        F.col("method"),
    )
    return Checked(good, split.quarantine)


# ---- customer table (IBM Telco) -----------------------------------------------------------------------------

TELCO_CATEGORICAL = (
    "gender",
    "Partner",
    "Dependents",
    "PhoneService",
    "MultipleLines",
    "InternetService",
    "OnlineSecurity",
    "OnlineBackup",
    "DeviceProtection",
    "TechSupport",
    "StreamingTV",
    "StreamingMovies",
    "Contract",
    "PaperlessBilling",
    "PaymentMethod",
)


def telco_schema():
    from pyspark.sql import types as T

    fields = [T.StructField("customerID", T.StringType())]
    fields += [T.StructField(c, T.StringType()) for c in ("gender", "SeniorCitizen", "Partner", "Dependents")]
    fields += [T.StructField("tenure", T.StringType())]
    fields += [T.StructField(c, T.StringType()) for c in TELCO_CATEGORICAL[3:]]
    fields += [T.StructField(c, T.StringType()) for c in ("MonthlyCharges", "TotalCharges", "Churn")]
    fields += [T.StructField(CORRUPT, T.StringType())]
    return T.StructType(fields)


def land_telco(spark: SparkSession, source_path: str) -> Checked:
    """The customer table snapshot as strings (the source's text, unchanged); malformed lines → quarantine."""
    from pyspark.sql import functions as F

    df = (
        spark.read.schema(telco_schema())
        .option("header", True)
        .option("mode", "PERMISSIVE")
        .option("columnNameOfCorruptRecord", CORRUPT)
        .csv(source_path)
    )
    return _split_corrupt(df, F.col("customerID"), "CSV line")


def curate_telco(raw: DataFrame) -> Checked:
    """Typed customers. ``TotalCharges`` is blank for brand-new customers (tenure 0): it becomes 0.0, flagged by
    ``total_charges_imputed``. Rules: a unique id, integer tenure >= 0, numeric non-negative charges, Churn Yes/No.
    """
    from pyspark.sql import Window
    from pyspark.sql import functions as F

    tenure = F.col("tenure").try_cast("int")
    monthly = F.col("MonthlyCharges").try_cast("double")
    total_blank = F.trim("TotalCharges") == ""
    total = F.col("TotalCharges").try_cast("double")
    dup = F.count("*").over(Window.partitionBy("customerID"))
    df = raw.withColumn("_n", dup)
    reasons = [
        F.when(F.col("customerID").isNull() | (F.trim("customerID") == ""), F.lit("customerID missing")),
        F.when(F.col("_n") > 1, F.lit("customerID not unique in the snapshot")),
        F.when(tenure.isNull() | (tenure < 0), F.lit("tenure not a non-negative integer")),
        F.when(monthly.isNull() | (monthly < 0), F.lit("MonthlyCharges not a non-negative number")),
        F.when(~total_blank & (total.isNull() | (total < 0)), F.lit("TotalCharges not a non-negative number")),
        F.when(~F.col("Churn").isin("Yes", "No") | F.col("Churn").isNull(), F.lit("Churn not Yes/No")),
        F.when(
            ~F.col("SeniorCitizen").isin("0", "1") | F.col("SeniorCitizen").isNull(), F.lit("SeniorCitizen not 0/1")
        ),
    ]
    split = _split_on(df, reasons, F.col("customerID"))
    good = split.good.select(
        F.trim("customerID").alias("customer_id"),
        *[F.trim(c).alias(c) for c in TELCO_CATEGORICAL],
        F.col("SeniorCitizen").cast("int").alias("senior_citizen"),
        tenure.alias("tenure_months"),
        monthly.alias("monthly_charges"),
        F.coalesce(total, F.lit(0.0)).alias("total_charges"),
        total_blank.alias("total_charges_imputed"),
        (F.col("Churn") == "Yes").alias("churned"),
    )
    return Checked(good, split.quarantine)


# ---- clickstream (REES46) ------------------------------------------------------------------------------------


def clickstream_schema():
    from pyspark.sql import types as T

    return T.StructType(
        [
            T.StructField("event_time", T.StringType()),
            T.StructField("event_type", T.StringType()),
            T.StructField("product_id", T.LongType()),
            T.StructField("category_id", T.LongType()),
            T.StructField("category_code", T.StringType()),
            T.StructField("brand", T.StringType()),
            T.StructField("price", T.DoubleType()),
            T.StructField("user_id", T.LongType()),
            T.StructField("user_session", T.StringType()),
            T.StructField(CORRUPT, T.StringType()),
        ]
    )


def _click_time(col: Column) -> Column:
    from pyspark.sql import functions as F

    # try_: a malformed time is a quarantine reason, not a failed job (Spark 4 runs in ANSI mode)
    return F.try_to_timestamp(F.regexp_replace(col, " UTC$", ""), F.lit("yyyy-MM-dd HH:mm:ss"))


def land_clickstream(spark: SparkSession, source_glob: str, ds: str) -> Checked:
    """The day's events from the source CSVs (``event_time`` on ``ds``); malformed lines → quarantine.

    Lines whose ``event_time`` does not parse are kept (curate quarantines them); lines of other days are not
    this partition's input.
    """
    from pyspark.sql import functions as F

    df = (
        spark.read.schema(clickstream_schema())
        .option("header", True)
        .option("mode", "PERMISSIVE")
        .option("columnNameOfCorruptRecord", CORRUPT)
        .csv(source_glob)
    )
    split = _split_corrupt(df, F.col("user_session"), "CSV line")
    day = F.to_date(_click_time(F.col("event_time")))
    in_day = day.isNull() | (day == F.lit(ds).cast("date"))
    corrupt_day = F.to_date(_click_time(F.regexp_extract(F.col("document"), r"^([^,]*)", 1)))
    quarantine = split.quarantine.where(corrupt_day.isNull() | (corrupt_day == F.lit(ds).cast("date")))
    return Checked(split.good.where(in_day), quarantine)


def curate_clickstream(raw: DataFrame) -> Checked:
    """Typed events. Rules: a parseable time, a known event type, a user, a product, a non-negative price;
    exact duplicate lines are quarantined."""
    from pyspark.sql import Window
    from pyspark.sql import functions as F

    ts = _click_time(F.col("event_time"))
    key = ["event_time", "event_type", "product_id", "user_id", "user_session"]
    df = raw.withColumn("_dup", F.row_number().over(Window.partitionBy(*key).orderBy("price")))
    reasons = [
        F.when(ts.isNull(), F.lit("event_time not 'YYYY-MM-DD HH:MM:SS UTC'")),
        F.when(
            ~F.col("event_type").isin(*CLICK_EVENT_TYPES) | F.col("event_type").isNull(), F.lit("unknown event_type")
        ),
        F.when(F.col("user_id").isNull(), F.lit("user_id missing")),
        F.when(F.col("product_id").isNull(), F.lit("product_id missing")),
        F.when(F.col("price").isNull() | (F.col("price") < 0), F.lit("price missing or negative")),
        F.when(F.col("_dup") > 1, F.lit("duplicate event")),
    ]
    split = _split_on(df, reasons, F.col("user_session"))
    good = split.good.select(
        ts.alias("event_time"),
        F.col("event_type"),
        F.col("product_id"),
        F.col("category_id"),
        F.col("category_code"),
        F.split(F.col("category_code"), r"\.").getItem(0).alias("top_category"),
        F.col("brand"),
        F.col("price"),
        F.col("user_id").cast("string").alias("user_id"),
        F.col("user_session"),
    )
    return Checked(good, split.quarantine)
