"""Game-level features of the purchase model, computed from the training rows only: they carry to other days and,
unlike one column per game, to games a window has few rows of.

Per game (``appid``): ``game_target_rate`` — the game's rate of the model's target, shrunk toward the training
rate by :data:`PRIOR_ROWS` pseudo-rows (the per-game baseline's own number); ``game_log_reviews`` — log(1 + its
training rows); ``game_mean_positive_prob`` — the mean sentiment of its reviews; ``game_median_playtime_h`` — its
reviewers' median playtime. A game the training rows never held gets the training rate, zero reviews and missing
means (XGBoost's missing).

**No leakage.** A training row's own label must not be in its game's rate, or the model learns to trust a rate that
held-out rows cannot have: training rows get the rate of their game *out of fold* — the rows are cut into
:data:`FOLDS` folds by a stable hash of ``recommendationid`` and each fold's rows get the rate of the other folds'.
Validation and held-out rows get the rate of every training row. The other features hold no label and use every
training row.

The table (one row per game: bounded by the catalogue, not by the reviews) is saved with the model version and read
back by the prediction service and by the next run's champion re-scoring. The Spark backend computes the same
numbers in Spark (:func:`with_game_features_spark`).
"""

from __future__ import annotations

import json
import zlib
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import pandas as pd

#: pseudo-rows of the training rate in each game's rate (as the per-game baseline: shoplake.ml.baselines)
PRIOR_ROWS = 10.0
#: folds of the out-of-fold rate of training rows
FOLDS = 5
GAME_FEATURES = ("game_target_rate", "game_log_reviews", "game_mean_positive_prob", "game_median_playtime_h")
#: the file of a model version that holds its game table
GAMES_FILE = "games.json"


def fold_of(ids: Any) -> Any:
    """Each id's fold, 0…FOLDS-1: crc32 of its text (stable across processes and backends, unlike ``hash``)."""
    import numpy as np

    return np.array([zlib.crc32(str(i).encode()) % FOLDS for i in ids], dtype=np.int64)


@dataclass(frozen=True)
class GameStats:
    """Per-game sums of the training rows and the training rate; :meth:`apply` adds :data:`GAME_FEATURES`."""

    rows: dict[int, dict[str, float]]  # appid → {"n", "positives", "mean_positive_prob", "median_playtime_h"}
    prior: float

    @classmethod
    def fit(cls, train: pd.DataFrame, target: str) -> GameStats:
        y = train[target].astype(float)
        prior = float(y.mean()) if len(y) else 0.5
        grouped = train.assign(_y=y).groupby("appid").agg(
            n=("_y", "size"), positives=("_y", "sum"), mean_positive_prob=("positive_prob", "mean"),
            median_playtime_h=("author_playtime_forever_h", "median"),
        )  # fmt: skip
        rows = {int(a): {k: float(v) for k, v in r.items()} for a, r in grouped.to_dict("index").items()}
        return cls(rows, prior)

    def apply(self, df: pd.DataFrame, *, out_of_fold_target: str | None = None) -> pd.DataFrame:
        """``df`` with :data:`GAME_FEATURES`; with ``out_of_fold_target``, ``df`` is the training rows themselves and
        each row's rate leaves out its own fold's labels (``df[out_of_fold_target]``)."""
        import numpy as np

        apps = df["appid"].to_numpy()
        stats = [self.rows.get(int(a)) if a == a else None for a in apps]  # a NaN appid is no game
        n = np.array([s["n"] if s else 0.0 for s in stats])
        positives = np.array([s["positives"] if s else 0.0 for s in stats])
        if out_of_fold_target is not None:
            folds = fold_of(df["recommendationid"])
            y = df[out_of_fold_target].astype(float).to_numpy()
            keys = list(zip(apps, folds, strict=True))
            fold_n: dict[Any, float] = {}
            fold_pos: dict[Any, float] = {}
            for key, label in zip(keys, y, strict=True):
                fold_n[key] = fold_n.get(key, 0.0) + 1
                fold_pos[key] = fold_pos.get(key, 0.0) + label
            n = n - np.array([fold_n[k] for k in keys])
            positives = positives - np.array([fold_pos[k] for k in keys])
        out = df.copy()
        out["game_target_rate"] = (positives + PRIOR_ROWS * self.prior) / (n + PRIOR_ROWS)
        out["game_log_reviews"] = np.log1p(np.array([s["n"] if s else 0.0 for s in stats]))
        out["game_mean_positive_prob"] = [s["mean_positive_prob"] if s else np.nan for s in stats]
        out["game_median_playtime_h"] = [s["median_playtime_h"] if s else np.nan for s in stats]
        return out

    def to_json(self) -> str:
        """Standard JSON (a missing mean is null) that :meth:`from_json` reads back."""
        games = {str(a): {k: (None if v != v else v) for k, v in r.items()} for a, r in self.rows.items()}
        return json.dumps({"prior": self.prior, "prior_rows": PRIOR_ROWS, "games": games}, sort_keys=True)

    @classmethod
    def from_json(cls, text: str) -> GameStats:
        data = json.loads(text)
        rows = {int(a): {k: (float("nan") if v is None else float(v)) for k, v in r.items()}
                for a, r in data["games"].items()}  # fmt: skip
        return cls(rows, float(data["prior"]))

    def _game(self, appid: Any) -> dict[str, float] | None:
        """The training sums of one game (None: no game, or one the training rows never held)."""
        return self.rows.get(int(appid)) if isinstance(appid, int | float) and appid == appid else None

    def rate(self, appid: Any, prior_rows: float) -> float:
        """The game's smoothed target rate with ``prior_rows`` pseudo-rows (the per-game baseline served as a
        champion: ``shoplake.ml.baselines.PRIOR_ROWS``); an unknown game gets the training rate."""
        s = self._game(appid)
        n, positives = (s["n"], s["positives"]) if s else (0.0, 0.0)
        return (positives + prior_rows * self.prior) / (n + prior_rows)

    def knows(self, appid: Any) -> bool:
        """Whether the training rows held this game (an unseen one gets the training rate)."""
        return self._game(appid) is not None

    def features_of(self, appid: Any) -> dict[str, float]:
        """:data:`GAME_FEATURES` of one game (the service's path, no pandas)."""
        import math

        s = self._game(appid)
        return {
            "game_target_rate": self.rate(appid, PRIOR_ROWS),
            "game_log_reviews": math.log1p(s["n"] if s else 0.0),
            "game_mean_positive_prob": s["mean_positive_prob"] if s else math.nan,
            "game_median_playtime_h": s["median_playtime_h"] if s else math.nan,
        }


def with_game_features_spark(df: Any, target: str) -> tuple[Any, GameStats]:
    """Spark: ``df`` (rows with ``split``) with :data:`GAME_FEATURES` computed as :meth:`GameStats.apply` does —
    training rows out of fold — and the game table (collected: one row per game, bounded by the catalogue)."""
    from pyspark.sql import functions as F

    train = df.where("split = 'train'")
    fold = (F.crc32(F.col("recommendationid").cast("string")) % FOLDS).cast("long")
    y = F.col(target).cast("double")
    prior = train.agg(F.avg(y)).first()[0]
    prior = float(prior) if prior is not None else 0.5
    games = train.groupBy("appid").agg(
        F.count(F.lit(1)).cast("double").alias("n"), F.sum(y).alias("positives"),
        F.avg("positive_prob").alias("mean_positive_prob"),
        F.percentile("author_playtime_forever_h", 0.5).alias("median_playtime_h"),
    )  # fmt: skip
    folds = (
        train.withColumn("fold", fold)
        .groupBy("appid", "fold")
        .agg(F.count(F.lit(1)).cast("double").alias("fold_n"), F.sum(y).alias("fold_positives"))
    )
    is_train = F.col("split") == "train"
    n = F.coalesce(F.col("n"), F.lit(0.0)) - F.when(is_train, F.col("fold_n")).otherwise(F.lit(0.0))
    pos = F.coalesce(F.col("positives"), F.lit(0.0)) - F.when(is_train, F.col("fold_positives")).otherwise(F.lit(0.0))
    out = (
        df.withColumn("fold", fold)
        .join(F.broadcast(games), "appid", "left")
        .join(F.broadcast(folds), ["appid", "fold"], "left")
        .withColumn("game_target_rate", (pos + F.lit(PRIOR_ROWS * prior)) / (n + F.lit(PRIOR_ROWS)))
        .withColumn("game_log_reviews", F.log1p(F.coalesce(F.col("n"), F.lit(0.0))))
        .withColumn("game_mean_positive_prob", F.col("mean_positive_prob"))
        .withColumn("game_median_playtime_h", F.col("median_playtime_h"))
        .drop("fold", "n", "positives", "fold_n", "fold_positives", "mean_positive_prob", "median_playtime_h")
    )
    table = {int(r["appid"]): {k: float(r[k]) if r[k] is not None else float("nan") for k in
                                ("n", "positives", "mean_positive_prob", "median_playtime_h")}
             for r in games.where("appid IS NOT NULL").collect()}  # fmt: skip
    return out, GameStats(table, prior)
