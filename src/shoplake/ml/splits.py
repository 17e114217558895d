"""Train / validation / held-out splits by time: the oldest rows train, the newest are held out.

The same cut points serve the pandas split (local and SageMaker backends) and the Spark split (xgboost.spark), so
every backend trains and evaluates on the same rows.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import pandas as pd
    from pyspark.sql import DataFrame

#: rows are ordered by creation time, ties broken by id
ORDER = ("timestamp_created", "recommendationid")


@dataclass(frozen=True)
class TimeSplit:
    """A time-based split: ``train`` < ``valid`` (early stopping, threshold) < ``test`` (held out) by creation time."""

    train: pd.DataFrame
    valid: pd.DataFrame
    test: pd.DataFrame
    #: rows and creation-time span per split when they were measured elsewhere (Spark: the frames here may then be
    #: empty or a sample)
    described: dict[str, Any] | None = None

    def describe(self) -> dict[str, Any]:
        if self.described is not None:
            return self.described

        def span(df: pd.DataFrame) -> list[str]:
            ts = df["timestamp_created"]
            return [dt.datetime.fromtimestamp(int(x), dt.UTC).isoformat() for x in (ts.min(), ts.max())]

        return {
            name: {"rows": len(df), "created": span(df)}
            for name, df in (("train", self.train), ("valid", self.valid), ("test", self.test))
        }


def split_points(n: int, test_fraction: float, valid_fraction: float) -> tuple[int, int]:
    """Row positions (in creation-time order) where validation and held-out rows start; every backend uses them."""
    return int(n * (1 - test_fraction - valid_fraction)), int(n * (1 - test_fraction))


def time_split(df: pd.DataFrame, *, test_fraction: float, valid_fraction: float) -> TimeSplit:
    """Oldest rows train, the next ``valid_fraction`` validate, the newest ``test_fraction`` are held out."""
    df = df.sort_values(list(ORDER), kind="stable").reset_index(drop=True)
    valid_start, test_start = split_points(len(df), test_fraction, valid_fraction)
    return TimeSplit(df.iloc[:valid_start], df.iloc[valid_start:test_start], df.iloc[test_start:])


def with_time_split(
    df: DataFrame, *, test_fraction: float, valid_fraction: float, order: Sequence[str] = ORDER
) -> DataFrame:
    """Spark: add ``split`` (train / valid / test) by position in ``order``, at the cut points of :func:`time_split`.

    ``zipWithIndex`` numbers the globally sorted rows without moving them to one partition.
    """
    from pyspark.sql import functions as F
    from pyspark.sql.types import LongType, StructField, StructType

    valid_start, test_start = split_points(df.count(), test_fraction, valid_fraction)
    ordered = df.orderBy(*order)
    # the schema is passed, not inferred: a column whose first rows are all null (a day of reviews no sentiment
    # model supports) has no type to infer
    schema = StructType([*ordered.schema.fields, StructField("_idx", LongType(), False)])
    indexed = ordered.rdd.zipWithIndex().map(lambda pair: (*pair[0], pair[1])).toDF(schema)
    split = F.when(F.col("_idx") < valid_start, "train").when(F.col("_idx") < test_start, "valid").otherwise("test")
    return indexed.withColumn("split", split).drop("_idx")
