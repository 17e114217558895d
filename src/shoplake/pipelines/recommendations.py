"""The recommendations pipeline on the curated clickstream: item-item CF, FP-Growth, ALS and a popularity baseline.

1. :func:`train` (Spark) — the ``window_days`` curated ``clickstream_events`` partitions ending at ``ds`` (curated
   once, by the clickstream churn DAG's ``curate_events``); leave-last-out split by time; the four recommenders;
   Precision/Recall/NDCG@k, hit rate and coverage on the held-out users → enriched partitions
   (``recs_item_item``, ``recs_fp_itemsets``, ``recs_fp_rules``, ``recs_als_user``, ``recs_popularity``) and
   ``model/recommender/version=<ds>/``; ``current.json`` moves last, only if the version's best NDCG@k
   is not below the champion's re-scored on the same held-out users.
2. :func:`check` (no Spark) — the quality checks of the written partitions.

**Evaluation protocol** (docs/recommendations.md). Per user, distinct products are ordered by the user's first
interaction with them; a user with at least two has the most recent one held out (every interaction with it leaves
the training data), the rest train. Each recommender proposes ``k`` products the user has not interacted with in
training; the held-out product is the one relevant item. Users with a single product only train.
"""

from __future__ import annotations

import json
import logging
import time
from dataclasses import asdict, dataclass
from typing import TYPE_CHECKING, Any

from shoplake.jobconfig import PartitionJob, option
from shoplake.ml.recommend import DEFAULT_WEIGHTS, MODELS, parse_weights
from shoplake.paths import (
    RECOMMENDER_MODEL,
    RECS_DATASETS,
    Zone,
    churn_names,
    partition_path,
    staging_path,
    window_partitions,
)

if TYPE_CHECKING:
    from pyspark.sql import DataFrame, SparkSession

log = logging.getLogger(__name__)

EVENTS = churn_names("clickstream").events
#: extra ALS candidates per user, at most, to make up for the products a user has already seen
ALS_SEEN_CAP = 200


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
        DEFAULT_WEIGHTS, help="implicit weight of each event type in the user × product matrix, type=weight,…"
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
    """The leave-last-out split in index space (driver-side; sizes proportional to users + non-zeros)."""

    users: list[str]  # index → user_id
    items: list[int]  # index → product_id
    train: Any  # pandas: user_idx, item_idx, weight (summed per pair, > 0)
    history: dict[int, dict[int, float]]  # user_idx → {item_idx: weight} of training
    held_out: dict[int, set[int]]  # test user_idx → {item_idx}
    sessions: Any  # Spark DataFrame: user_session, items (array<long> of product ids) — training events only
    events: dict[str, int]


def split_events(events: DataFrame, weights: dict[str, float]) -> Split:
    """Leave-last-out by time (module docstring), weights applied, users and products indexed (sorted ids)."""
    from pyspark.sql import Window
    from pyspark.sql import functions as F

    weight = F.create_map(*[x for name, w in weights.items() for x in (F.lit(name), F.lit(float(w)))])
    ev = events.where(F.col("event_type").isin(*weights)).withColumn("w", weight[F.col("event_type")])
    firsts = ev.groupBy("user_id", "product_id").agg(F.min("event_time").alias("first"))
    order = Window.partitionBy("user_id").orderBy(F.col("first").desc(), F.col("product_id").desc())
    ranked = firsts.withColumn("r", F.row_number().over(order)).withColumn(
        "n", F.count(F.lit(1)).over(Window.partitionBy("user_id"))
    )
    test = ranked.where("n >= 2 AND r = 1").select("user_id", "product_id")
    train_ev = ev.join(test.withColumn("_t", F.lit(1)), ["user_id", "product_id"], "left").where("_t IS NULL")
    pairs = train_ev.groupBy("user_id", "product_id").agg(F.sum("w").alias("weight")).where("weight > 0")
    pdf = pairs.toPandas()
    test_pdf = test.toPandas()
    users = sorted(set(pdf["user_id"]))
    items = sorted(int(p) for p in set(pdf["product_id"]))
    u_idx = {u: i for i, u in enumerate(users)}
    i_idx = {p: i for i, p in enumerate(items)}
    pdf["user_idx"] = pdf["user_id"].map(u_idx)
    pdf["item_idx"] = pdf["product_id"].map(i_idx)
    history: dict[int, dict[int, float]] = {}
    for u, i, w in zip(pdf["user_idx"], pdf["item_idx"], pdf["weight"], strict=True):
        history.setdefault(int(u), {})[int(i)] = float(w)
    held_out: dict[int, set[int]] = {}
    unknown_items = 0
    for user, product in zip(test_pdf["user_id"], test_pdf["product_id"], strict=True):
        if user not in u_idx:  # every training interaction had weight 0: nothing to recommend from
            continue
        if int(product) not in i_idx:  # the held-out product never appears in training: no model can find it
            unknown_items += 1
        held_out[u_idx[user]] = {i_idx.get(int(product), -1)}
    sessions = (
        train_ev.where(F.col("user_session").isNotNull())
        .groupBy("user_session")
        .agg(F.array_sort(F.collect_set("product_id")).alias("items"))
    )
    counts = {
        "events": int(ev.count()),
        "train_pairs": len(pdf),
        "test_users": len(held_out),
        "held_out_unseen_in_training": unknown_items,
    }
    return Split(users, items, pdf[["user_idx", "item_idx", "weight"]], history, held_out, sessions, counts)


# ---- the recommenders --------------------------------------------------------------------------------------------


def fit_fp_growth(sessions: DataFrame, cfg: RecsJobConfig) -> tuple[DataFrame, DataFrame, int]:
    """FP-Growth on the items of each training session: ``(itemsets, rules, sessions)``; rules carry support,
    confidence and lift as Spark computes them."""
    from pyspark.ml.fpm import FPGrowth

    n_sessions = sessions.count()
    model = FPGrowth(itemsCol="items", minSupport=cfg.min_support, minConfidence=cfg.min_confidence).fit(sessions)
    itemsets = model.freqItemsets.selectExpr("items", "freq", f"freq / {max(n_sessions, 1)} AS support")
    rules = model.associationRules.select("antecedent", "consequent", "confidence", "lift", "support")
    return itemsets, rules, n_sessions


def fit_als(spark: SparkSession, split: Split, cfg: RecsJobConfig):
    """Implicit-preference ALS on the training weights (index space)."""
    from pyspark.ml.recommendation import ALS

    ratings = spark.createDataFrame(split.train.rename(columns={"user_idx": "user", "item_idx": "item"}))
    als = ALS(
        userCol="user", itemCol="item", ratingCol="weight", implicitPrefs=True, rank=cfg.als_rank,
        regParam=cfg.als_reg, alpha=cfg.als_alpha, maxIter=cfg.als_max_iter, seed=cfg.seed,
        coldStartStrategy="drop", nonnegative=False,
    )  # fmt: skip
    return als.fit(ratings)


def als_top_n(spark: SparkSession, model: Any, history: dict[int, dict[int, float]], users: list[int], k: int):
    """Top-``k`` unseen items for ``users`` from an ALS model: ``{user: [(item, score), …]}``.

    ALS ranks seen items too, so each user gets ``k`` + (the most products any of them has seen, capped at
    :data:`ALS_SEEN_CAP`) candidates before the seen ones are dropped; a user who has seen more than the cap may get
    fewer than ``k``.
    """
    if not users:
        return {}
    seen_max = min(max((len(history.get(u, {})) for u in users), default=0), ALS_SEEN_CAP)
    subset = spark.createDataFrame([(int(u),) for u in users], "user int")
    rows = model.recommendForUserSubset(subset, k + seen_max).collect()
    out: dict[int, list[tuple[int, float]]] = {}
    for row in rows:
        seen = history.get(row["user"], {})
        recs = [(int(r["item"]), float(r["rating"])) for r in row["recommendations"] if int(r["item"]) not in seen]
        out[int(row["user"])] = recs[:k]
    return out


def _rules_in_index_space(rules_pdf: Any, i_idx: dict[int, int]) -> list[tuple[frozenset[int], int, float, float]]:
    out = []
    for ante, cons, conf, lift in zip(
        rules_pdf["antecedent"], rules_pdf["consequent"], rules_pdf["confidence"], rules_pdf["lift"], strict=True
    ):
        c = cons[0] if hasattr(cons, "__len__") else cons
        if int(c) in i_idx and all(int(a) in i_idx for a in ante):
            out.append((frozenset(i_idx[int(a)] for a in ante), i_idx[int(c)], float(conf), float(lift)))
    return out


#: rows per record batch when check_window streams the window's user and product columns
CHECK_BATCH_ROWS = 65_536


def check_window(lake_root: str, ds: str, window_days: int, min_test_users: int) -> dict[str, Any]:
    """Whether the window can train and compare recommenders (no Spark, on the Airflow worker): curated partitions
    exist and at least ``min_test_users`` users have two or more products to hold one out.

    Bounded: the window's ``user_id`` / ``product_id`` columns are streamed newest day first in record batches and
    the scan stops as soon as ``min_test_users`` such users are found, so memory is one batch plus one entry per user
    seen with a single product so far (at most the window's users, only when the window is not trainable), and a
    trainable month of events reads a small part of it. ``test_users`` is then a lower bound
    (``test_users_exact`` says which).

    Returns:
        ``{"ds", "partitions", "missing_days", "events" (rows read), "trainable", "reason", "test_users",
        "test_users_exact"}``.
    """
    import pyarrow as pa

    from shoplake.io.lake import existing_partitions, iter_partition_batches

    paths, missing = existing_partitions(window_partitions(lake_root, Zone.CURATED, EVENTS, ds, window_days))
    out: dict[str, Any] = {"ds": ds, "partitions": len(paths), "missing_days": len(missing), "events": 0}
    if not paths:
        reason = (
            f"no curated {EVENTS} partition in the {window_days} days ending {ds} (clickstream_churn_daily's "
            "curate_events writes them)"
        )
        return {**out, "trainable": False, "reason": reason, "test_users": 0, "test_users_exact": True}
    first: dict[Any, Any] = {}  # user → the one product seen so far (users with two or more leave it)
    test_users = 0
    for path in reversed(paths):  # newest day first: the window's end is what training holds out
        for batch in iter_partition_batches(path, ["user_id", "product_id"], CHECK_BATCH_ROWS):
            out["events"] += batch.num_rows
            pairs = pa.Table.from_batches([batch]).group_by(["user_id", "product_id"]).aggregate([])
            for user, product in zip(pairs["user_id"].to_pylist(), pairs["product_id"].to_pylist(), strict=True):
                seen = first.get(user, product)
                if seen is None:  # already counted
                    continue
                if seen != product:
                    first[user] = None
                    test_users += 1
                else:
                    first[user] = product
            if test_users >= min_test_users:
                log.info("window ending %s: %s users with two or more products after %s rows (enough: stopped)",
                         ds, test_users, out["events"])  # fmt: skip
                return {**out, "trainable": True, "reason": "", "test_users": test_users, "test_users_exact": False}
    reason = too_few_test_users(test_users, min_test_users)
    return {**out, "trainable": not reason, "reason": reason, "test_users": test_users, "test_users_exact": True}


# ---- the job -----------------------------------------------------------------------------------------------------


def too_few_test_users(test_users: int, min_test_users: int) -> str:
    """Why a window cannot train and compare recommenders (``""`` when it can)."""
    if test_users < min_test_users:
        return (
            f"{test_users} users with two or more products to hold one out; comparing recommenders needs >= "
            f"{min_test_users} (widen window_days or lower min_test_users)"
        )
    return ""


def train(spark: SparkSession, cfg: RecsJobConfig) -> dict[str, Any]:
    """Split, fit the four recommenders, evaluate, write the enriched partitions and the model version, gate."""
    import tempfile
    from pathlib import Path

    import pandas as pd

    from shoplake.ml import recommend as rec

    started = time.monotonic()
    events, paths = read_window(spark, cfg.lake_root, cfg.ds, cfg.window_days)
    split = split_events(events, cfg.weights)
    reason = too_few_test_users(split.events["test_users"], cfg.min_test_users)
    if reason:
        raise ValueError(f"{EVENTS} window ending {cfg.ds}: {reason}")
    n_users, n_items = len(split.users), len(split.items)
    test_users = sorted(split.held_out)
    timings: dict[str, float] = {}

    t = time.monotonic()
    x = rec.interaction_matrix(
        split.train["user_idx"], split.train["item_idx"], split.train["weight"], (n_users, n_items)
    )
    nb = rec.item_item_neighbours(x, cfg.neighbours)
    recs = {"item_item_cf": rec.recommend_item_item(nb, split.history, test_users, cfg.k)}
    timings["item_item_cf_s"] = time.monotonic() - t

    t = time.monotonic()
    itemsets, rules, n_sessions = fit_fp_growth(split.sessions, cfg)
    itemsets_pdf, rules_pdf = itemsets.toPandas(), rules.toPandas()
    i_idx = {p: i for i, p in enumerate(split.items)}
    recs["fp_growth"] = rec.recommend_rules(_rules_in_index_space(rules_pdf, i_idx), split.history, test_users, cfg.k)
    timings["fp_growth_s"] = time.monotonic() - t

    t = time.monotonic()
    als_model = fit_als(spark, split, cfg)
    # every training user's top-k (the enriched table); the held-out users' are among them: one pass, not two
    als_all = als_top_n(spark, als_model, split.history, list(range(n_users)), cfg.k)
    recs["als"] = {u: [i for i, _ in als_all.get(u, [])] for u in test_users}
    timings["als_s"] = time.monotonic() - t

    ranking = rec.popularity_ranking(zip(split.train["user_idx"], split.train["item_idx"], strict=True))
    recs["popularity"] = rec.recommend_popular(ranking, split.history, test_users, cfg.k)

    per_model = {name: rec.ranking_metrics(recs[name], split.held_out, cfg.k, n_items) for name in MODELS}
    ndcg = f"ndcg_at_{cfg.k}"
    best = max(MODELS, key=lambda m: (per_model[m][ndcg], -MODELS.index(m)))
    matrix = {k: v for k, v in nb.stats.items() if k != "seconds"}
    metrics = {
        **per_model,
        "best_model": best,
        "gate_metric": ndcg,
        "k": cfg.k,
        "protocol": "leave-last-out by first interaction time; one held-out product per user with >= 2 products",
        "matrix": matrix,
        "split": split.events,
        # a held-out product no training user touched cannot be recommended by any collaborative model
        "hit_rate_ceiling": 1 - split.events["held_out_unseen_in_training"] / max(split.events["test_users"], 1),
        "sessions": n_sessions,
        "fp_growth_rules": len(rules_pdf),
        "fp_growth_itemsets": len(itemsets_pdf),
        "timings": timings,
        "window_partitions": len(paths),
    }

    # enriched partitions (product ids, not indexes)
    products = pd.Series(split.items)
    item_table = pd.DataFrame(
        {
            "product_id": products.iloc[nb.item].to_numpy(),
            "rec_rank": nb.rank,
            "rec_product_id": products.iloc[nb.neighbour].to_numpy(),
            "score": nb.score,
        }
    )
    per_product = item_table[item_table["rec_rank"] <= cfg.k]
    users = pd.Series(split.users)
    als_rows = [
        (users.iloc[u], r + 1, split.items[i], s) for u, lst in sorted(als_all.items()) for r, (i, s) in enumerate(lst)
    ]
    als_table = pd.DataFrame(als_rows, columns=["user_id", "rec_rank", "rec_product_id", "score"])
    pop_counts = split.train.groupby("item_idx")["user_idx"].nunique()
    pop_table = pd.DataFrame(
        {
            "rec_rank": range(1, len(ranking) + 1),
            "product_id": [split.items[i] for i in ranking],
            "users": [int(pop_counts[i]) for i in ranking],
        }
    )
    rules_table = rules_pdf.assign(consequent=[int(c[0]) for c in rules_pdf["consequent"]])
    written = _write_enriched(
        cfg,
        {
            "item_item": (per_product, ["product_id", "rec_rank"]),
            "fp_itemsets": (itemsets_pdf, ["freq"]),
            "fp_rules": (rules_table, ["consequent"]),
            "als_user": (als_table, ["user_id", "rec_rank"]),
            "popularity": (pop_table, ["rec_rank"]),
        },
    )

    with tempfile.TemporaryDirectory() as tmp:
        local = Path(tmp) / "artifacts"
        local.mkdir()
        version = _write_version(
            spark, cfg, local, metrics, item_table, rules_table, itemsets_pdf, pop_table, als_model, split
        )
        gate = _gate(spark, cfg, best, per_model[best][ndcg], split, test_users)
        tracked = _track(cfg, local, metrics, version)
    if gate["promoted"] and tracked:
        from shoplake.ml.tracking import set_champion

        set_champion(tracked["tracking_uri"], RECOMMENDER_MODEL, tracked["model_version"])
    log.info("recommenders %s on %s held-out users: %s", cfg.ds, len(test_users), json.dumps(per_model))
    return {
        "ds": cfg.ds,
        "path": version,
        "rows": int(split.events["train_pairs"]),
        "best_model": best,
        ndcg: per_model[best][ndcg],
        "test_users": len(test_users),
        "promoted": gate["promoted"],
        "champion_score": gate["champion_score"],
        "partitions": written,
        "seconds": round(time.monotonic() - started, 1),
        **{f"mlflow_{k}": v for k, v in tracked.items() if k != "tracking_uri"},
    }


def _write_enriched(cfg: RecsJobConfig, tables: dict[str, tuple[Any, list[str]]]) -> dict[str, int]:
    import pyarrow as pa

    from shoplake.io.lake import write_partition

    written = {}
    for key, (pdf, order) in tables.items():
        dataset = RECS_DATASETS[key]
        table = pa.Table.from_pandas(pdf.sort_values(order, kind="stable").reset_index(drop=True), preserve_index=False)
        out = write_partition(
            table, partition_path(cfg.lake_root, Zone.ENRICHED, dataset, cfg.ds), counts={"rows": table.num_rows}
        )
        written[dataset] = out.rows
    return written


def _write_version(
    spark, cfg, local, metrics, item_table, rules_table, itemsets_pdf, pop_table, als_model, split
) -> str:
    """Stage the version (small files + the ALS model) and commit it as ``version=<ds>``; returns its files' path."""
    import pandas as pd

    from shoplake.io.lake import filesystem
    from shoplake.ml.plots import plot_ranking_comparison
    from shoplake.ml.registry import commit_version

    (local / "metrics.json").write_text(json.dumps(metrics, indent=2, sort_keys=True, default=str))
    (local / "config.json.snapshot").write_text(json.dumps(asdict(cfg), indent=2, sort_keys=True))
    rows = [{"model": m, **{k: v for k, v in metrics[m].items()}, "best": m == metrics["best_model"]} for m in MODELS]
    pd.DataFrame(rows).to_csv(local / "comparison.csv", index=False)
    plot_ranking_comparison(
        local / "comparison.png", rows, cfg.k, f"clickstream recommenders, held-out users ({cfg.ds})"
    )
    tables = local.parent / "tables"  # the version's tables: in the lake, not copied into MLflow
    tables.mkdir()
    item_table.to_parquet(tables / "item_item_neighbours.parquet", index=False)
    rules_table.to_parquet(tables / "fp_rules.parquet", index=False)
    itemsets_pdf.to_parquet(tables / "fp_itemsets.parquet", index=False)
    pop_table.to_parquet(tables / "popularity.parquet", index=False)
    pd.DataFrame({"user_id": split.users}).to_parquet(tables / "als_users.parquet", index=False)
    pd.DataFrame({"product_id": split.items}).to_parquet(tables / "als_items.parquet", index=False)
    staged = staging_path(cfg.lake_root, RECOMMENDER_MODEL, cfg.ds)
    fs, staged_fs = filesystem(staged)
    try:
        als_model.write().overwrite().save(f"{staged}/als")
        for f in [*local.iterdir(), *tables.iterdir()]:
            fs.put_file(str(f), f"{staged_fs}/{f.name}")
        return commit_version(staged, cfg.lake_root, RECOMMENDER_MODEL, cfg.ds)
    finally:
        if fs.exists(staged_fs):
            fs.rm(staged_fs, recursive=True)


def score_version(spark, version: str, best: str, split: Split, users: list[int], k: int) -> float:
    """NDCG@k of a stored version's ``best`` recommender on this split's held-out ``users`` (product ids mapped
    into this split's index; products the version never saw cannot be recommended by it)."""
    import pandas as pd

    from shoplake.ml import recommend as rec

    i_idx = {p: i for i, p in enumerate(split.items)}
    if best == "popularity":
        pop = pd.read_parquet(f"{version}/popularity.parquet")
        ranking = [i_idx[p] for p in pop["product_id"] if p in i_idx]
        recs = rec.recommend_popular(ranking, split.history, users, k)
    elif best == "item_item_cf":
        t = pd.read_parquet(f"{version}/item_item_neighbours.parquet")
        t = t[t["product_id"].isin(i_idx) & t["rec_product_id"].isin(i_idx)]
        nb = rec.Neighbours(
            t["product_id"].map(i_idx).to_numpy(), t["rec_rank"].to_numpy(), t["rec_product_id"].map(i_idx).to_numpy(),
            t["score"].to_numpy(), {},
        )  # fmt: skip
        recs = rec.recommend_item_item(nb, split.history, users, k)
    elif best == "fp_growth":
        rules = pd.read_parquet(f"{version}/fp_rules.parquet")
        rules = rules.assign(consequent=[[c] for c in rules["consequent"]])
        recs = rec.recommend_rules(_rules_in_index_space(rules, i_idx), split.history, users, k)
    else:
        from pyspark.ml.recommendation import ALSModel

        model = ALSModel.load(f"{version}/als")
        old_users = pd.read_parquet(f"{version}/als_users.parquet")["user_id"].tolist()
        old_items = pd.read_parquet(f"{version}/als_items.parquet")["product_id"].tolist()
        old_u = {u: i for i, u in enumerate(old_users)}
        old_i = {int(p): i for i, p in enumerate(old_items)}
        # the old model's item indexes → this split's; its user indexes ← this split's users
        to_new = {i: i_idx.get(int(p), -1) for i, p in enumerate(old_items)}
        known = [u for u in users if split.users[u] in old_u]
        new_of_old = {old_u[split.users[u]]: u for u in known}
        hist_old = {
            old_u[split.users[u]]: {
                old_i[split.items[j]]: 1.0 for j in split.history.get(u, {}) if split.items[j] in old_i
            }
            for u in known
        }
        raw = als_top_n(spark, model, hist_old, [old_u[split.users[u]] for u in known], k)
        recs = {new_of_old[o]: [to_new[i] for i, _ in lst if to_new[i] >= 0] for o, lst in raw.items()}
    return rec.ranking_metrics(recs, {u: split.held_out[u] for u in users}, k, len(split.items))[f"ndcg_at_{k}"]


def _gate(spark, cfg: RecsJobConfig, best: str, score: float, split: Split, users: list[int]) -> dict[str, Any]:
    """Move ``current.json`` unless the champion's own best recommender, re-scored on these held-out users, scores
    a higher NDCG@k."""
    from shoplake.ml.registry import promote_if_not_worse

    def champion(pointer: dict[str, Any]) -> float | None:
        try:
            return score_version(spark, pointer["path"], pointer.get("model", ""), split, users, cfg.k)
        except Exception as exc:  # an unreadable champion falls back to its recorded score
            log.warning("champion %s not scorable on this split (%s)", pointer.get("path"), exc)
            return None

    return promote_if_not_worse(
        cfg.lake_root, RECOMMENDER_MODEL, cfg.ds, metric=f"ndcg_at_{cfg.k}", score=score,
        champion_score=champion, extra={"model": best, "k": cfg.k},
    )  # fmt: skip


def _track(cfg: RecsJobConfig, local, metrics: dict[str, Any], version: str) -> dict[str, str]:
    from shoplake.ml.tracking import track_version

    per_model = {f"{m}_{k}": v for m in MODELS for k, v in metrics[m].items()}
    return track_version(
        cfg.mlflow_uri,
        cfg.lake_root,
        model_name=RECOMMENDER_MODEL,
        ds=cfg.ds,
        params={**asdict(cfg), "best_model": metrics["best_model"]},
        metrics={**per_model, "matrix": metrics["matrix"], "timings": metrics["timings"], "split": metrics["split"]},
        artifacts_dir=local,
        model_source=f"{version}/als",
        tags={
            "best_model": metrics["best_model"],
            "registered": "ALS factors (als/); the other recommenders are tables",
        },
    )


# ---- quality checks (no Spark) -----------------------------------------------------------------------------------


def check(lake_root: str, ds: str, *, k: int, window_days: int, sample: int = 500) -> dict[str, Any]:
    """Quality checks of a run's outputs; raises ``ValueError`` listing every failed check.

    * item-item: scores in [0, 1], no product recommends itself, ranks 1..n without gaps and n <= k per product;
    * FP-Growth: on a sample of rules, confidence = support(A∪B) / support(A) and lift = confidence / support(B)
      recomputed from the frequent itemsets (1e-9 tolerance);
    * ALS and item-item: every user and product comes from the curated window the model trained on;
    * the version's ``metrics.json`` holds P/R/NDCG@k for the four recommenders.
    """
    import pyarrow.compute as pc

    from shoplake.io.lake import existing_partitions, read_partition
    from shoplake.ml.registry import read_current, version_files

    problems: list[str] = []
    part = {key: partition_path(lake_root, Zone.ENRICHED, name, ds) for key, name in RECS_DATASETS.items()}
    _, missing = existing_partitions(list(part.values()))
    if missing:
        raise FileNotFoundError(f"recommendation partitions missing for ds={ds}: {missing}")

    items = read_partition(part["item_item"]).to_pandas()
    if len(items):
        if not items["score"].between(0.0, 1.0).all():
            problems.append("item-item scores outside [0, 1]")
        if (items["product_id"] == items["rec_product_id"]).any():
            problems.append("a product recommends itself")
        ranks = items.groupby("product_id")["rec_rank"].agg(["min", "max", "count"])
        if not ((ranks["min"] == 1) & (ranks["max"] == ranks["count"]) & (ranks["count"] <= k)).all():
            problems.append(f"item-item ranks are not 1..n with n <= k={k} per product")

    itemsets = read_partition(part["fp_itemsets"]).to_pandas()
    rules = read_partition(part["fp_rules"]).to_pandas()
    support = {
        tuple(sorted(int(i) for i in row)): float(s)
        for row, s in zip(itemsets["items"], itemsets["support"], strict=True)
    }
    checked_rules = 0
    for ante, cons, conf, lift in list(
        zip(rules["antecedent"], rules["consequent"], rules["confidence"], rules["lift"], strict=True)
    )[:sample]:
        a = tuple(sorted(int(i) for i in ante))
        both = tuple(sorted((*a, int(cons))))
        if a not in support or both not in support or (int(cons),) not in support:
            problems.append(f"rule {list(a)} → {int(cons)}: an itemset of it is not among the frequent itemsets")
            continue
        want_conf = support[both] / support[a]
        if abs(want_conf - conf) > 1e-9 or abs(want_conf / support[(int(cons),)] - lift) > 1e-9:
            problems.append(f"rule {list(a)} → {int(cons)}: confidence/lift differ from the itemsets' supports")
        checked_rules += 1

    events = [
        read_partition(p, ["user_id", "product_id"])
        for p in existing_partitions(window_partitions(lake_root, Zone.CURATED, EVENTS, ds, window_days))[0]
    ]
    window_users = set().union(*(set(pc.unique(t["user_id"]).to_pylist()) for t in events)) if events else set()
    window_products = set().union(*(set(pc.unique(t["product_id"]).to_pylist()) for t in events)) if events else set()
    als = read_partition(part["als_user"]).to_pandas()
    if not set(als["user_id"]) <= window_users:
        problems.append("ALS recommends to users outside the training window")
    for name, col in (("ALS", als["rec_product_id"]), ("item-item", items["rec_product_id"])):
        if not set(int(p) for p in col) <= window_products:
            problems.append(f"{name} recommends products outside the training window")

    current = read_current(lake_root, RECOMMENDER_MODEL)
    metrics_path = f"{version_files(lake_root, RECOMMENDER_MODEL, ds)}/metrics.json"
    from shoplake.io.lake import filesystem

    fs, mp = filesystem(metrics_path)
    metrics = json.loads(fs.cat(mp)) if fs.exists(mp) else {}
    for model in MODELS:
        keys = (f"precision_at_{k}", f"recall_at_{k}", f"ndcg_at_{k}")
        if not all(key in metrics.get(model, {}) for key in keys):
            problems.append(f"metrics.json lacks {', '.join(keys)} of {model}")
    if problems:
        raise ValueError(f"recommendations ds={ds} failed {len(problems)} check(s): " + "; ".join(problems[:10]))
    return {
        "ds": ds,
        "path": part["item_item"],
        "rows": len(items),
        "products": int(items["product_id"].nunique()) if len(items) else 0,
        "als_users": int(als["user_id"].nunique()) if len(als) else 0,
        "rules_checked": checked_rules,
        "current_version": current["version"] if current else None,
    }
