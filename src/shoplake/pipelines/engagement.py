"""Engagement levels on the curated clickstream: a multiclass Spark MLlib model, held out by time.

:func:`train_engagement_model` (Spark) reads the ``window_days`` curated ``clickstream_events`` partitions ending at
``ds`` (the same window as the recommenders), builds one row per user × product × session with its level and
structured features (``shoplake.transforms.engagement``: levels, precedence and features are defined there), holds
out the sessions that started last (the newest ``test_fraction`` of the rows), fits the classifier on the older ones
with balanced class weights, and reports macro-F1, per-class F1 and a confusion matrix beside the majority baseline:

* ``enriched/clickstream_engagement/ds=`` — every row with its features and level;
* ``enriched/clickstream_engagement_predictions/ds=`` — the held-out rows with the predicted level;
* ``model/clickstream_engagement/version=<ds>/`` — the ``PipelineModel``, ``metrics.json``, ``confusion.png``,
  config; ``current.json`` moves only if the macro-F1 is not below the champion's re-scored on the same rows.

Where the day's ``curated/product_review_map`` gives a product's brand review figures (count, mean rating, share of
4–5 stars), they join as features; ``metrics.json`` says whether they were used and, if not, why.
"""

from __future__ import annotations

import json
import logging
from dataclasses import asdict, dataclass
from typing import TYPE_CHECKING, Any

from shoplake.jobconfig import option
from shoplake.paths import (
    ENGAGEMENT,
    ENGAGEMENT_MODEL,
    ENGAGEMENT_PREDICTIONS,
    Zone,
    partition_path,
    staging_path,
)
from shoplake.pipelines.recommendations import ClickstreamWindow

if TYPE_CHECKING:
    from pyspark.sql import DataFrame, SparkSession

log = logging.getLogger(__name__)

MODELS = ("random_forest", "logistic_regression")


@dataclass(frozen=True, kw_only=True)
class EngagementJobConfig(ClickstreamWindow):
    """Arguments of the engagement job: the window, the time hold-out and the classifier."""

    test_fraction: float = option(
        0.2, help="engagement: share (0.05-0.5) of the rows, those of the newest sessions, held out", minimum=0.05,
        maximum=0.5,
    )  # fmt: skip
    engagement_model: str = option("random_forest", help="engagement: Spark MLlib classifier", enum=list(MODELS))
    min_train_rows: int = option(
        200, help="engagement: fewest training rows (user × product × session) needed to train; fewer fails", minimum=10
    )
    seed: int = option(42, help="seed of the tree models")


def split_time(rows: DataFrame, test_fraction: float):
    """The session start from which rows are held out: the ``1 - test_fraction`` quantile of the rows' session
    starts, so the newest ``test_fraction`` of rows (whole sessions) is held out however unevenly traffic spreads
    over the window."""
    import datetime as dt

    from pyspark.sql import functions as F

    secs = rows.select(F.col("session_start").cast("double").alias("t"))
    quantile = secs.approxQuantile("t", [1 - test_fraction], 0.001)
    if not quantile:
        raise ValueError("no clickstream sessions in the window")
    return dt.datetime.fromtimestamp(quantile[0], tz=dt.UTC)


#: the brand's review figures, from ``curated/product_review_map`` (null where the product maps to no reviews)
REVIEW_FEATURES = ["brand_reviews", "brand_avg_rating", "brand_positive_share", "brand_sentiment"]


def with_review_features(spark: SparkSession, feats: DataFrame, cfg: EngagementJobConfig) -> tuple[DataFrame, str]:
    """Join the brand review figures of the day's product map; ``(frame, "")`` when any row has them, else the frame
    without them and why (a model cannot learn from a column that is null everywhere)."""
    from pyspark.sql import functions as F

    from shoplake.io.lake import existing_partitions
    from shoplake.io.spark_lake import read_parquet
    from shoplake.paths import PRODUCT_REVIEW_MAP

    path = partition_path(cfg.lake_root, Zone.CURATED, PRODUCT_REVIEW_MAP, cfg.ds)
    if not existing_partitions([path])[0]:
        return feats, f"not used: no {PRODUCT_REVIEW_MAP} partition for {cfg.ds}"
    mapped = read_parquet(spark, path).where("brand_reviews > 0").select("product_id", *REVIEW_FEATURES)
    joined = feats.join(mapped, "product_id", "left").withColumn(
        "brand_reviews", F.coalesce(F.col("brand_reviews"), F.lit(0)).cast("double")
    )
    if joined.where(F.col("brand_avg_rating").isNotNull()).limit(1).count() == 0:
        return feats, "not used: no product of the window maps to a brand with reviews up to ds"
    return joined, ""


def _pairs(predictions: DataFrame) -> list[tuple[float, float, int]]:
    return [
        (r["label"], r["prediction"], r["count"]) for r in predictions.groupBy("label", "prediction").count().collect()
    ]


@dataclass
class HeldOut:
    """The stored rows split by time: the training and held-out frames, their sizes, the training levels' counts."""

    train: DataFrame
    test: DataFrame
    n_train: int
    n_test: int
    classes: dict[int, int]
    total: int
    cut: Any


def stored_split(spark: SparkSession, cfg: EngagementJobConfig) -> tuple[HeldOut, list[str], str, int]:
    """The window's engagement rows with their features written to ``enriched/clickstream_engagement`` (with the
    ``held_out`` flag) and read back split: ``(split, numeric features, review-feature note, window partitions)``.

    Raises:
        ValueError: too few training rows or levels, or nothing held out.
    """
    from pyspark.sql import functions as F

    from shoplake.io.spark_lake import read_parquet, write_partition
    from shoplake.ml.churn import LABEL
    from shoplake.pipelines.recommendations import read_window
    from shoplake.transforms.engagement import NUMERIC, engagement_rows, with_features

    events, paths = read_window(spark, cfg.lake_root, cfg.ds, cfg.window_days, columns=[])
    rows = engagement_rows(events)
    cut = split_time(rows, cfg.test_fraction)
    feats, review_note = with_review_features(spark, with_features(rows, events, cut), cfg)
    numeric = NUMERIC + (REVIEW_FEATURES if not review_note else [])
    out = partition_path(cfg.lake_root, Zone.ENRICHED, ENGAGEMENT, cfg.ds)
    total = write_partition(feats.withColumn("held_out", F.col("session_start") >= F.lit(cut)), out, sort_by=None)
    stored = read_parquet(spark, out)
    train_df, test_df = stored.where("NOT held_out"), stored.where("held_out")
    n_train, n_test = train_df.count(), test_df.count()
    classes = {int(r[LABEL]): r["count"] for r in train_df.groupBy(LABEL).count().collect()}
    if n_train < cfg.min_train_rows or len(classes) < 2 or n_test == 0:
        raise ValueError(
            f"engagement ds={cfg.ds}: {n_train} training rows in {len(classes)} level(s), {n_test} held out; "
            f"training needs >= {cfg.min_train_rows} rows of >= 2 levels and a held-out slice (widen window_days)"
        )
    return HeldOut(train_df, test_df, n_train, n_test, classes, total, cut), numeric, review_note, len(paths)


def train_engagement_model(spark: SparkSession, cfg: EngagementJobConfig) -> dict[str, Any]:
    """Rows, features, time hold-out, classifier, report, partitions, version, gate, MLflow."""
    from pyspark.sql import functions as F

    from shoplake.io.spark_lake import write_partition
    from shoplake.ml.churn import LABEL, pipeline, with_class_weights
    from shoplake.ml.metrics import confusion_matrix, multiclass_report
    from shoplake.transforms.engagement import CATEGORICAL, LEVEL_NAMES

    split, numeric, review_note, partitions = stored_split(spark, cfg)
    # a feature null in every training row (e.g. recency when no user has an earlier session) cannot be imputed
    present = split.train.agg(*[F.count(c).alias(c) for c in numeric]).first().asDict()
    empty = [c for c in numeric if present[c] == 0]
    numeric = [c for c in numeric if c not in empty]
    pipe, _ = pipeline(cfg.engagement_model, numeric, CATEGORICAL, cfg.seed)
    model = pipe.fit(with_class_weights(split.train, balance=True))
    predictions = model.transform(split.test)
    report = multiclass_report(confusion_matrix(_pairs(predictions), len(LEVEL_NAMES)), LEVEL_NAMES)
    majority = max(split.classes, key=lambda c: (split.classes[c], -c))
    base_pairs = [(r[LABEL], float(majority), r["count"]) for r in split.test.groupBy(LABEL).count().collect()]
    baseline = multiclass_report(confusion_matrix(base_pairs, len(LEVEL_NAMES)), LEVEL_NAMES)
    pred_out = partition_path(cfg.lake_root, Zone.ENRICHED, ENGAGEMENT_PREDICTIONS, cfg.ds)
    write_partition(
        predictions.select(
            "user_id", "product_id", "user_session", "session_start", F.col("level"),
            F.col("prediction").cast("int").alias("predicted_level"),
        ),
        pred_out,
    )  # fmt: skip
    metrics = {
        "model": cfg.engagement_model,
        "levels": dict(enumerate(LEVEL_NAMES)),
        "held_out": report,
        "majority_baseline": {**baseline, "predicts": LEVEL_NAMES[majority]},
        "train_levels": {LEVEL_NAMES[c]: n for c, n in sorted(split.classes.items())},
        "rows": {"all": split.total, "train": split.n_train, "held_out": split.n_test},
        "held_out_from": split.cut.isoformat(),
        "features": {"numeric": numeric, "categorical": CATEGORICAL, "dropped_all_null_in_training": empty},
        "review_features": review_note
        or f"used: {', '.join(c for c in REVIEW_FEATURES if c in numeric)} (brand level, from the product map)",
        "window_partitions": partitions,
    }
    published = _publish(cfg, model, split, metrics)
    log.info("engagement %s: macro-F1 %.4f (majority %.4f) on %s held-out rows", cfg.ds, report["macro_f1"],
             baseline["macro_f1"], split.n_test)  # fmt: skip
    return {
        "ds": cfg.ds,
        "rows": split.total,
        "macro_f1": report["macro_f1"],
        "baseline_macro_f1": baseline["macro_f1"],
        "held_out_rows": split.n_test,
        **published,
    }


def _publish(cfg: EngagementJobConfig, model: Any, split: HeldOut, metrics: dict[str, Any]) -> dict[str, Any]:
    """The Spark pipeline and confusion plot published as the version, gated on macro-F1 against the majority level
    and the champion re-scored on the same held-out rows."""
    import tempfile
    from pathlib import Path

    from shoplake.ml.baselines import MAJORITY_CLASS, majority_class, majority_pointer
    from shoplake.ml.churn import LABEL
    from shoplake.ml.metrics import confusion_matrix, multiclass_report
    from shoplake.ml.plots import plot_confusion
    from shoplake.ml.publishing import Gate, Tracking, publish_model_version
    from shoplake.transforms.engagement import LEVEL_NAMES

    report, baseline = metrics["held_out"], metrics["majority_baseline"]

    def champion(pointer: dict[str, Any]) -> float | None:
        from pyspark.ml import PipelineModel

        if pointer.get("model") == MAJORITY_CLASS:  # its constant level on these rows
            level = float(majority_class(pointer))
            pairs = [(r[LABEL], level, r["count"]) for r in split.test.groupBy(LABEL).count().collect()]
            return multiclass_report(confusion_matrix(pairs, len(LEVEL_NAMES)), LEVEL_NAMES)["macro_f1"]
        old = PipelineModel.load(f"{pointer['path']}/model").transform(split.test)
        return multiclass_report(confusion_matrix(_pairs(old), len(LEVEL_NAMES)), LEVEL_NAMES)["macro_f1"]

    majority = majority_pointer([split.classes.get(i, 0) for i in range(len(LEVEL_NAMES))])  # served if it wins
    staged = staging_path(cfg.lake_root, ENGAGEMENT_MODEL, cfg.ds)
    per_class = {f"f1_{name}": v["f1"] for name, v in report["per_class"].items() if v["f1"] is not None}
    with tempfile.TemporaryDirectory() as tmp:
        local = Path(tmp)
        model.write().overwrite().save(f"{staged}/model")
        title = f"engagement, held-out sessions from {split.cut:%Y-%m-%d %H:%M} (macro-F1 {report['macro_f1']:.3f})"
        plot_confusion(local / "confusion.png", report["confusion"], LEVEL_NAMES, title)
        return publish_model_version(
            lake_root=cfg.lake_root, name=ENGAGEMENT_MODEL, ds=cfg.ds, metrics=metrics, config=cfg, local_dir=local,
            staged=staged, pointer={"model": cfg.engagement_model},
            gate=Gate("macro_f1", report["macro_f1"], baselines={"majority level": baseline["macro_f1"]},
                      champion_score=champion, servable={"majority level": majority}),
            tracking=Tracking(cfg.mlflow_uri, params=asdict(cfg), tags={"model": cfg.engagement_model},
                              model_subdir="model", metrics={
                                  "macro_f1": report["macro_f1"], "accuracy": report["accuracy"], **per_class,
                                  "baseline_macro_f1": baseline["macro_f1"], "rows": metrics["rows"]}),
        )  # fmt: skip


def check_engagement(lake_root: str, ds: str) -> dict[str, Any]:
    """The run's outputs are complete and consistent: levels in 0–3, predictions for every held-out row, metrics."""
    import pyarrow.compute as pc

    from shoplake.io.lake import filesystem, read_partition
    from shoplake.ml.registry import version_files

    rows = read_partition(partition_path(lake_root, Zone.ENRICHED, ENGAGEMENT, ds), ["level", "held_out"])
    preds = read_partition(partition_path(lake_root, Zone.ENRICHED, ENGAGEMENT_PREDICTIONS, ds))
    problems = []
    for name, col in (("level", rows["level"]), ("predicted_level", preds["predicted_level"])):
        lo, hi = pc.min(col).as_py(), pc.max(col).as_py()
        if lo is not None and (lo < 0 or hi > 3):
            problems.append(f"{name} outside 0–3")
    held = int(pc.sum(rows["held_out"].cast("int64")).as_py() or 0)
    if held != preds.num_rows:
        problems.append(f"{held} held-out rows but {preds.num_rows} predictions")
    fs, mp = filesystem(f"{version_files(lake_root, ENGAGEMENT_MODEL, ds)}/metrics.json")
    metrics = json.loads(fs.cat(mp)) if fs.exists(mp) else {}
    if "macro_f1" not in metrics.get("held_out", {}) or "macro_f1" not in metrics.get("majority_baseline", {}):
        problems.append("metrics.json lacks the held-out and majority-baseline macro-F1")
    if problems:
        raise ValueError(f"engagement ds={ds} failed {len(problems)} check(s): " + "; ".join(problems))
    return {
        "ds": ds,
        "path": partition_path(lake_root, Zone.ENRICHED, ENGAGEMENT, ds),
        "rows": rows.num_rows,
        "held_out": held,
        "macro_f1": metrics["held_out"]["macro_f1"],
    }
