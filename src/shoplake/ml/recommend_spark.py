"""The recommenders and their ranking metrics in Spark: nothing whose size grows with users or events leaves it.

The same models and evaluation as the single-process reference in :mod:`shoplake.ml.recommend` (the tests run
both on random data and compare), written as DataFrame joins and window functions so they follow the data onto a
cluster. Inputs, in id space (no index is assigned except for ALS, which needs integers):

* ``pairs`` — ``user_id, product_id, weight``: a user's training interactions with a product, summed, weight > 0;
* ``users`` — ``user_id``: whom to recommend to (the held-out users).

Every recommender returns a long table ``user_id, rec_rank (1..k), rec_product_id, score``. What reaches the
driver: row counts, one row of metric sums per model, and the largest number of products a user has seen (ALS's
over-fetch) — all bounded, whatever the window's size.

Scores are rounded to 12 decimals before ranking: a float sum's last bits depend on how Spark partitioned the
rows, and rounding keeps equal similarities equal, so ties break by product id on every run and cluster size.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from pyspark.ml.recommendation import ALSModel
    from pyspark.sql import Column, DataFrame

#: decimals the similarity and candidate scores keep (see the module docstring)
SCORE_DECIMALS = 12
#: extra ALS candidates per user, at most, to make up for the products a user has already seen
ALS_SEEN_CAP = 200


def top_per_key(df: DataFrame, key: str, item: str, score: Column | str, n: int) -> DataFrame:
    """``df`` with ``rec_rank`` (1..n) added and only the top ``n`` rows of each ``key`` kept: ``score`` descending,
    then ``item`` ascending."""
    from pyspark.sql import Window
    from pyspark.sql import functions as F

    score = F.col(score) if isinstance(score, str) else score
    order = Window.partitionBy(key).orderBy(score.desc(), F.col(item).asc())
    return df.withColumn("rec_rank", F.row_number().over(order)).where(F.col("rec_rank") <= n)


def _history(pairs: DataFrame, users: DataFrame) -> DataFrame:
    """The training pairs of ``users`` only."""
    return pairs.join(users.select("user_id").distinct(), "user_id", "left_semi")


# ---- item-item CF ------------------------------------------------------------------------------------------------


def item_item_neighbours(pairs: DataFrame, neighbours: int) -> DataFrame:
    """Cosine top-``neighbours`` of every product: ``product_id, rec_rank, rec_product_id, score`` (score in [0, 1]).

    Each product's weights are L2-normalised over users; the similarity of two products is the sum, over the users
    who touched both, of the products of their normalised weights (a self-join on ``user_id``: Σ deg(u)² rows, the
    same work as a sparse ``Xᵀ X``, shuffled instead of held in one process). A product never neighbours itself;
    products sharing no user have no similarity (not listed).
    """
    from pyspark.sql import functions as F

    norms = pairs.groupBy("product_id").agg(F.sqrt(F.sum(F.col("weight") * F.col("weight"))).alias("norm"))
    unit = pairs.join(norms, "product_id").select("user_id", "product_id", (F.col("weight") / F.col("norm")).alias("v"))
    a = unit.select("user_id", F.col("product_id").alias("i"), F.col("v").alias("vi"))
    b = unit.select("user_id", F.col("product_id").alias("j"), F.col("v").alias("vj"))
    sims = (
        a.join(b, "user_id")
        .where(F.col("i") != F.col("j"))
        .groupBy("i", "j")
        .agg(F.round(F.sum(F.col("vi") * F.col("vj")), SCORE_DECIMALS).alias("raw"))
    )
    return top_per_key(sims, "i", "j", "raw", neighbours).select(
        F.col("i").alias("product_id"),
        "rec_rank",
        F.col("j").alias("rec_product_id"),
        F.least(F.greatest(F.col("raw"), F.lit(0.0)), F.lit(1.0)).alias("score"),
    )


def recommend_item_item(neighbours: DataFrame, pairs: DataFrame, users: DataFrame, k: int) -> DataFrame:
    """Top-``k`` unseen products per user: Σ over the user's products of weight × cosine to the candidate."""
    from pyspark.sql import functions as F

    hist = _history(pairs, users)
    seen = hist.select("user_id", F.col("product_id").alias("rec_product_id"))
    candidates = (
        hist.join(neighbours.select("product_id", "rec_product_id", F.col("score").alias("sim")), "product_id")
        .join(seen, ["user_id", "rec_product_id"], "left_anti")
        .groupBy("user_id", "rec_product_id")
        .agg(F.round(F.sum(F.col("weight") * F.col("sim")), SCORE_DECIMALS).alias("score"))
    )
    return top_per_key(candidates, "user_id", "rec_product_id", "score", k).select(
        "user_id", "rec_rank", "rec_product_id", "score"
    )


# ---- FP-Growth rules, popularity ---------------------------------------------------------------------------------


def recommend_rules(rules: DataFrame, pairs: DataFrame, users: DataFrame, k: int) -> DataFrame:
    """Top-``k`` consequents of the rules whose antecedent the user's products contain (confidence, then lift,
    then product id); ``score`` is the confidence.

    ``rules``: ``antecedent`` (array of product ids), ``consequent`` (a product id), ``confidence``, ``lift``.
    A rule fires for a user when every antecedent product is among the user's training products (counted by
    exploding the antecedent and joining the history: no rule id is needed). A consequent no training pair holds
    is never proposed. A user whose products fire no rule gets nothing from this model (a miss, not filled).
    """
    from pyspark.sql import functions as F

    hist = _history(pairs, users).select("user_id", "product_id")
    known = pairs.select(F.col("product_id").alias("consequent")).distinct()
    r = rules.select("antecedent", "consequent", "confidence", "lift").join(known, "consequent", "left_semi")
    exploded = r.select("*", F.size("antecedent").alias("n"), F.explode("antecedent").alias("product_id"))
    fired = (
        exploded.join(hist, "product_id")
        .groupBy("user_id", "antecedent", "consequent", "confidence", "lift", "n")
        .agg(F.count(F.lit(1)).alias("matched"))
        .where(F.col("matched") == F.col("n"))
    )
    seen = hist.select("user_id", F.col("product_id").alias("consequent"))
    best = (
        fired.join(seen, ["user_id", "consequent"], "left_anti")
        .groupBy("user_id", "consequent")
        .agg(F.max(F.struct("confidence", "lift")).alias("b"))
    )
    from pyspark.sql import Window

    order = Window.partitionBy("user_id").orderBy(
        F.col("b.confidence").desc(), F.col("b.lift").desc(), F.col("consequent").asc()
    )
    return (
        best.withColumn("rec_rank", F.row_number().over(order))
        .where(F.col("rec_rank") <= k)
        .select(
            "user_id", "rec_rank", F.col("consequent").alias("rec_product_id"), F.col("b.confidence").alias("score")
        )
    )


def popularity(pairs: DataFrame) -> DataFrame:
    """Products by distinct users, most first (ties: lower product id first): ``rec_rank, product_id, users``.

    One row per product of the window: the ranking is numbered in one partition, bounded by the catalogue.
    """
    from pyspark.sql import Window
    from pyspark.sql import functions as F

    counts = pairs.groupBy("product_id").agg(F.countDistinct("user_id").alias("users"))
    order = Window.orderBy(F.col("users").desc(), F.col("product_id").asc())
    return counts.select(F.row_number().over(order).alias("rec_rank"), "product_id", "users")


def recommend_popular(ranking: DataFrame, pairs: DataFrame, users: DataFrame, k: int) -> DataFrame:
    """The ``k`` most popular products each user has not interacted with; ``score`` = the product's users.

    Exact without a users × catalogue product: a user who has seen ``d`` products needs at most the top ``k + d``
    ranks, so only the ranks of the user's own products up to ``k + d`` are gathered (one array of at most ``d``
    per user), and the user's picks are the first ``k`` ranks of ``1..k + d`` not among them, joined back to the
    ranking for their product ids.
    """
    from pyspark.sql import functions as F

    hist = _history(pairs, users)
    seen_ranks = (
        hist.join(ranking.select("product_id", "rec_rank"), "product_id")
        .join(_degrees(pairs, users), "user_id")
        .where(F.col("rec_rank") <= F.col("d") + k)
        .groupBy("user_id")
        .agg(F.collect_list("rec_rank").alias("seen"))
    )
    who = users.select("user_id").distinct().join(seen_ranks, "user_id", "left")
    seen = F.coalesce(F.col("seen"), F.array().cast("array<int>"))
    picks = F.slice(F.array_except(F.sequence(F.lit(1), F.size(seen) + F.lit(k)), seen), 1, k)
    chosen = who.select("user_id", F.posexplode(picks).alias("pos", "rank"))
    return chosen.join(ranking.withColumnRenamed("rec_rank", "rank"), "rank").select(
        "user_id",
        (F.col("pos") + 1).cast("int").alias("rec_rank"),
        F.col("product_id").alias("rec_product_id"),
        F.col("users").cast("double").alias("score"),
    )


# ---- ALS ---------------------------------------------------------------------------------------------------------


def index_ids(df: DataFrame, column: str, index: str) -> DataFrame:
    """``column, index``: the distinct values of ``column`` numbered 0.. in sorted order (ALS needs int ids).

    ``zipWithIndex`` over a range-partitioned sort: distributed, and the same numbering a sorted list would give.
    """
    from pyspark.sql.types import IntegerType, StructField, StructType

    ids = df.select(column).distinct().orderBy(column)
    schema = StructType([ids.schema[column], StructField(index, IntegerType(), False)])
    return ids.rdd.zipWithIndex().map(lambda r: (r[0][0], int(r[1]))).toDF(schema)


def _degrees(pairs: DataFrame, users: DataFrame | None) -> DataFrame:
    """``user_id, d``: products each of ``users`` (default: every user) has seen in ``pairs``."""
    from pyspark.sql import functions as F

    hist = pairs if users is None else _history(pairs, users)
    return hist.groupBy("user_id").agg(F.count(F.lit(1)).alias("d"))


def als_recommend(
    model: ALSModel,
    user_index: DataFrame,
    item_index: DataFrame,
    pairs: DataFrame,
    k: int,
    users: DataFrame | None = None,
) -> DataFrame:
    """Top-``k`` unseen products for ``users`` (default: every user the model knows) from an ALS model.

    ALS ranks seen products too, so candidates are over-fetched before the seen ones are dropped: most users
    (degree up to the 99th percentile ``p``) get ``k + p`` candidates, the few above get ``k`` + the largest degree
    among them, capped at :data:`ALS_SEEN_CAP` — so every user with at most that many products gets exactly ``k``
    (fewer only past the cap), without fetching the heaviest user's count for everyone. ``user_index`` /
    ``item_index`` (``user_id, user`` / ``product_id, item``) map the model's integer ids; seen products are
    ``pairs``'s. Cost: ALS scores every user against every product (``recommendFor…``: users × catalogue dot
    products, distributed by blocks) — the step that dominates at scale.
    """
    from pyspark.sql import Window
    from pyspark.sql import functions as F

    degrees = _degrees(pairs, users)  # recomputed from the (cached) pairs where used: one aggregation
    p99, top = degrees.agg(F.percentile_approx("d", 0.99), F.max("d")).first()
    common, heavy_fetch = min(int(p99 or 0), ALS_SEEN_CAP), min(int(top or 0), ALS_SEEN_CAP)
    wanted = (
        user_index if users is None else user_index.join(users.select("user_id").distinct(), "user_id", "left_semi")
    )
    heavy = wanted.join(degrees.where(F.col("d") > common), "user_id", "left_semi").select("user")
    if users is None:
        light = model.recommendForAllUsers(k + common).join(heavy, "user", "left_anti")
    else:
        light = model.recommendForUserSubset(wanted.select("user").join(heavy, "user", "left_anti"), k + common)
    raw = light.unionByName(model.recommendForUserSubset(heavy, k + heavy_fetch)) if heavy_fetch > common else light
    flat = raw.select("user", F.posexplode("recommendations").alias("pos", "r")).select(
        "user", "pos", F.col("r.item").alias("item"), F.col("r.rating").cast("double").alias("score")
    )
    named = flat.join(user_index, "user").join(item_index, "item")
    seen = pairs.select("user_id", "product_id")
    order = Window.partitionBy("user_id").orderBy("pos")
    return (
        named.join(seen, ["user_id", "product_id"], "left_anti")
        .withColumn("rec_rank", F.row_number().over(order))
        .where(F.col("rec_rank") <= k)
        .select("user_id", "rec_rank", F.col("product_id").alias("rec_product_id"), "score")
    )


# ---- metrics -----------------------------------------------------------------------------------------------------


def ranking_metrics(recs: DataFrame, truth: DataFrame, k: int, catalogue: int) -> dict[str, float]:
    """Precision@k, Recall@k, NDCG@k (binary gains), hit rate over the users of ``truth``; catalogue coverage.

    ``recs``: ``user_id, rec_rank, rec_product_id``; ``truth``: ``user_id, product_id`` (the held-out products).
    A user of ``truth`` with no recommendation counts with zeros; recommendations to other users are ignored.
    Coverage = distinct products recommended to ``truth``'s users / ``catalogue``. Two actions, one row each.

    Raises:
        ValueError: ``truth`` is empty.
    """
    from pyspark.sql import functions as F

    per_user = truth.groupBy("user_id").agg(F.count(F.lit(1)).alias("n_truth"))
    shown = recs.where(F.col("rec_rank") <= k).join(per_user, "user_id", "left_semi")
    hits = (
        shown.join(truth.withColumnRenamed("product_id", "rec_product_id"), ["user_id", "rec_product_id"])
        .groupBy("user_id")
        .agg(F.count(F.lit(1)).alias("n_hit"), F.sum(1.0 / F.log2(F.col("rec_rank") + 1.0)).alias("dcg"))
    )
    ideal = F.expr(f"aggregate(sequence(0, least(n_truth, {k}) - 1), 0D, (acc, i) -> acc + 1D / log2(i + 2))")
    row = (
        per_user.join(hits, "user_id", "left")
        .fillna(0, subset=["n_hit", "dcg"])
        .agg(
            F.count(F.lit(1)).alias("users"),
            F.sum("n_hit").alias("hits"),
            F.sum(F.col("n_hit") / F.col("n_truth")).alias("recall"),
            F.sum(F.col("dcg") / ideal).alias("ndcg"),
            F.sum((F.col("n_hit") > 0).cast("double")).alias("hit_users"),
        )
        .first()
    )
    n = int(row["users"])
    if not n:
        raise ValueError("no held-out users to evaluate")
    covered = shown.select("rec_product_id").distinct().count()
    return {
        f"precision_at_{k}": float(row["hits"]) / k / n,
        f"recall_at_{k}": float(row["recall"]) / n,
        f"ndcg_at_{k}": float(row["ndcg"]) / n,
        "hit_rate": float(row["hit_users"]) / n,
        "coverage": covered / catalogue if catalogue else 0.0,
        "users": float(n),
    }


def as_lists(recs: DataFrame) -> dict[Any, list[Any]]:
    """``{user_id: [rec_product_id, …]}`` in rank order — collects: for tests and tiny tables only."""
    out: dict[Any, list[Any]] = {}
    for row in recs.orderBy("user_id", "rec_rank").collect():
        out.setdefault(row["user_id"], []).append(row["rec_product_id"])
    return out
