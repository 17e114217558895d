"""The recommendations pipeline on the curated clickstream: item-item CF, FP-Growth, ALS and a popularity baseline.

1. :func:`train_recommenders` (Spark) — the ``window_days`` curated ``clickstream_events`` partitions ending at
   ``ds`` (curated once, by the clickstream churn DAG's ``curate_events``); leave-last-out split by time; the four
   recommenders;
   Precision/Recall/NDCG@k, hit rate and coverage on the held-out users → enriched partitions
   (``recs_item_item``, ``recs_fp_itemsets``, ``recs_fp_rules``, ``recs_als_user``, ``recs_popularity``) and
   ``model/recommender/version=<ds>/``; ``current.json`` moves last, only if the version's best NDCG@k
   is not below the champion's re-scored on the same held-out users.
2. :func:`~shoplake.pipelines.recommendations_checks.check_window` and
   :func:`~shoplake.pipelines.recommendations_checks.check_recommendations` (no Spark, their own module) — can the
   window train, and the quality checks of the written partitions.

**Evaluation protocol** (docs/recommendations.md). Per user, distinct products are ordered by the user's first
interaction with them; a user with at least two has the most recent one held out (every interaction with it leaves
the training data), the rest train. Each recommender proposes ``k`` products the user has not interacted with in
training; the held-out product is the one relevant item. Users with a single product only train.
"""

from __future__ import annotations

import json
import logging
import time
from dataclasses import asdict, dataclass, field
from typing import TYPE_CHECKING, Any

from shoplake.jobconfig import PartitionJob, option
from shoplake.ml.recommend import DEFAULT_WEIGHTS, MODELS, parse_weights
from shoplake.paths import (
    CLICKSTREAM_EVENTS,
    RECOMMENDER_MODEL,
    RECS_DATASETS,
    Zone,
    partition_path,
    staging_path,
    window_partitions,
)
from shoplake.pipelines.recommendations_checks import too_few_test_users
from shoplake.progress import Progress

if TYPE_CHECKING:
    from pathlib import Path

    from pyspark.sql import DataFrame, SparkSession

log = logging.getLogger(__name__)

EVENTS = CLICKSTREAM_EVENTS


@dataclass(frozen=True, kw_only=True)
class ClickstreamWindow(PartitionJob):
    """The window of curated clickstream days a job learns from, and where it tracks (shared by the recommenders
    and the engagement model: one declaration of each knob, one DAG Param)."""

    ds: str = option(help="partition date YYYY-MM-DD (the last day of the window)")
    window_days: int = option(
        30, help="days of curated clickstream events, ending at ds, to learn from (days)", minimum=1, maximum=366
    )
    mlflow_uri: str = option("", help="MLflow tracking URI; empty = SQLite under a local lake, 'none' = off")


@dataclass(frozen=True, kw_only=True)
class RecsJobConfig(ClickstreamWindow):
    """Arguments of the recommendations job: the window, the implicit weights and each recommender's knobs."""

    k: int = option(
        10, help="recommendations per product / user, and the cut-off of the @k metrics", minimum=1, maximum=100
    )
    event_weights: str = option(
        DEFAULT_WEIGHTS,
        help="implicit weight of each event type in the user × product matrix, type=weight,…",
        pattern=r"^\s*[a-z_]+\s*=\s*[0-9]+(\.[0-9]+)?\s*(,\s*[a-z_]+\s*=\s*[0-9]+(\.[0-9]+)?\s*)*$",
    )
    neighbours: int = option(
        50, help="item-item: neighbours kept per product for scoring users (>= k)", minimum=1, maximum=1000
    )
    min_support: float = option(
        0.001,
        help="FP-Growth: fewest sessions holding an itemset, as a share of sessions",
        exclusiveMinimum=0,
        maximum=1,
    )
    min_confidence: float = option(
        0.1, help="FP-Growth: lowest rule confidence, support(A∪B) / support(A)", minimum=0, maximum=1
    )
    als_rank: int = option(16, help="ALS: latent factors per user and product", minimum=1, maximum=512)
    als_reg: float = option(0.1, help="ALS: L2 regularisation of the factors", minimum=0)
    als_alpha: float = option(
        10.0, help="ALS: confidence scale of implicit weights (c = 1 + alpha × weight)", exclusiveMinimum=0
    )
    als_max_iter: int = option(10, help="ALS: alternating least-squares iterations", minimum=1, maximum=100)
    seed: int = option(42, help="seed of ALS's initial factors")
    als_tune: bool = option(
        True,
        help="choose ALS's rank, regularisation, alpha and iterations on a validation split cut from the training "
        "events (each test user's last training product), never on the held-out users; false = the flags as given",
    )
    min_test_users: int = option(
        20, help="fewest held-out users (users with >= 2 products) needed to train and compare; fewer skips", minimum=1
    )

    def __post_init__(self) -> None:
        super().__post_init__()
        parse_weights(self.event_weights)
        if self.neighbours < self.k:
            raise ValueError(f"--neighbours ({self.neighbours}) must be >= --k ({self.k})")

    @property
    def weights(self) -> dict[str, float]:
        return parse_weights(self.event_weights)


# ---- reading and splitting ---------------------------------------------------------------------------------------


def read_window(
    spark: SparkSession, lake_root: str, ds: str, days: int, columns: list[str] | None = None
) -> tuple[DataFrame, list[str]]:
    """Curated clickstream events of the window (missing days skipped): ``columns`` (default: the recommenders'
    user, product, event type, time and session; ``[]`` = every column).

    Raises:
        FileNotFoundError: no curated partition in the window (run the clickstream churn DAG's curate_events).
    """
    from shoplake.io.lake import existing_partitions
    from shoplake.io.spark_lake import read_parquet

    paths, _ = existing_partitions(window_partitions(lake_root, Zone.CURATED, EVENTS, ds, days))
    if not paths:
        raise FileNotFoundError(
            f"no curated {EVENTS} partition in the {days} days ending {ds}; the clickstream churn DAG's "
            "curate_events writes them (trigger clickstream_churn_daily for those days)"
        )
    df = read_parquet(spark, *paths)
    cols = ["user_id", "product_id", "event_type", "event_time", "user_session"] if columns is None else columns
    return (df.select(*cols) if cols else df), paths


@dataclass
class Split:
    """The leave-last-out split, as cached Spark frames (nothing here is on the driver but the counts)."""

    pairs: DataFrame  # user_id, product_id, weight: training interactions summed per pair, weight > 0
    test: DataFrame  # user_id, product_id: the held-out product of each test user (users with training pairs)
    sessions: DataFrame  # user_session, items (array<long> of product ids) — training events only
    events: dict[str, int]
    train_events: DataFrame | None = None  # the training events (what a validation split is cut from)

    @property
    def test_users(self) -> DataFrame:
        return self.test.select("user_id")

    @property
    def catalogue(self) -> int:
        """Products in the training pairs (the coverage denominator)."""
        return self.events["items"]

    def release(self) -> None:
        for df in (self.pairs, self.test):
            df.unpersist()


def split_events(events: DataFrame, weights: dict[str, float]) -> Split:
    """Leave-last-out by time (module docstring), weights applied; the pairs and the held-out products stay in
    Spark (cached), only their counts come back."""
    from pyspark.sql import Window
    from pyspark.sql import functions as F

    weight = F.create_map(*[x for name, w in weights.items() for x in (F.lit(name), F.lit(float(w)))])
    ev = events.where(F.col("event_type").isin(*weights)).withColumn("w", weight[F.col("event_type")])
    firsts = ev.groupBy("user_id", "product_id").agg(F.min("event_time").alias("first"))
    order = Window.partitionBy("user_id").orderBy(F.col("first").desc(), F.col("product_id").desc())
    ranked = firsts.withColumn("r", F.row_number().over(order)).withColumn(
        "n", F.count(F.lit(1)).over(Window.partitionBy("user_id"))
    )
    held = ranked.where("n >= 2 AND r = 1").select("user_id", "product_id")
    train_ev = ev.join(held, ["user_id", "product_id"], "left_anti")
    pairs = train_ev.groupBy("user_id", "product_id").agg(F.sum("w").alias("weight")).where("weight > 0").cache()
    # a user whose every training interaction weighs 0 has nothing to recommend from: not a test user
    test = held.join(pairs.select("user_id").distinct(), "user_id", "left_semi").cache()
    sessions = (
        train_ev.where(F.col("user_session").isNotNull())
        .groupBy("user_session")
        .agg(F.array_sort(F.collect_set("product_id")).alias("items"))
    )
    sizes = pairs.agg(
        F.count(F.lit(1)).alias("pairs"),
        F.countDistinct("user_id").alias("users"),
        F.countDistinct("product_id").alias("items"),
    ).first()
    known = pairs.select("product_id").distinct()
    counts = {
        "events": int(ev.count()),
        "train_pairs": int(sizes["pairs"]),
        "test_users": int(test.count()),
        # a held-out product no training pair holds cannot be recommended by any model
        "held_out_unseen_in_training": int(test.join(known, "product_id", "left_anti").count()),
        "users": int(sizes["users"]),
        "items": int(sizes["items"]),
    }
    return Split(pairs, test, sessions, counts, train_events=train_ev)


# ---- the recommenders --------------------------------------------------------------------------------------------


def fit_fp_growth(sessions: DataFrame, cfg: RecsJobConfig) -> tuple[DataFrame, DataFrame, int]:
    """FP-Growth on the items of each training session: ``(itemsets, rules, sessions)``; rules carry support,
    confidence and lift as Spark computes them, and their one consequent as a product id."""
    from pyspark.ml.fpm import FPGrowth
    from pyspark.sql import functions as F

    n_sessions = sessions.count()
    model = FPGrowth(itemsCol="items", minSupport=cfg.min_support, minConfidence=cfg.min_confidence).fit(sessions)
    itemsets = model.freqItemsets.selectExpr("items", "freq", f"freq / {max(n_sessions, 1)} AS support")
    rules = model.associationRules.select(
        "antecedent", F.col("consequent")[0].alias("consequent"), "confidence", "lift", "support"
    )
    return itemsets, rules, n_sessions


@dataclass
class AlsFit:
    """An ALS model with the integer ids it was fitted on (``user_id, user`` and ``product_id, item``)."""

    model: Any
    users: DataFrame
    items: DataFrame


#: ALS's search, coordinate by coordinate from the configured values: rank × alpha first, then the regularisation,
#: then the iterations (fractions of the configured value: more iterations than ``als_max_iter`` grow ALS's lineage
#: past what a run without a checkpoint directory survives — StackOverflowError at 10× the sample)
ALS_RANKS = (8, 16, 32)
ALS_ALPHAS = (1.0, 10.0, 40.0)
ALS_REG_FACTORS = (0.1, 1.0, 10.0)
ALS_ITER_FACTORS = (0.5, 1.0)


def tune_als(split: Split, cfg: RecsJobConfig) -> tuple[RecsJobConfig, dict[str, Any]]:
    """``cfg`` with the ALS hyperparameters that score the best NDCG@k on a validation split of the training events
    (leave-last-out again, inside the training data: the held-out users' products are never seen), and the record
    of what was tried. Without ``als_tune``, or with too few validation users, ``cfg`` as it is."""
    from dataclasses import replace

    from shoplake.ml import recommend_spark as rs

    if not cfg.als_tune or split.train_events is None:
        return cfg, {"tuned": False, "reason": "--als-tune false: the flags as given"}
    valid = split_events(split.train_events, cfg.weights)
    if valid.events["test_users"] < cfg.min_test_users:
        valid.release()
        return cfg, {"tuned": False, "reason": f"{valid.events['test_users']} validation users (< min_test_users)"}
    tried: dict[tuple, float] = {}

    def score(c: RecsJobConfig) -> float:
        key = (c.als_rank, c.als_reg, c.als_alpha, c.als_max_iter)
        if key not in tried:
            fit = fit_als(valid.pairs, c)
            recs = rs.als_recommend(fit.model, fit.users, fit.items, valid.pairs, c.k, users=valid.test_users)
            tried[key] = rs.ranking_metrics(recs, valid.test, c.k, valid.catalogue)[f"ndcg_at_{c.k}"]
            fit.users.unpersist()
            fit.items.unpersist()
        return tried[key]

    best = max((replace(cfg, als_rank=r, als_alpha=a) for r in ALS_RANKS for a in ALS_ALPHAS), key=score)
    best = max((replace(best, als_reg=round(cfg.als_reg * f, 6)) for f in ALS_REG_FACTORS), key=score)
    iters = sorted({max(1, round(cfg.als_max_iter * f)) for f in ALS_ITER_FACTORS})
    best = max((replace(best, als_max_iter=i) for i in iters), key=score)
    valid.release()
    chosen = {"rank": best.als_rank, "reg": best.als_reg, "alpha": best.als_alpha, "max_iter": best.als_max_iter}
    log.info("ALS tuned on %s validation users: %s (NDCG@%s %.4f)", valid.events["test_users"], chosen, cfg.k,
             score(best))  # fmt: skip
    return best, {
        "tuned": True,
        "chosen": chosen,
        "validation_users": valid.events["test_users"],
        "protocol": "leave-last-out inside the training events; NDCG@k of each setting on those users",
        "tried": [{"rank": r, "reg": g, "alpha": a, "max_iter": i, f"ndcg_at_{cfg.k}": v}
                  for (r, g, a, i), v in tried.items()],
    }  # fmt: skip


def fit_als(pairs: DataFrame, cfg: RecsJobConfig) -> AlsFit:
    """Implicit-preference ALS on the training weights; users and products numbered in sorted order."""
    from pyspark.ml.recommendation import ALS

    from shoplake.ml.recommend_spark import index_ids

    users = index_ids(pairs, "user_id", "user").cache()
    items = index_ids(pairs, "product_id", "item").cache()
    ratings = pairs.join(users, "user_id").join(items, "product_id").select("user", "item", "weight")
    als = ALS(
        userCol="user", itemCol="item", ratingCol="weight", implicitPrefs=True, rank=cfg.als_rank,
        regParam=cfg.als_reg, alpha=cfg.als_alpha, maxIter=cfg.als_max_iter, seed=cfg.seed,
        coldStartStrategy="drop", nonnegative=False,
    )  # fmt: skip
    return AlsFit(als.fit(ratings), users, items)


# ---- the job -----------------------------------------------------------------------------------------------------


@dataclass
class Fitted:
    """The four recommenders fitted on one split, as cached Spark frames (``als_all``: every training user's ALS
    top-k), with what each scored on the held-out users and how long it took."""

    neighbours: DataFrame
    itemsets: DataFrame
    rules: DataFrame
    sessions: int
    als: AlsFit
    als_all: DataFrame
    ranking: DataFrame
    per_model: dict[str, dict[str, float]]
    timings: dict[str, float]
    als_tuning: dict[str, Any] = field(default_factory=dict)

    def enriched(self, k: int) -> dict[str, tuple[DataFrame, list[str]]]:
        """The enriched tables by ``RECS_DATASETS`` key, with each one's sort order."""
        from pyspark.sql import functions as F

        return {
            "item_item": (self.neighbours.where(F.col("rec_rank") <= k), ["product_id", "rec_rank"]),
            "fp_itemsets": (self.itemsets, ["freq", "items"]),
            "fp_rules": (self.rules, ["consequent", "antecedent"]),
            "als_user": (self.als_all, ["user_id", "rec_rank"]),
            "popularity": (self.ranking, ["rec_rank"]),
        }

    def version_tables(self) -> dict[str, tuple[DataFrame, list[str]]]:
        """The version's tables by :data:`VERSION_TABLES` name, with each one's sort order."""
        from operator import attrgetter

        return {name: (attrgetter(attr)(self), order) for name, (attr, order) in VERSION_TABLES.items()}

    def release(self) -> None:
        for df in (self.neighbours, self.itemsets, self.rules, self.als_all, self.ranking, self.als.users,
                   self.als.items):  # fmt: skip
            df.unpersist()


#: the version's tables, written by Spark as Parquet folders beside the ALS model (``<name>.parquet``), and read
#: back by :func:`score_version`: name → (the :class:`Fitted` frame, sort order)
VERSION_TABLES = {
    "item_item_neighbours": ("neighbours", ["product_id", "rec_rank"]),
    "fp_rules": ("rules", ["consequent", "antecedent"]),
    "fp_itemsets": ("itemsets", ["freq", "items"]),
    "popularity": ("ranking", ["rec_rank"]),
    "als_users": ("als.users", ["user"]),
    "als_items": ("als.items", ["item"]),
}


def fit_and_evaluate(split: Split, cfg: RecsJobConfig) -> Fitted:
    """The four recommenders on ``split``'s training pairs, each scored on its held-out users (Precision, Recall,
    NDCG@k, hit rate, coverage) as it is fitted."""
    from shoplake.ml import recommend_spark as rs

    users, k = split.test_users, cfg.k
    per_model: dict[str, dict[str, float]] = {}
    timings: dict[str, float] = {}
    # (steps, not rows: each is a Spark job whose tasks report their own progress in the Spark UI)
    progress = Progress(len(MODELS), "recommenders fitted and evaluated", log, every_s=0)

    def evaluate(name: str, recs: DataFrame, t: float) -> None:
        per_model[name] = rs.ranking_metrics(recs, split.test, k, split.catalogue)
        timings[f"{name}_s"] = time.monotonic() - t
        progress.update(1)

    t = time.monotonic()
    neighbours = rs.item_item_neighbours(split.pairs, cfg.neighbours).cache()
    evaluate("item_item_cf", rs.recommend_item_item(neighbours, split.pairs, users, k), t)
    t = time.monotonic()
    itemsets, rules, n_sessions = fit_fp_growth(split.sessions, cfg)
    itemsets, rules = itemsets.cache(), rules.cache()
    evaluate("fp_growth", rs.recommend_rules(rules, split.pairs, users, k), t)
    t = time.monotonic()
    tuned, tuning = tune_als(split, cfg)
    timings["als_tuning_s"] = time.monotonic() - t
    t = time.monotonic()
    als = fit_als(split.pairs, tuned)
    # every training user's top-k (the enriched table); the held-out users' are among them: one pass, not two
    als_all = rs.als_recommend(als.model, als.users, als.items, split.pairs, k).cache()
    evaluate("als", als_all, t)
    t = time.monotonic()
    ranking = rs.popularity(split.pairs).cache()
    evaluate("popularity", rs.recommend_popular(ranking, split.pairs, users, k), t)
    return Fitted(neighbours, itemsets, rules, n_sessions, als, als_all, ranking, per_model, timings, tuning)


def comparison(fitted: Fitted, split: Split, k: int, partitions: int) -> dict[str, Any]:
    """The version's ``metrics.json``: each recommender's metrics, the best by NDCG@k, the matrix and the split."""
    ndcg, per_model = f"ndcg_at_{k}", fitted.per_model
    best = max(MODELS, key=lambda m: (per_model[m][ndcg], -MODELS.index(m)))
    n_users, n_items, nnz = split.events["users"], split.events["items"], split.events["train_pairs"]
    return {
        **per_model,
        "best_model": best,
        "gate_metric": ndcg,
        "k": k,
        "protocol": "leave-last-out by first interaction time; one held-out product per user with >= 2 products",
        "matrix": {"users": n_users, "items": n_items, "nnz": nnz, "density": nnz / max(n_users * n_items, 1)},
        "split": split.events,
        # a held-out product no training user touched cannot be recommended by any collaborative model
        "hit_rate_ceiling": 1 - split.events["held_out_unseen_in_training"] / max(split.events["test_users"], 1),
        "sessions": fitted.sessions,
        "fp_growth_rules": fitted.rules.count(),
        "fp_growth_itemsets": fitted.itemsets.count(),
        "timings": fitted.timings,
        "als_tuning": fitted.als_tuning,
        "window_partitions": partitions,
        "engine": "spark (recommend_spark): split, similarities, recommendations and metrics as DataFrames",
    }


def train_recommenders(spark: SparkSession, cfg: RecsJobConfig) -> dict[str, Any]:
    """Split, fit the four recommenders, evaluate, write the enriched partitions and the model version, gate.

    Every table stays in Spark (:mod:`shoplake.ml.recommend_spark`): what the driver holds is the counts, one row
    of metric sums per recommender and the small files of the version (metrics, comparison, plot).
    """
    import tempfile
    from pathlib import Path

    started = time.monotonic()
    events, paths = read_window(spark, cfg.lake_root, cfg.ds, cfg.window_days)
    split = split_events(events, cfg.weights)
    log.info("recommenders %s: split %s", cfg.ds, split.events)
    reason = too_few_test_users(split.events["test_users"], cfg.min_test_users)
    if reason:
        raise ValueError(f"{EVENTS} window ending {cfg.ds}: {reason}")
    fitted = fit_and_evaluate(split, cfg)
    metrics = comparison(fitted, split, cfg.k, len(paths))
    written = _write_enriched(cfg, fitted.enriched(cfg.k))
    with tempfile.TemporaryDirectory() as tmp:
        local = Path(tmp) / "artifacts"
        local.mkdir()
        staged = _stage_version(cfg, local, metrics, fitted)
        published = _publish(spark, cfg, local, staged, metrics, split)
    fitted.release()
    split.release()
    log.info("recommenders %s on %s held-out users: %s", cfg.ds, split.events["test_users"],
             json.dumps(fitted.per_model))  # fmt: skip
    best, ndcg = metrics["best_model"], metrics["gate_metric"]
    return {
        "ds": cfg.ds,
        "rows": int(split.events["train_pairs"]),
        "best_model": best,
        ndcg: fitted.per_model[best][ndcg],
        "test_users": split.events["test_users"],
        "partitions": written,
        "seconds": round(time.monotonic() - started, 1),
        **published,
    }


def _sorted(df: DataFrame, order: list[str]) -> DataFrame:
    """One partition in ``order`` (a rerun writes identical files); the sort runs on an executor, not the driver."""
    return df.repartition(1).sortWithinPartitions(*order)


def _write_enriched(cfg: RecsJobConfig, tables: dict[str, tuple[DataFrame, list[str]]]) -> dict[str, int]:
    from shoplake.io.spark_lake import stage_partition

    written = {}
    for key, (df, order) in tables.items():
        dataset = RECS_DATASETS[key]
        staged = stage_partition(_sorted(df, order), partition_path(cfg.lake_root, Zone.ENRICHED, dataset, cfg.ds))
        written[dataset] = staged.commit({"rows": staged.rows})
    return written


def _stage_version(cfg: RecsJobConfig, local: Path, metrics: dict[str, Any], fitted: Fitted) -> str:
    """The version's comparison (``local``) and its tables and ALS model (a staging folder of the lake, returned):
    Spark writes them straight into the staging folder, or into local scratch uploaded after when it has no
    filesystem for the lake's scheme. :func:`_publish` commits both as ``version=<ds>``."""
    import shutil
    import tempfile

    import pandas as pd

    from shoplake.io.lake import filesystem
    from shoplake.io.spark_lake import spark_uri
    from shoplake.ml.plots import plot_ranking_comparison

    rows = [{"model": m, **{k: v for k, v in metrics[m].items()}, "best": m == metrics["best_model"]} for m in MODELS]
    pd.DataFrame(rows).to_csv(local / "comparison.csv", index=False)
    plot_ranking_comparison(
        local / "comparison.png", rows, cfg.k, f"clickstream recommenders, held-out users ({cfg.ds})"
    )
    staged = staging_path(cfg.lake_root, RECOMMENDER_MODEL, cfg.ds)
    fs, staged_fs = filesystem(staged)
    direct = spark_uri(fitted.neighbours.sparkSession, staged)
    target = direct if direct is not None else tempfile.mkdtemp(prefix="shoplake-recs-version-")
    try:
        fitted.als.model.write().overwrite().save(f"{target}/als")
        for name, (df, order) in fitted.version_tables().items():
            _sorted(df, order).write.mode("overwrite").parquet(f"{target}/{name}.parquet")
        if direct is None:
            fs.put(f"{target}/", f"{staged_fs}/", recursive=True)
    except BaseException:
        if fs.exists(staged_fs):
            fs.rm(staged_fs, recursive=True)
        raise
    finally:
        if direct is None:
            shutil.rmtree(target, ignore_errors=True)
    return staged


def score_version(spark: SparkSession, version: str, best: str, split: Split, k: int) -> float:
    """NDCG@k of a stored version's ``best`` recommender on this split's held-out users, in Spark (products the
    version never saw, or this window's training never holds, cannot be recommended by it).

    Versions written before the tables were Spark folders hold single Parquet files of the same names (read the
    same way); their ALS users / items lists have no index column, so an ALS champion that old is not
    re-scorable (the gate then uses its recorded score)."""
    from pyspark.ml.recommendation import ALSModel
    from pyspark.sql import functions as F

    from shoplake.ml import recommend_spark as rs

    def table(name: str) -> DataFrame:
        if name not in VERSION_TABLES:
            raise KeyError(f"{name!r} is not a version table ({', '.join(VERSION_TABLES)})")
        return spark.read.parquet(f"{version}/{name}.parquet")

    users = split.test_users
    known = split.pairs.select("product_id").distinct()
    if best == "popularity":
        from pyspark.sql import Window

        kept = table("popularity").join(known, "product_id", "left_semi")
        ranking = kept.withColumn("rec_rank", F.row_number().over(Window.orderBy("rec_rank")))
        recs = rs.recommend_popular(ranking, split.pairs, users, k)
    elif best == "item_item_cf":
        nb = table("item_item_neighbours").join(known, "product_id", "left_semi")
        nb = nb.join(known.withColumnRenamed("product_id", "rec_product_id"), "rec_product_id", "left_semi")
        recs = rs.recommend_item_item(nb, split.pairs, users, k)
    elif best == "fp_growth":
        recs = rs.recommend_rules(table("fp_rules"), split.pairs, users, k)
    else:
        model = ALSModel.load(f"{version}/als")
        old_users, old_items = table("als_users"), table("als_items")
        if "user" not in old_users.columns:
            raise ValueError(f"{version}: ALS users saved without their index (a version before Spark tables)")
        # this window's training pairs of products the old model knows: its seen products
        seen = split.pairs.join(old_items, "product_id", "left_semi")
        raw = rs.als_recommend(model, old_users, old_items, seen, k, users=users)
        from pyspark.sql import Window

        kept = raw.join(known.withColumnRenamed("product_id", "rec_product_id"), "rec_product_id", "left_semi")
        recs = kept.withColumn("rec_rank", F.row_number().over(Window.partitionBy("user_id").orderBy("rec_rank")))
    return rs.ranking_metrics(recs, split.test, k, split.catalogue)[f"ndcg_at_{k}"]


def _publish(
    spark: SparkSession, cfg: RecsJobConfig, local: Path, staged: str, metrics: dict[str, Any], split: Split
) -> dict[str, Any]:
    """Commit the version, gated on NDCG@k against the popularity ranking and the champion's own best recommender
    re-scored on these held-out users; tracked with the ALS factors as the registered model."""
    from shoplake.ml.publishing import Gate, Tracking, publish_model_version

    ndcg, best = f"ndcg_at_{cfg.k}", metrics["best_model"]

    def champion(pointer: dict[str, Any]) -> float | None:
        return score_version(spark, pointer["path"], pointer.get("model", ""), split, cfg.k)

    per_model = {f"{m}_{k}": v for m in MODELS for k, v in metrics[m].items()}
    return publish_model_version(
        lake_root=cfg.lake_root, name=RECOMMENDER_MODEL, ds=cfg.ds, metrics=metrics, config=cfg, local_dir=local,
        staged=staged, pointer={"model": best, "k": cfg.k},
        gate=Gate(ndcg, metrics[best][ndcg], baselines={"popularity": metrics["popularity"][ndcg]},
                  champion_score=champion),
        tracking=Tracking(
            cfg.mlflow_uri, params={**asdict(cfg), "best_model": best}, model_subdir="als",
            metrics={**per_model, **{key: metrics[key] for key in ("matrix", "timings", "split")}},
            tags={"best_model": best, "registered": "ALS factors (als/); the other recommenders are tables"},
        ),
    )  # fmt: skip
