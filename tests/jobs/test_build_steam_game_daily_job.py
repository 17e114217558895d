"""The Steam game-by-day job against pandas on the same feature rows (the DAG: tests/dags/test_steam_game_daily.py)."""

from __future__ import annotations

import pytest
from purchase_data import write_feature_days

from shoplake.io.lake import partition_rows, read_counts, read_partition
from shoplake.paths import STEAM_GAME_DAILY, STEAM_PURCHASE_FEATURES, Zone, partition_path
from shoplake.pipelines.steam_games import check_steam_game_daily

pytestmark = [pytest.mark.spark, pytest.mark.integration]

DAY = "2019-03-01"


def _build(spark, lake: str, *extra: str) -> dict:
    import build_steam_game_daily as job

    return job.main(["--ds", DAY, "--lake-root", lake, *extra], spark=spark)


def test_each_game_row_is_the_pandas_aggregate_of_its_reviews_and_a_rerun_writes_the_same(spark, tmp_path):
    lake = str(tmp_path / "lake")
    write_feature_days(lake, [DAY], n=400)
    result = _build(spark, lake)
    table = read_partition(partition_path(lake, Zone.ENRICHED, STEAM_GAME_DAILY, DAY)).to_pandas()
    rows = read_partition(partition_path(lake, Zone.ENRICHED, STEAM_PURCHASE_FEATURES, DAY)).to_pandas()
    want = rows.groupby("appid").agg(
        reviews=("recommendationid", "size"),
        voted_up_rate=("voted_up", "mean"),
        steam_purchase_rate=("steam_purchase", "mean"),
        mean_positive_prob=("positive_prob", "mean"),
        english_share=("is_english", "mean"),
    )
    got = table.set_index("appid").loc[want.index]
    assert list(table["appid"]) == sorted(table["appid"])  # sorted: a rerun writes the same file
    assert (got["reviews"] == want["reviews"]).all()
    for column in ("voted_up_rate", "steam_purchase_rate", "mean_positive_prob", "english_share"):
        assert got[column].to_numpy() == pytest.approx(want[column].to_numpy(), abs=1e-12), column
    assert result["in"] == len(rows) == table["reviews"].sum()
    assert check_steam_game_daily(lake, DAY)["reviews"] == len(rows)
    again = _build(spark, lake)
    assert again["rows"] == result["rows"]
    assert read_partition(partition_path(lake, Zone.ENRICHED, STEAM_GAME_DAILY, DAY)).to_pandas().equals(table)


def test_games_under_min_reviews_are_counted_not_lost_and_a_stale_day_fails_its_check(spark, tmp_path):
    lake = str(tmp_path / "lake")
    write_feature_days(lake, [DAY], n=400)
    games = read_partition(partition_path(lake, Zone.ENRICHED, STEAM_PURCHASE_FEATURES, DAY)).to_pandas()
    sizes = games.groupby("appid").size()
    cut = int(sizes.median()) + 1
    result = _build(spark, lake, "--min-reviews", str(cut))
    assert result["rows"] == int((sizes >= cut).sum())
    assert result["games_under_min_reviews"] == int((sizes < cut).sum())
    counts = read_counts(partition_path(lake, Zone.ENRICHED, STEAM_GAME_DAILY, DAY))
    assert counts["in"] == partition_rows(partition_path(lake, Zone.ENRICHED, STEAM_PURCHASE_FEATURES, DAY))
    write_feature_days(lake, [DAY], n=500, seed=7)  # the features were rebuilt after the game table
    with pytest.raises(ValueError, match="read 400 feature rows, the feature day holds 500"):
        check_steam_game_daily(lake, DAY)
