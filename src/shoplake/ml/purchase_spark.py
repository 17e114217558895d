"""The purchase model on Spark: the same time-based split, game columns and XGBoost, trained by xgboost.spark.

Training rows stay distributed (``SparkXGBClassifier``, one XGBoost worker per Spark task); the validation and
held-out rows are collected to the driver for evaluation (``valid_fraction + test_fraction`` of the window).
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any

from shoplake.ml.purchase import APP_PREFIX, Split, feature_columns, split_points
from shoplake.ml.purchase_config import PurchaseTrainConfig

if TYPE_CHECKING:
    from pyspark.sql import DataFrame, SparkSession

log = logging.getLogger(__name__)

SPLITS = ("train", "valid", "test")


def read_window(spark: SparkSession, cfg: PurchaseTrainConfig) -> DataFrame:
    """Feature partitions of the window as one DataFrame."""
    from shoplake.ml.purchase_training import feature_partitions

    return spark.read.parquet(*feature_partitions(cfg.lake_root, cfg.ds, cfg.window_days))


def with_split(df: DataFrame, cfg: PurchaseTrainConfig) -> DataFrame:
    """Add ``split`` (train / valid / test) by position in (timestamp_created, recommendationid) order.

    The cut points are those of :func:`shoplake.ml.purchase.time_split`, so both backends split the same rows.
    ``zipWithIndex`` numbers the globally sorted rows without moving them to one partition.
    """
    from pyspark.sql import functions as F

    valid_start, test_start = split_points(df.count(), cfg.test_fraction, cfg.valid_fraction)
    ordered = df.orderBy("timestamp_created", "recommendationid")
    indexed = ordered.rdd.zipWithIndex().map(lambda pair: (*pair[0], pair[1])).toDF([*ordered.columns, "_idx"])
    split = F.when(F.col("_idx") < valid_start, "train").when(F.col("_idx") < test_start, "valid").otherwise("test")
    return indexed.withColumn("split", split).drop("_idx")


def frequent_apps_spark(df: DataFrame, min_reviews: int) -> list[int]:
    """Games with at least ``min_reviews`` training rows (as :func:`shoplake.ml.purchase.frequent_apps`)."""
    if min_reviews <= 0:
        return []
    rows = df.where("split = 'train'").groupBy("appid").count().where(f"count >= {min_reviews}").collect()
    return sorted(int(r["appid"]) for r in rows)


def with_model_columns(df: DataFrame, features: list[str]) -> DataFrame:
    """Float feature columns (nulls → NaN, XGBoost's missing); ``app_<id>`` from ``appid``."""
    from pyspark.sql import functions as F

    nan = F.lit(float("nan"))
    cols = []
    for name in features:
        if name.startswith(APP_PREFIX):
            value = (F.col("appid") == int(name.removeprefix(APP_PREFIX))).cast("double")
        else:
            value = F.coalesce(F.col(name).cast("double"), nan)
        cols.append(value.alias(name))
    return df.select(*[c for c in df.columns if c not in features], *cols)


#: booster settings named alike in shoplake's config and XGBoost's sklearn-style (and Spark) estimators
TREE_PARAMS = (
    "n_estimators",
    "max_depth",
    "learning_rate",
    "subsample",
    "colsample_bytree",
    "min_child_weight",
    "reg_lambda",
    "early_stopping_rounds",
)


def tree_params(cfg: PurchaseTrainConfig) -> dict[str, Any]:
    return {name: getattr(cfg, name) for name in TREE_PARAMS}


def fit_spark_booster(df: DataFrame, target: str, features: list[str], cfg: PurchaseTrainConfig, device: str) -> Any:
    """Fit ``SparkXGBClassifier`` on train rows (valid rows for early stopping); returns the XGBoost booster."""
    from pyspark.sql import functions as F
    from xgboost.spark import SparkXGBClassifier

    rows = df.where(F.col("split") != "test").withColumn("label", F.col(target).cast("int"))
    rows = rows.withColumn("is_valid", F.col("split") == "valid")
    pos, n = rows.where("split = 'train'").agg(F.sum("label"), F.count("*")).first()
    spw = cfg.scale_pos_weight if cfg.scale_pos_weight > 0 else (n - pos) / max(pos, 1)
    clf = SparkXGBClassifier(
        features_col=features,
        label_col="label",
        validation_indicator_col="is_valid",
        num_workers=1,  # one barrier task: deterministic on a seed; raise with the data (and cores/GPUs)
        device=device,
        tree_method="hist",
        scale_pos_weight=spw,
        eval_metric="auc",
        random_state=cfg.seed,
        **tree_params(cfg),
    )
    booster = clf.fit(rows).get_booster()
    booster.feature_names = features
    return booster


def train_on_spark(spark: SparkSession, cfg: PurchaseTrainConfig) -> dict[str, Any]:
    """Split, fit both targets with xgboost.spark, then evaluate, gate, publish and track like the local job."""
    from shoplake.ml.purchase import pick_xgb_device
    from shoplake.ml.purchase_training import finish_training

    df = with_split(read_window(spark, cfg), cfg).cache()
    rows = df.count()
    if rows < cfg.min_rows:
        raise ValueError(f"{rows} feature rows in the window (< --min-rows {cfg.min_rows}); widen the window")
    apps = frequent_apps_spark(df, cfg.app_min_reviews if cfg.app_min_reviews > 0 else 0)
    all_features = sorted(set(feature_columns(cfg.target, apps)) | set(feature_columns(cfg.other_target, apps)))
    df = with_model_columns(df, all_features).cache()
    device = pick_xgb_device(cfg.device)
    boosters = {
        t: fit_spark_booster(df, t, feature_columns(t, apps), cfg, device) for t in (cfg.target, cfg.other_target)
    }
    # the driver needs the evaluation rows (and only the creation times of the training rows, for the record)
    frames = {
        name: df.where(f"split = '{name}'").select(*(["timestamp_created"] if name == "train" else df.columns))
        for name in SPLITS
    }
    pdfs = {name: frame.toPandas() for name, frame in frames.items()}
    split = Split(pdfs["train"], pdfs["valid"], pdfs["test"])
    log.info("spark split: %s", {k: len(v) for k, v in pdfs.items()})
    return finish_training(cfg, split, boosters, device=device, backend_note="xgboost.spark, num_workers=1")
