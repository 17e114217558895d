"""Steam purchase prediction: features from curated + enriched reviews, time-based split, XGBoost, evaluation.

**Target.** ``steam_purchase`` — whether the reviewer bought the game on Steam (``False``: a key activated from
another store, a bundle or a gift). It is the one purchase signal Steam publishes per review, known when the review
is written, and about balanced in the sample (≈53 % positive), so the model answers "does this review come from
a Steam buyer?" — the question a store asks when it weighs reviews or targets buyers. ``received_for_free`` is
*not* a feature: it describes the same acquisition channel as the target (free keys are never Steam purchases),
so it would leak the label. ``voted_up`` is reported as a second target with the same features (minus itself).

**Features** (all numeric; booleans as 0/1, missing values left missing for XGBoost):
review patterns (length, words, ``!``/``?``, upper-case ratio, URL, markup, edited, developer response, hour,
weekday, English), sentiment (``positive_prob``, ``sentiment_score`` of the enriched zone), votes (helpful, funny,
weighted score, comments), playtime (total, last two weeks, days played after the review), author stats (games
owned, reviews, reviews per game), early access and, for the purchase target, ``voted_up``.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np

from shoplake.ml.purchase_config import TARGETS, PurchaseTrainConfig

if TYPE_CHECKING:
    import pandas as pd
    import pyarrow as pa

log = logging.getLogger(__name__)

DATASET = "steam_purchase_features"
ID_COLUMNS = ("recommendationid", "appid", "timestamp_created")

#: curated columns used as features as they are (booleans become 0/1)
CURATED_FEATURES = (
    "review_chars",
    "review_words",
    "exclamation_count",
    "question_count",
    "uppercase_ratio",
    "has_url",
    "has_markup",
    "is_edited",
    "has_developer_response",
    "review_hour_utc",
    "review_dow",
    "votes_up",
    "votes_funny",
    "weighted_vote_score",
    "comment_count",
    "author_playtime_forever_h",
    "author_playtime_last_two_weeks_h",
    "days_played_after_review",
    "author_num_games_owned",
    "author_num_reviews",
    "author_reviews_per_game",
    "written_during_early_access",
)
SENTIMENT_FEATURES = ("positive_prob", "sentiment_score")
DERIVED_FEATURES = ("is_english",)
ALL_FEATURES = (*CURATED_FEATURES, *SENTIMENT_FEATURES, *DERIVED_FEATURES, "voted_up")
#: one-hot game columns are named ``app_<appid>``; a game without its column (unseen in training) has all zeros
APP_PREFIX = "app_"


def feature_columns(target: str, apps: Sequence[int] = ()) -> list[str]:
    """Features of a model for ``target`` (a target is never its own feature), then one column per game."""
    if target not in TARGETS:
        raise ValueError(f"target must be one of {TARGETS}, got {target!r}")
    return [c for c in ALL_FEATURES if c != target] + [f"{APP_PREFIX}{a}" for a in apps]


def frequent_apps(train: pd.DataFrame, min_reviews: int) -> list[int]:
    """Games with at least ``min_reviews`` training rows: they get a one-hot column.

    The game carries much of the purchase signal — free-to-play titles (Dota 2, Warframe) have no Steam purchases,
    others are mostly sold as keys elsewhere — so the model learns it from the games it has seen enough of.
    """
    counts = train["appid"].value_counts()
    return sorted(int(a) for a in counts[counts >= min_reviews].index)


def model_frame(df: pd.DataFrame, features: Sequence[str]) -> pd.DataFrame:
    """Exactly ``features`` of ``df`` as float columns; ``app_<id>`` columns are derived from ``appid``."""
    import pandas as pd

    cols = {}
    for name in features:
        if name.startswith(APP_PREFIX):
            cols[name] = (df["appid"] == int(name.removeprefix(APP_PREFIX))).astype("float64")
        else:
            cols[name] = df[name].astype("float64")
    return pd.DataFrame(cols, index=df.index)


def build_features(curated: pa.Table, enriched: pa.Table) -> tuple[pa.Table, pa.Table]:
    """One day's feature rows: curated reviews joined with their sentiment scores.

    Args:
        curated: a ``curated/steam_reviews`` partition.
        enriched: the ``enriched/steam_reviews`` partition of the same day.

    Returns:
        ``(features, quarantine)``: features hold ``ID_COLUMNS``, both targets and every feature (float64);
        quarantine holds ``record_id``, ``reason``, ``document`` for curated rows without a sentiment score or
        without a target, so ``curated rows == features + quarantined``.
    """
    import pyarrow as pa
    import pyarrow.compute as pc

    from shoplake.quarantine import quarantine_table

    keep = [*ID_COLUMNS, *TARGETS, *CURATED_FEATURES, "language_code"]
    joined = curated.select(keep).join(
        enriched.select(["recommendationid", *SENTIMENT_FEATURES]), keys="recommendationid", join_type="left outer"
    )
    no_score = pc.is_null(joined["positive_prob"])
    no_target = pc.or_(pc.is_null(joined["steam_purchase"]), pc.is_null(joined["voted_up"]))
    reason = pc.if_else(
        no_score,
        "no sentiment score in enriched/steam_reviews",
        pc.if_else(no_target, "steam_purchase or voted_up missing", ""),
    )
    bad = pc.not_equal(reason, "")
    bad_rows = joined.filter(bad)
    quarantine = quarantine_table(
        bad_rows["recommendationid"].to_pylist(),
        pc.filter(reason, bad).to_pylist(),
        [json.dumps(r, default=str) for r in bad_rows.to_pylist()],
    )
    good = joined.filter(pc.invert(bad))
    cols: dict[str, Any] = {c: good[c] for c in ID_COLUMNS}
    cols.update({t: good[t] for t in TARGETS})
    for c in (*CURATED_FEATURES, *SENTIMENT_FEATURES):
        cols[c] = pc.cast(good[c], pa.float64())
    cols["is_english"] = pc.cast(pc.equal(good["language_code"], "en"), pa.float64())
    features = pa.table(cols).sort_by([("timestamp_created", "ascending"), ("recommendationid", "ascending")])
    return features, quarantine


@dataclass(frozen=True)
class Split:
    """A time-based split: ``train`` < ``valid`` (early stopping, threshold) < ``test`` (held out) by creation time."""

    train: pd.DataFrame
    valid: pd.DataFrame
    test: pd.DataFrame

    def describe(self) -> dict[str, Any]:
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


def time_split(df: pd.DataFrame, *, test_fraction: float, valid_fraction: float) -> Split:
    """Oldest rows train, the next ``valid_fraction`` validate, the newest ``test_fraction`` are held out."""
    df = df.sort_values(["timestamp_created", "recommendationid"], kind="stable").reset_index(drop=True)
    valid_start, test_start = split_points(len(df), test_fraction, valid_fraction)
    return Split(df.iloc[:valid_start], df.iloc[valid_start:test_start], df.iloc[test_start:])


@dataclass(frozen=True)
class XgbParams:
    """Hyperparameters of the booster (``hist`` trees; ``scale_pos_weight <= 0`` means negatives/positives)."""

    # defaults are the training job's (one place: PurchaseTrainConfig)
    n_estimators: int = PurchaseTrainConfig.n_estimators
    max_depth: int = PurchaseTrainConfig.max_depth
    learning_rate: float = PurchaseTrainConfig.learning_rate
    subsample: float = PurchaseTrainConfig.subsample
    colsample_bytree: float = PurchaseTrainConfig.colsample_bytree
    min_child_weight: float = PurchaseTrainConfig.min_child_weight
    reg_lambda: float = PurchaseTrainConfig.reg_lambda
    scale_pos_weight: float = PurchaseTrainConfig.scale_pos_weight
    early_stopping_rounds: int = PurchaseTrainConfig.early_stopping_rounds
    seed: int = PurchaseTrainConfig.seed
    extra: dict[str, Any] = field(default_factory=dict)

    def booster_params(self, y_train: np.ndarray, device: str) -> dict[str, Any]:
        pos = float(np.sum(y_train == 1))
        spw = self.scale_pos_weight if self.scale_pos_weight > 0 else (len(y_train) - pos) / max(pos, 1.0)
        return {
            "objective": "binary:logistic",
            "eval_metric": ["logloss", "auc", "aucpr"],
            "tree_method": "hist",
            "device": device,
            "max_depth": self.max_depth,
            "eta": self.learning_rate,
            "subsample": self.subsample,
            "colsample_bytree": self.colsample_bytree,
            "min_child_weight": self.min_child_weight,
            "lambda": self.reg_lambda,
            "scale_pos_weight": spw,
            "seed": self.seed,
            **self.extra,
        }


def pick_xgb_device(requested: str = "auto") -> str:
    """``cuda`` when asked for, or on ``auto`` when this XGBoost build has CUDA and a GPU is visible."""
    import xgboost as xgb

    if requested != "auto":
        return requested
    if not xgb.build_info().get("USE_CUDA"):
        return "cpu"
    try:
        import torch

        return "cuda" if torch.cuda.is_available() else "cpu"
    except ImportError:  # training workers without torch: ask the driver
        import shutil
        import subprocess

        smi = shutil.which("nvidia-smi")
        ok = smi and subprocess.run([smi, "-L"], capture_output=True, check=False).returncode == 0
        return "cuda" if ok else "cpu"


def fit_booster(split: Split, target: str, params: XgbParams, device: str, apps: Sequence[int] = ()) -> Any:
    """Train on ``split.train`` with early stopping on ``split.valid`` (AUC); returns the booster."""
    import xgboost as xgb

    features = feature_columns(target, apps)
    dtrain = xgb.DMatrix(model_frame(split.train, features), label=split.train[target].astype(int))
    dvalid = xgb.DMatrix(model_frame(split.valid, features), label=split.valid[target].astype(int))
    booster = xgb.train(
        params.booster_params(split.train[target].to_numpy().astype(int), device),
        dtrain,
        num_boost_round=params.n_estimators,
        evals=[(dtrain, "train"), (dvalid, "valid")],
        early_stopping_rounds=params.early_stopping_rounds if len(split.valid) else None,
        verbose_eval=False,
    )
    log.info("booster for %s: %s rounds (best %s)", target, booster.num_boosted_rounds(), booster.best_iteration)
    return booster


def predict(booster: Any, df: pd.DataFrame, features: Sequence[str] | None = None) -> np.ndarray:
    """Positive-class probabilities of ``df`` (the booster's own feature names unless given)."""
    import xgboost as xgb

    dm = xgb.DMatrix(model_frame(df, list(features or booster.feature_names)))
    best = getattr(booster, "best_iteration", None)
    rng = (0, best + 1) if best is not None else (0, 0)
    return booster.predict(dm, iteration_range=rng)


def best_f1_threshold(y: np.ndarray, p: np.ndarray) -> float:
    """Threshold maximising F1 on ``(y, p)`` (chosen on validation rows, applied to the held-out ones)."""
    from sklearn.metrics import precision_recall_curve

    if len(np.unique(y)) < 2:
        return 0.5
    precision, recall, thresholds = precision_recall_curve(y, p)
    f1 = 2 * precision * recall / np.maximum(precision + recall, 1e-12)
    return float(thresholds[int(np.argmax(f1[:-1]))])


def binary_metrics(y: np.ndarray, p: np.ndarray, threshold: float = 0.5) -> dict[str, float]:
    """AUC, PR-AUC (average precision), F1 / precision / recall / accuracy at ``threshold``, base rate."""
    from sklearn.metrics import (
        accuracy_score,
        average_precision_score,
        f1_score,
        precision_score,
        recall_score,
        roc_auc_score,
    )

    y = np.asarray(y).astype(int)
    pred = (np.asarray(p) >= threshold).astype(int)
    return {
        "auc": float(roc_auc_score(y, p)),
        "pr_auc": float(average_precision_score(y, p)),
        "f1": float(f1_score(y, pred, zero_division=0)),
        "precision": float(precision_score(y, pred, zero_division=0)),
        "recall": float(recall_score(y, pred, zero_division=0)),
        "accuracy": float(accuracy_score(y, pred)),
        "threshold": float(threshold),
        "base_rate": float(y.mean()),
        "n": len(y),
    }


def evaluate_booster(booster: Any, split: Split, target: str) -> tuple[dict[str, Any], np.ndarray]:
    """Held-out metrics at 0.5 and at the validation-chosen F1 threshold; returns them and the test scores."""
    p_test = predict(booster, split.test)
    y_test = split.test[target].to_numpy().astype(int)
    if len(np.unique(y_test)) < 2:
        raise ValueError(f"held-out rows hold a single {target} class ({len(y_test)} rows); widen the window")
    threshold = best_f1_threshold(split.valid[target].to_numpy().astype(int), predict(booster, split.valid))
    metrics = binary_metrics(y_test, p_test)
    metrics["at_valid_threshold"] = binary_metrics(y_test, p_test, threshold)
    return metrics, p_test


def feature_importance(booster: Any) -> pd.DataFrame:
    """Gain, weight (splits) and cover per feature, sorted by gain (unused features get zeros)."""
    import pandas as pd

    names = booster.feature_names
    imp = {kind: booster.get_score(importance_type=kind) for kind in ("total_gain", "gain", "weight", "cover")}
    df = pd.DataFrame({"feature": names, **{k: [v.get(n, 0.0) for n in names] for k, v in imp.items()}})
    return df.sort_values("total_gain", ascending=False, ignore_index=True)
