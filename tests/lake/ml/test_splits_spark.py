"""The Spark time split (xgboost.spark backend) on real-shaped rows."""

from __future__ import annotations

import pytest

from shoplake.ml.splits import split_points, with_time_split

pytestmark = [pytest.mark.spark]


def test_a_column_with_no_value_in_the_window_keeps_its_type_and_the_cut_points(spark):
    """Found at 100x: reviews no sentiment model supports leave positive_prob null for a whole window, and an
    inferred schema had no type for it (CANNOT_DETERMINE_TYPE)."""
    rows = [(1_550_000_000 + i, str(1000 + i), None) for i in range(150)]
    df = spark.createDataFrame(rows, "timestamp_created long, recommendationid string, positive_prob double")
    got = with_time_split(df, test_fraction=0.2, valid_fraction=0.1)
    assert dict(got.dtypes)["positive_prob"] == "double"
    by_split = {r["split"]: r["count"] for r in got.groupBy("split").count().collect()}
    valid_start, test_start = split_points(150, 0.2, 0.1)
    assert by_split == {"train": valid_start, "valid": test_start - valid_start, "test": 150 - test_start}
    newest = got.orderBy("timestamp_created").collect()[-1]
    assert newest["split"] == "test"


def test_frequent_games_on_spark_skip_rows_without_a_game_like_the_local_backend(spark):
    import pandas as pd

    from shoplake.transforms.purchase_features import frequent_apps, frequent_apps_spark

    rows = [("train", 730)] * 6 + [("train", None)] * 9 + [("train", 440)] * 2 + [("test", 440)] * 9
    df = spark.createDataFrame(rows, "split string, appid long")
    train = pd.DataFrame([r for r in rows if r[0] == "train"], columns=["split", "appid"])
    assert frequent_apps_spark(df, 5) == frequent_apps(train, 5) == [730]
