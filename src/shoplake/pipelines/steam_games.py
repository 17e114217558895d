"""Steam games by day: one row per game of a day's reviews, for analysts and dashboards.

1. :func:`build_steam_game_daily` (Spark) — the day's ``enriched/steam_purchase_features`` rows grouped by game →
   ``enriched/steam_game_daily/ds=``: reviews, the share recommending the game (``voted_up``) and bought on Steam
   (``steam_purchase``), mean sentiment (reviews with a score), median author playtime, English share.
2. :func:`check_steam_game_daily` (no Spark) — the day holds every feature row once (the games' review counts sum to
   the feature partition's rows) and every rate lies in [0, 1].

The table is small — one row per game reviewed that day — but it is built by Spark all the same: its input, a
day of reviews, grows with the store.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from shoplake.jobconfig import PartitionJob, option
from shoplake.paths import STEAM_GAME_DAILY, STEAM_PURCHASE_FEATURES, Zone, partition_path

if TYPE_CHECKING:
    from pyspark.sql import SparkSession

log = logging.getLogger(__name__)

#: the rate columns (each a share of the game's reviews that day, or of those with a score)
RATES = ("voted_up_rate", "steam_purchase_rate", "mean_positive_prob", "english_share")


@dataclass(frozen=True, kw_only=True)
class GameDailyConfig(PartitionJob):
    """Arguments of the game-by-day job."""

    ds: str = option(help="the day of reviews to summarise, YYYY-MM-DD (their creation day, UTC)")
    min_reviews: int = option(
        1, help="games with fewer reviews that day are left out of the table (counted in the commit)", minimum=1
    )


def build_steam_game_daily(spark: SparkSession, cfg: GameDailyConfig) -> dict[str, Any]:
    """The day's feature rows by game → ``enriched/steam_game_daily/ds=`` (sorted by ``appid``: a rerun writes the
    same file); the commit records the rows read, the games written and those under ``min_reviews``."""
    from pyspark.sql import functions as F

    from shoplake.io.spark_lake import read_parquet, stage_partition

    features = read_parquet(spark, partition_path(cfg.lake_root, Zone.ENRICHED, STEAM_PURCHASE_FEATURES, cfg.ds))
    games = features.groupBy(F.col("appid").cast("long").alias("appid")).agg(
        F.count(F.lit(1)).alias("reviews"),
        F.avg(F.col("voted_up").cast("double")).alias("voted_up_rate"),
        F.avg(F.col("steam_purchase").cast("double")).alias("steam_purchase_rate"),
        F.count("positive_prob").alias("scored_reviews"),
        F.avg("positive_prob").alias("mean_positive_prob"),
        F.percentile_approx("author_playtime_forever_h", 0.5).alias("median_playtime_h"),
        F.avg(F.col("is_english").cast("double")).alias("english_share"),
    )
    kept = games.where(F.col("reviews") >= cfg.min_reviews)
    out = partition_path(cfg.lake_root, Zone.ENRICHED, STEAM_GAME_DAILY, cfg.ds)
    staged = stage_partition(kept.repartition(1).sortWithinPartitions("appid"), out)
    totals = games.agg(F.sum("reviews").alias("rows"), F.count(F.lit(1)).alias("games")).first()
    counts = {"in": int(totals["rows"] or 0), "games": int(totals["games"]), "rows": staged.rows,
              "games_under_min_reviews": int(totals["games"]) - staged.rows}  # fmt: skip
    staged.commit(counts)
    log.info("steam games ds=%s: %s", cfg.ds, counts)
    return {"ds": cfg.ds, "path": out, **counts}


def check_steam_game_daily(lake_root: str, ds: str) -> dict[str, Any]:
    """The day's game table against its input; raises ``ValueError`` naming every failed check.

    Reads the committed counts of both days and the game table itself (one row per game: bounded by the catalogue,
    not by the reviews).
    """
    import pyarrow.compute as pc

    from shoplake.io.lake import partition_rows, read_counts, read_partition

    path = partition_path(lake_root, Zone.ENRICHED, STEAM_GAME_DAILY, ds)
    counts = read_counts(path)
    features = partition_rows(partition_path(lake_root, Zone.ENRICHED, STEAM_PURCHASE_FEATURES, ds))
    table = read_partition(path)
    problems = []
    if counts.get("in") != features:
        problems.append(f"read {counts.get('in')} feature rows, the feature day holds {features} (rerun the job)")
    if table.num_rows != counts.get("rows"):
        problems.append(f"{table.num_rows} game rows, the commit says {counts.get('rows')}")
    for name in RATES:
        low, high = pc.min(table[name]).as_py(), pc.max(table[name]).as_py()
        if low is not None and (low < 0 or high > 1):
            problems.append(f"{name} outside [0, 1] ({low}..{high})")
    if pc.any(pc.less(table["reviews"], table["scored_reviews"])).as_py():
        problems.append("a game has more scored reviews than reviews")
    if problems:
        raise ValueError(f"{STEAM_GAME_DAILY} ds={ds} failed {len(problems)} check(s): " + "; ".join(problems))
    return {"ds": ds, "path": path, "rows": table.num_rows, "reviews": counts["in"]}
