"""Product reviews with star ratings (Sephora layout), the product catalogue, and the clickstream ↔ review mapping.

* :func:`land_reviews` — one day of review CSV rows (``submission_time`` on ``ds``), every column as text;
  unparseable CSV records → quarantine.
* :func:`curate_reviews` — typed reviews. Rules: a product id, a rating 1–5 (``"4"``, ``"4.0"`` and ``" 5 "`` are
  read as numbers), a parseable submission time, a non-empty text (the incentive disclosure
  ``[I received this product …]`` is taken off the text and kept as the ``incentivised`` flag); a second copy of
  the same review (product, author, time, text) is quarantined as a duplicate. The reviewer's nickname is personal
  data: curated rows carry ``author_key`` (a SHA-256 of it), never the nickname.
* :func:`curate_catalog` — the catalogue snapshot: product id, name, brand, categories, price; rows without a product
  id or a brand → quarantine; one row per product (the first source file that lists it wins).
* :func:`review_map` — clickstream products ↔ the review side's brands by **normalised brand name** (lower case,
  accents and punctuation removed: ``"L'Oréal Paris"`` → ``"lorealparis"``): method ``brand+category`` when the
  clickstream category path also names one of the brand's catalogue categories, ``brand`` when the brand is in the
  catalogue and either side has no category, ``none`` otherwise — a category that names none of the
  brand's (``electronics.smartphone`` for a beauty brand's name) is a conflict, not a match
  (``category_conflict``). The brand's review count, mean rating, share of 4–5 star reviews and mean text sentiment
  (``positive_prob`` of the scored reviews) come along where it has reviews (``brand_reviews`` 0 otherwise).
  Nothing else is guessed: no fuzzy names, no product-level match (the two sources share no product ids).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from shoplake.transforms.checked import CORRUPT, Checked, split_corrupt, split_on

if TYPE_CHECKING:
    from pyspark.sql import Column, DataFrame, SparkSession

REVIEW_COLUMNS = ("category", "source_url", "product_id", "rating", "review_text", "title", "author", "submission_time")
INCENTIVISED_PREFIX = "[I received this product"
#: the whole bracketed disclosure at the start of an incentivised review (and the spaces after it)
INCENTIVE_RE = r"^\[[^\]]*\]\s*"


def normalise_brand(col: Column) -> Column:
    """Brand key: lower case, accents stripped, only letters and digits (``"Dolce&Gabbana"`` → ``"dolcegabbana"``)."""
    from pyspark.sql import functions as F

    folded = F.translate(
        F.lower(F.trim(col)), "àáâãäåçèéêëìíîïñòóôõöùúûüýÿ", "aaaaaaceeeeiiiinooooouuuuyy"
    )  # fmt: skip
    key = F.regexp_replace(folded, r"[^a-z0-9]", "")
    return F.when(key == "", F.lit(None)).otherwise(key)


def _csv(spark: SparkSession, path: str, columns: tuple[str, ...]):
    from pyspark.sql import types as T

    schema = T.StructType([T.StructField(c, T.StringType()) for c in (*columns, CORRUPT)])
    return (
        spark.read.schema(schema)
        .option("header", True)
        .option("multiLine", True)  # review texts hold line breaks inside quotes
        .option("escape", '"')
        .option("mode", "PERMISSIVE")
        .option("columnNameOfCorruptRecord", CORRUPT)
        .csv(path)
    )


def _review_time(col: Column) -> Column:
    from pyspark.sql import functions as F

    # ISO-8601 with milliseconds and an offset (2026-02-25T06:22:28.000+00:00); try_: a bad time is a reason
    return F.coalesce(
        F.try_to_timestamp(col, F.lit("yyyy-MM-dd'T'HH:mm:ss.SSSXXX")),
        F.try_to_timestamp(col, F.lit("yyyy-MM-dd'T'HH:mm:ssXXX")),
        F.try_to_timestamp(col, F.lit("yyyy-MM-dd HH:mm:ss")),
    )


def land_reviews(spark: SparkSession, path: str, ds: str) -> Checked:
    """The review rows of day ``ds`` (UTC) as text; rows whose time does not parse are kept for curate to quarantine
    in the run of the day they name, if any, else in every run that reads them (so they are never silently lost)."""
    from pyspark.sql import functions as F

    df = _csv(spark, path, REVIEW_COLUMNS).withColumn("source_file", F.input_file_name())
    split = split_corrupt(df, F.col("product_id"), "CSV record")
    day = F.to_date(_review_time(F.col("submission_time")))
    return Checked(split.good.where(day.isNull() | (day == F.lit(ds).cast("date"))), split.quarantine)


def curate_reviews(raw: DataFrame, language: str = "en") -> Checked:
    """Typed, de-duplicated reviews (module docstring for the rules); ``language_code`` is the source's language
    (the Sephora US site writes English; the sentiment engine routes each row by it)."""
    from pyspark.sql import Window
    from pyspark.sql import functions as F

    rating = F.expr("try_cast(trim(rating) AS DOUBLE)")
    given = F.trim(F.col("review_text"))
    incentivised = given.startswith(INCENTIVISED_PREFIX)
    # the incentive disclosure is a flag, not review text: "[I received this product …] Smells …" → "Smells …"
    text = F.when(incentivised, F.trim(F.regexp_replace(given, INCENTIVE_RE, ""))).otherwise(given)
    ts = _review_time(F.col("submission_time"))
    key = F.sha2(F.concat_ws("\u241f", "product_id", "author", "submission_time", "review_text"), 256)
    df = raw.withColumn("_key", key).withColumn(
        "_dup", F.row_number().over(Window.partitionBy("_key").orderBy("source_file"))
    )
    reasons = [
        F.when(F.col("product_id").isNull() | (F.trim("product_id") == ""), F.lit("product_id missing")),
        F.when(
            rating.isNull() | (rating != F.floor(rating)) | (rating < 1) | (rating > 5),
            F.lit("rating not a whole number 1-5"),
        ),
        F.when(ts.isNull(), F.lit("submission_time not ISO-8601")),
        F.when(text.isNull() | (text == ""), F.lit("empty review text")),
        F.when(F.col("_dup") > 1, F.lit("duplicate review")),
    ]
    split = split_on(df, reasons, F.col("_key"))
    good = split.good.select(
        F.col("_key").alias("review_id"),
        F.trim("product_id").alias("product_id"),
        rating.cast("int").alias("rating"),
        text.alias("review_text"),
        F.trim("title").alias("title"),
        F.when(F.col("author").isNotNull(), F.sha2(F.trim("author"), 256)).alias("author_key"),
        ts.alias("submitted_at"),
        F.coalesce(incentivised, F.lit(False)).alias("incentivised"),
        F.length(text).alias("text_chars"),
        F.col("category").alias("listing"),
        F.lit(language).alias("language_code"),
    )
    return Checked(good, split.quarantine)


CATALOG_COLUMNS = (
    "product_id",
    "product_name",
    "brand_name",
    "Brand",
    "price_usd",
    "primary_category",
    "secondary_category",
    "tertiary_category",
)


def curate_catalog(spark: SparkSession, path: str) -> tuple[Checked, int]:
    """The product catalogue: ``(checked rows, rows read)``. Brand comes from ``brand_name`` (Kaggle table) or
    ``Brand`` (the scraper's table); the files may hold either, with any other columns."""
    from pyspark.sql import Window
    from pyspark.sql import functions as F

    from shoplake.io.lake import filesystem, spelled_like

    fs, pattern = filesystem(path)
    files = sorted(fs.glob(pattern)) if any(c in pattern for c in "*?[") else [pattern]
    if not files:
        raise FileNotFoundError(f"no product catalogue file matches {path}")
    df = None
    for f in files:  # one read per file: Spark would apply the first file's header to every file of a glob
        one = (
            spark.read.option("header", True).option("multiLine", True).option("escape", '"').csv(spelled_like(path, f))
        )
        for col in CATALOG_COLUMNS:
            if col not in one.columns:
                one = one.withColumn(col, F.lit(None).cast("string"))
        one = one.select(*CATALOG_COLUMNS).withColumn("source_file", F.lit(f))
        df = one if df is None else df.unionByName(one)
    read = df.count()
    brand = F.trim(F.coalesce("brand_name", "Brand"))
    order = Window.partitionBy(F.trim("product_id")).orderBy(F.col("source_file"))
    df = df.withColumn("_brand", brand).withColumn("_n", F.row_number().over(order))
    reasons = [
        F.when(F.col("product_id").isNull() | (F.trim("product_id") == ""), F.lit("product_id missing")),
        F.when(F.col("_brand").isNull() | (F.col("_brand") == ""), F.lit("brand missing")),
        F.when(F.col("_n") > 1, F.lit("product listed again (first listing kept)")),
    ]
    split = split_on(df, reasons, F.col("product_id"))
    good = split.good.select(
        F.trim("product_id").alias("product_id"),
        F.col("product_name"),
        F.col("_brand").alias("brand"),
        normalise_brand(F.col("_brand")).alias("brand_key"),
        F.expr("try_cast(price_usd AS DOUBLE)").alias("price_usd"),
        F.col("primary_category"),
        F.col("secondary_category"),
        F.col("tertiary_category"),
    )
    return Checked(good, split.quarantine), read


def review_map(events: DataFrame, catalog: DataFrame, reviews: DataFrame) -> DataFrame:
    """One row per clickstream product: its brand key, the match method and the matched brand's review figures."""
    from pyspark.sql import functions as F

    def words(col: Column) -> Column:
        return F.filter(F.split(F.lower(F.coalesce(col, F.lit(""))), r"[^a-z0-9]+"), lambda w: w != "")

    products = events.groupBy("product_id").agg(
        F.first("brand", ignorenulls=True).alias("brand"),
        F.first("category_code", ignorenulls=True).alias("category_code"),
    )
    products = products.withColumn("brand_key", normalise_brand(F.col("brand")))
    rated = reviews.join(catalog.select("product_id", "brand_key"), "product_id")
    if "positive_prob" not in rated.columns:  # no scored reviews: no sentiment figure
        rated = rated.withColumn("positive_prob", F.lit(None).cast("float"))
    brand_reviews = rated.groupBy("brand_key").agg(
        F.count(F.lit(1)).alias("brand_reviews"),
        F.avg("rating").alias("brand_avg_rating"),
        F.avg(F.when(F.col("rating") >= 4, 1.0).otherwise(0.0)).alias("brand_positive_share"),
        F.avg("positive_prob").alias("brand_sentiment"),
    )
    brand_categories = catalog.groupBy("brand_key").agg(
        F.array_distinct(
            F.flatten(
                F.collect_list(
                    F.concat(
                        words(F.col("primary_category")),
                        words(F.col("secondary_category")),
                        words(F.col("tertiary_category")),
                    )
                )
            )
        ).alias("_cats")
    )
    joined = products.join(brand_reviews, "brand_key", "left").join(brand_categories, "brand_key", "left")
    category_hit = F.size(F.array_intersect(words(F.col("category_code")), F.coalesce("_cats", F.array()))) > 0
    method = (
        F.when(F.col("_cats").isNull(), F.lit("none"))  # the brand is not in the review side's catalogue
        .when(category_hit, F.lit("brand+category"))
        # no category on either side to contradict the brand
        .when(F.col("category_code").isNull() | (F.size("_cats") == 0), F.lit("brand"))
        .otherwise(F.lit("none"))  # a category that names none of the brand's (a Google phone ≠ a beauty brand)
    )
    conflict = (F.size(F.coalesce("_cats", F.array())) > 0) & F.col("category_code").isNotNull() & ~category_hit
    return joined.select(
        "product_id",
        "brand",
        "brand_key",
        "category_code",
        method.alias("match_method"),
        conflict.alias("category_conflict"),
        F.coalesce("brand_reviews", F.lit(0)).alias("brand_reviews"),
        "brand_avg_rating",
        "brand_positive_share",
        "brand_sentiment",
    )
