"""The churn pipeline on Spark MLlib (Sparkify, Telco, clickstream): its job config and steps.

1. :func:`curate_churn_source` — source → ``raw/<events>/ds=`` → ``curated/<events>/ds=`` (+
   ``quarantine/{raw,curated}_<events>``)
2. :func:`build_churn_features` — curated window → ``enriched/<source>_churn_features/ds=`` (one row per user,
   ``label``)
3. :func:`train_churn_models` — features → model zoo with CrossValidator → ``model/<source>_churn/version=<ds>/``
   (best model, metrics, comparison table + plot, config); ``current.json`` moves only if the model beats its
   baselines and is not worse than the champion on the same held-out users
4. :func:`predict_churn` — current model × features → ``enriched/<source>_churn_predictions/ds=``

``jobs/spark/*_churn*.py`` run steps 1–4 with spark-submit; the ``check_*`` functions (no Spark) read the steps'
bookkeeping for the DAG's check tasks.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
from dataclasses import asdict, dataclass
from typing import TYPE_CHECKING, Any

from shoplake.jobconfig import PartitionJob, option
from shoplake.ml.churn import ZooConfig, zoo_config
from shoplake.paths import (
    CHURN_SOURCES,
    Zone,
    churn_names,
    partition_path,
    staging_path,
    version_path,
    window_partitions,
)

if TYPE_CHECKING:
    from pyspark.sql import DataFrame, SparkSession

log = logging.getLogger(__name__)


@dataclass(frozen=True, kw_only=True)
class ChurnJobConfig(PartitionJob, ZooConfig):
    """Arguments of the churn jobs: the source, the window, the label definition and the zoo's knobs."""

    source: str = option(help="churn source: sparkify, telco or clickstream", enum=list(CHURN_SOURCES))
    ds: str = option(help="partition date YYYY-MM-DD (the last day of the window)")
    source_path: str = option(
        "", help="the source's files (sparkify: the folder holding log_data/; telco: the CSV; clickstream: a CSV "
        "glob); empty = SHOPLAKE_<SOURCE>_SOURCE or the shared sample",
    )  # fmt: skip
    window_days: int = option(
        30, help="days of curated events, ending at ds, that features are built from (days)", minimum=1, maximum=366
    )
    churn_pages: str = option(
        "Cancellation Confirmation",
        help="Sparkify pages whose visit means churn, comma-separated (letters, digits, spaces, - and _)",
        pattern=r"^[A-Za-z0-9 _-]+(,[A-Za-z0-9 _-]+)*$",
    )
    label_horizon_hours: float = option(
        168.0, help="clickstream: users with no event in the last this-many hours of the window have churned",
        exclusiveMinimum=0,
    )  # fmt: skip
    mlflow_uri: str = option("", help="MLflow tracking URI; empty = SQLite under a local lake, 'none' = off")
    min_class_users: int = option(
        10, help="fewest users of each class (churned, retained) needed to train; thinner labels skip training",
        minimum=4,
    )  # fmt: skip
    min_test_class_users: int = option(
        30, help="fewest held-out users of each class for the gate to rank a model above the majority class; "
        "fewer: the majority class is served and the verdict says why", minimum=1,
    )  # fmt: skip

    def __post_init__(self) -> None:
        super().__post_init__()
        if not self.pages:
            raise ValueError("--churn-pages names at least one page")
        if self.min_class_users < 2 * self.folds:
            raise ValueError(f"--min-class-users must be >= 2 x --folds ({2 * self.folds})")

    @property
    def pages(self) -> tuple[str, ...]:
        return tuple(p.strip() for p in self.churn_pages.split(",") if p.strip())

    @property
    def names(self):
        """The source's datasets and model (``shoplake.paths.churn_names``)."""
        return churn_names(self.source)


def label_gate(users: int, churned: int, min_class_users: int) -> str:
    """Why a features partition cannot train a churn model (``""`` when it can).

    Both classes need ``min_class_users`` users: cross-validation folds and the held-out split each need some of
    the minority class, and a handful of churners gives scores that say nothing.
    """
    stayed = users - churned
    if churned < min_class_users or stayed < min_class_users:
        return (
            f"{churned} churned and {stayed} retained users; training needs >= {min_class_users} of each "
            "(widen window_days, change the churn definition or lower min_class_users)"
        )
    return ""


def curate_churn_source(spark: SparkSession, cfg: ChurnJobConfig) -> dict[str, Any]:
    """Land and curate one day of the source through the shared stages (``shoplake.pipelines.stages``); every input
    row is accounted for."""
    from shoplake.config import Settings
    from shoplake.pipelines.stages import land_and_curate
    from shoplake.transforms import churn_sources as src

    path = cfg.source_path or Settings.from_env().churn_source(cfg.source)
    if cfg.source == "sparkify":
        landed, rule = src.land_sparkify(spark, path, cfg.ds), lambda raw: src.curate_sparkify(raw, cfg.ds)
    elif cfg.source == "telco":
        landed, rule = src.land_telco(spark, path), src.curate_telco
    else:
        landed, rule = src.land_clickstream(spark, path, cfg.ds), src.curate_clickstream
    return land_and_curate(spark, cfg.lake_root, cfg.names.events, cfg.ds, landed, rule)


def read_curated_window(spark: SparkSession, cfg: ChurnJobConfig) -> tuple[DataFrame, list[str]]:
    """Curated partitions of the window (a snapshot source reads only ``ds``); missing days are skipped."""
    from shoplake.io.lake import existing_partitions
    from shoplake.io.spark_lake import read_parquet

    days = 1 if cfg.source == "telco" else cfg.window_days
    paths, _ = existing_partitions(window_partitions(cfg.lake_root, Zone.CURATED, cfg.names.events, cfg.ds, days))
    if not paths:
        raise FileNotFoundError(f"no curated {cfg.names.events} partition in the window ending {cfg.ds}")
    return read_parquet(spark, *paths), paths


def build_churn_features(spark: SparkSession, cfg: ChurnJobConfig) -> dict[str, Any]:
    """Per-user features and labels of the window → ``enriched/<source>_churn_features/ds=``."""
    from pyspark.sql import functions as F

    from shoplake.io.spark_lake import stage_partition
    from shoplake.transforms import churn_features as cf

    events, paths = read_curated_window(spark, cfg)
    extra: dict[str, Any] = {}
    if cfg.source == "sparkify":
        feats = cf.sparkify_user_features(events, cfg.pages)
        extra["churn_pages"] = list(cfg.pages)
    elif cfg.source == "telco":
        feats = cf.telco_customer_features(events)
    else:
        last = events.agg(F.max("event_time")).first()[0]
        if last is None:
            raise ValueError(f"no clickstream events in the window ending {cfg.ds}")
        end = last + dt.timedelta(seconds=1)
        cutoff = end - dt.timedelta(hours=cfg.label_horizon_hours)
        feats = cf.clickstream_user_features(events, F.lit(cutoff), F.lit(end))
        extra.update({"label_from": cutoff.isoformat(), "label_to": end.isoformat()})
    out = partition_path(cfg.lake_root, Zone.ENRICHED, cfg.names.features, cfg.ds)
    staged = stage_partition(feats, out, sort_by="user_id")
    users = staged.rows
    churned = spark.read.parquet(staged.readable).where("label = 1.0").count()
    counts = {"users": users, "churned": churned, "partitions": len(paths)}
    staged.commit({**counts, **extra})
    return {"ds": cfg.ds, "path": out, "rows": users, **counts, **extra}


def _champion_auc(test: DataFrame, predictions: DataFrame, over_majority: dict[str, Any], seed: int):
    """Re-scores the champion on the held-out users: its AUC, and the model's paired-bootstrap lead over it."""
    from pyspark.ml import PipelineModel

    from shoplake.ml.baselines import MAJORITY_CLASS
    from shoplake.ml.churn import auc_lead_over_champion, evaluate

    def score(champion: dict[str, Any]) -> dict[str, Any]:
        if champion.get("model") == MAJORITY_CLASS:  # a constant ranks no user above another
            return {"score": 0.5, "lead": over_majority}
        theirs = PipelineModel.load(f"{champion['path']}/model").transform(test)
        return {"score": evaluate(theirs)["auc"], "lead": auc_lead_over_champion(predictions, theirs, seed=seed)}

    return score


def train_churn_models(spark: SparkSession, cfg: ChurnJobConfig) -> dict[str, Any]:
    """Model zoo with CrossValidator on F1 → the best model, metrics and comparison into the model zone."""
    from shoplake.io.spark_lake import read_parquet
    from shoplake.ml.churn import comparison_rows, train_zoo
    from shoplake.transforms.churn_features import feature_columns

    # not cached: a cached scan of a partition path would be served, stale, to later reads of a rewritten partition
    feats = read_parquet(spark, partition_path(cfg.lake_root, Zone.ENRICHED, cfg.names.features, cfg.ds))
    users, churned = feats.count(), feats.where("label = 1.0").count()
    reason = label_gate(users, churned, cfg.min_class_users)
    if reason:
        raise ValueError(f"{cfg.names.features} ds={cfg.ds}: {reason}")
    numeric, categorical = feature_columns(feats, cfg.source)
    zoo = train_zoo(feats, numeric, categorical, zoo_config(cfg))
    best = zoo["best"]
    rows = comparison_rows(zoo["results"], best.name, zoo["baseline"])
    metrics = {
        "source": cfg.source,
        "best_model": best.name,
        "selection": f"highest mean {cfg.folds}-fold cross-validated weighted F1 on the training users",
        "held_out": best.test,
        "majority_baseline": zoo["baseline"],
        "class_counts_train": {str(k): v for k, v in zoo["class_counts"].items()},
        "features": {"numeric": numeric, "categorical": categorical},
        "models": rows,
    }
    published = _publish(spark, cfg, zoo, rows, metrics)
    return {
        "ds": cfg.ds,
        "rows": int(sum(zoo["class_counts"].values())) + int(best.test["n"]),
        "best_model": best.name,
        "f1_weighted": best.test["f1_weighted"],
        "f1_churn": best.test["f1_churn"],
        "auc": best.test["auc"],
        "champion_auc": published["champion_score"],
        **{k: v for k, v in published.items() if k not in ("champion_score", "score", "metric")},
    }


def _publish(
    spark: SparkSession, cfg: ChurnJobConfig, zoo: dict[str, Any], rows: list[dict[str, Any]], metrics: dict[str, Any]
) -> dict[str, Any]:
    """The best model, the comparison table and plot published as the version, gated on held-out AUC against the
    majority class and the champion re-scored on the same users."""
    import tempfile
    from pathlib import Path

    from shoplake.ml.baselines import majority_pointer
    from shoplake.ml.churn import auc_lead_over_majority
    from shoplake.ml.metrics import too_few_of_a_class
    from shoplake.ml.plots import plot_model_comparison
    from shoplake.ml.publishing import Gate, Tracking, publish_model_version

    best = zoo["best"]
    n, churned = int(best.test["n"]), int(best.test["churned"])
    predictions = best.model.transform(zoo["test"])
    lead = auc_lead_over_majority(predictions, seed=cfg.seed)
    # an AUC over a handful of one class is a statement about those few users
    thin = too_few_of_a_class({"churned": churned, "retained": n - churned}, cfg.min_test_class_users, "users")
    staged = staging_path(cfg.lake_root, cfg.names.model, cfg.ds)
    per_model = {f"{r['model']}_{k}": r[k] for r in rows for k in ("f1_weighted", "f1_churn", "auc") if k in r}
    with tempfile.TemporaryDirectory() as tmp:
        local = Path(tmp)
        best.model.write().overwrite().save(f"{staged}/model")
        _write_table(local / "comparison.csv", rows)
        title = f"{cfg.source} churn, held-out users (* = chosen by CV F1)"
        plot_model_comparison(local / "comparison.png", rows, title)
        zoo["train"].unpersist()
        published = publish_model_version(
            lake_root=cfg.lake_root, name=cfg.names.model, ds=cfg.ds, metrics=metrics, config=cfg, local_dir=local,
            staged=staged, pointer={"model": best.name},
            # AUC: ranking churners above stayers, which always predicting the majority class cannot (0.5), however
            # lopsided the classes (the clickstream sample churns 97 %: the majority's weighted F1 is 0.95 there)
            gate=Gate("auc", best.test["auc"], champion_score=_champion_auc(zoo["test"], predictions, lead, cfg.seed),
                      baselines={"majority class": zoo["baseline"]["auc"]},
                      leads={"majority class": lead}, unranked=thin,
                      servable={"majority class": majority_pointer(zoo["class_counts"])}),
            tracking=Tracking(cfg.mlflow_uri, params={**asdict(cfg), "best_model": best.name},
                              metrics={"held_out": best.test, "majority_baseline": zoo["baseline"], **per_model},
                              tags={"source": cfg.source, "best_model": best.name}, model_subdir="model"),
        )  # fmt: skip
        zoo["test"].unpersist()
    return published


def _write_table(path: Any, rows: list[dict[str, Any]]) -> None:
    import csv

    keys = [k for k in rows[0] if k != "params"] + ["params"]
    with open(path, "w", newline="") as fh:
        w = csv.DictWriter(fh, fieldnames=keys)
        w.writeheader()
        for r in rows:
            w.writerow({**r, "params": json.dumps(r["params"], default=str)})


def predict_churn(spark: SparkSession, cfg: ChurnJobConfig) -> dict[str, Any]:
    """Score every user of the features partition with the current model → ``enriched/…_predictions/ds=``."""
    from pyspark.ml import PipelineModel
    from pyspark.sql import functions as F

    from shoplake.ml.baselines import MAJORITY_CLASS, majority_class
    from shoplake.ml.churn import churn_probability
    from shoplake.ml.registry import read_current

    current = read_current(cfg.lake_root, cfg.names.model)
    if current is None:
        raise FileNotFoundError(f"no current {cfg.names.model} model: run the train step first")
    from shoplake.io.spark_lake import read_parquet, stage_partition

    feats = read_parquet(spark, partition_path(cfg.lake_root, Zone.ENRICHED, cfg.names.features, cfg.ds))
    if current.get("model") == MAJORITY_CLASS:  # the baseline won the gate: every user gets its constant answer
        scored, prediction = feats, F.lit(majority_class(current))
        shares = current["class_probabilities"]
        probability = F.lit(float(shares[1]) if len(shares) > 1 else 0.0)
    else:
        scored = PipelineModel.load(f"{current['path']}/model").transform(feats)
        prediction, probability = F.col("prediction"), churn_probability(scored)
    out_df = scored.select(
        F.col("user_id"),
        probability.cast("double").alias("churn_probability"),
        prediction.cast("int").alias("predicted_churn"),
        F.col("label").cast("int").alias("observed_churn"),
        F.lit(current.get("model", "")).alias("model"),
        F.lit(current["version"]).alias("model_version"),
    )
    out = partition_path(cfg.lake_root, Zone.ENRICHED, cfg.names.predictions, cfg.ds)
    staged = stage_partition(out_df, out, sort_by="user_id")
    rows, users = staged.rows, feats.count()
    if rows != users:
        staged.abort()
        raise RuntimeError(f"scored {rows} of {users} users")
    staged.commit({"users": users, "scored": rows, "model_version": current["version"], "model": current.get("model")})
    return {"ds": cfg.ds, "path": out, "rows": rows, "model_version": current["version"]}


# ---- checks the DAGs run after each Spark step (no Spark: they read the steps' bookkeeping) --------------------

VERSION_FILES = ("model/metadata", "metrics.json", "comparison.csv", "comparison.png", "config.json.snapshot")


def check_curated(lake_root: str, ds: str, source: str) -> dict[str, Any]:
    """Every landed row is curated or quarantined, and every source row landed or was quarantined
    (``shoplake.pipelines.stages.check_stages``).

    Raises:
        ValueError: the counts do not add up.
    """
    from shoplake.pipelines.stages import check_stages

    return check_stages(lake_root, churn_names(source).events, ds)


def check_features(lake_root: str, ds: str, source: str, min_class_users: int) -> dict[str, Any]:
    """The features partition, its label counts, whether it can train, and whether a model exists to score it."""
    from shoplake.io.lake import read_counts
    from shoplake.ml.registry import read_current

    names = churn_names(source)
    path = partition_path(lake_root, Zone.ENRICHED, names.features, ds)
    c = read_counts(path)
    reason = label_gate(c["users"], c["churned"], min_class_users)
    current = read_current(lake_root, names.model)
    return {
        "ds": ds,
        "path": path,
        "rows": c["users"],
        "churned": c["churned"],
        "trainable": not reason,
        "reason": reason,
        "current_version": current["version"] if current else None,
    }


def check_model(lake_root: str, ds: str, source: str) -> dict[str, Any]:
    """The version for ``ds`` is complete; returns its scores and which version is current.

    Raises:
        FileNotFoundError: the version or one of its files is missing.
    """
    from shoplake.io.lake import filesystem
    from shoplake.ml.registry import read_current, version_files

    names = churn_names(source)
    path = version_path(lake_root, names.model, ds)
    fs, root = filesystem(version_files(lake_root, names.model, ds))
    missing = [f for f in VERSION_FILES if not fs.exists(f"{root}/{f}")]
    if missing:
        raise FileNotFoundError(f"model version {path} lacks {missing}")
    metrics = json.loads(fs.cat(f"{root}/metrics.json"))
    held_out = metrics["held_out"]
    return {
        "ds": ds,
        "path": path,
        "rows": int(held_out["n"]),
        "best_model": metrics["best_model"],
        "f1_weighted": held_out["f1_weighted"],
        "f1_churn": held_out["f1_churn"],
        "current_version": (read_current(lake_root, names.model) or {}).get("version"),
    }


def check_predictions(lake_root: str, ds: str, source: str) -> dict[str, Any]:
    """Every user of the features partition was scored.

    Raises:
        ValueError: the prediction count differs from the features partition's users.
    """
    from shoplake.io.lake import read_counts

    names = churn_names(source)
    users = read_counts(partition_path(lake_root, Zone.ENRICHED, names.features, ds))["users"]
    path = partition_path(lake_root, Zone.ENRICHED, names.predictions, ds)
    c = read_counts(path)
    if c["scored"] != users:
        raise ValueError(f"{names.predictions} ds={ds}: scored {c['scored']} of {users} users")
    return {"ds": ds, "path": path, "rows": c["scored"], "model_version": c["model_version"]}
