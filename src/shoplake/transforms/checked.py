"""Split a step's rows into good ones and quarantined ones (``record_id``, ``reason``, ``document``), in PySpark.

Shared by every Spark curate step: the churn sources, the product reviews.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from pyspark.sql import Column, DataFrame

CORRUPT = "_corrupt_record"


@dataclass(frozen=True)
class Checked:
    """Good rows and quarantined rows (``record_id``, ``reason``, ``document``) of one step."""

    good: DataFrame
    quarantine: DataFrame


def quarantine_rows(df: DataFrame, id_col: Column, reason: Column) -> DataFrame:
    from pyspark.sql import functions as F

    doc = F.to_json(F.struct(*[F.col(c) for c in df.columns if not c.startswith("_")]))  # no helper columns
    return df.select(id_col.cast("string").alias("record_id"), reason.alias("reason"), doc.alias("document"))


def split_on(df: DataFrame, reasons: list[Column], id_col: Column) -> Checked:
    """Rows with any reason → quarantine (reasons joined with ``;``), the rest stay."""
    from pyspark.sql import functions as F

    df = df.withColumn("_reason", F.concat_ws(";", *reasons))
    bad = df.where(F.col("_reason") != "")
    return Checked(df.where(F.col("_reason") == "").drop("_reason"), quarantine_rows(bad, id_col, F.col("_reason")))


def split_corrupt(df: DataFrame, id_col: Column, what: str) -> Checked:
    from pyspark.sql import functions as F

    df = df.cache()  # Spark refuses queries on the corrupt-record column of an uncached raw read
    bad = df.where(F.col(CORRUPT).isNotNull())
    quarantine = bad.select(
        id_col.cast("string").alias("record_id"),
        F.lit(f"unparseable {what}").alias("reason"),
        F.col(CORRUPT).alias("document"),
    )
    return Checked(df.where(F.col(CORRUPT).isNull()).drop(CORRUPT), quarantine)
