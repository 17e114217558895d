"""The Spark recommenders against the single-process reference (shoplake.ml.recommend) on random shop logs.

Weights are random floats, so no two similarities tie and both implementations must rank alike; popularity counts
do tie, and both break ties by the lower product id.
"""

from __future__ import annotations

import numpy as np
import pytest

from shoplake.ml import recommend as ref
from shoplake.ml import recommend_spark as rs

pytestmark = [pytest.mark.spark]

K = 5


@pytest.fixture(scope="module")
def shop(spark):
    """120 users × 40 products, 3–12 products per user, Zipf-ish popularity; 30 users hold out one product."""
    rng = np.random.default_rng(7)
    popularity = 1.0 / np.arange(1, 41) ** 0.7
    rows = []
    for user in range(120):
        products = rng.choice(40, size=int(rng.integers(3, 13)), replace=False, p=popularity / popularity.sum())
        rows += [(user, int(p), float(rng.uniform(0.5, 5.0))) for p in products]
    held = {user: rows_of[-1][1] for user in range(0, 120, 4) if (rows_of := [r for r in rows if r[0] == user])}
    train = [r for r in rows if held.get(r[0]) != r[1]]
    pairs = spark.createDataFrame(train, "user_id long, product_id long, weight double").cache()
    truth = spark.createDataFrame(sorted(held.items()), "user_id long, product_id long")
    history: dict[int, dict[int, float]] = {}
    for u, p, w in train:
        history.setdefault(u, {})[p] = w
    return pairs, truth, train, history, {u: {p} for u, p in held.items()}


def _reference_neighbours(train, neighbours):
    x = ref.interaction_matrix([r[0] for r in train], [r[1] for r in train], [r[2] for r in train], (120, 40))
    return ref.item_item_neighbours(x, neighbours, block_items=7)


def test_item_item_neighbours_and_user_recommendations_match_the_sparse_reference(shop):
    pairs, truth, train, history, held = shop
    want = _reference_neighbours(train, 8)
    got = rs.item_item_neighbours(pairs, 8).orderBy("product_id", "rec_rank").collect()
    assert [(r.product_id, r.rec_rank, r.rec_product_id) for r in got] == list(
        zip(want.item.tolist(), want.rank.tolist(), want.neighbour.tolist(), strict=True)
    )
    assert [r.score for r in got] == pytest.approx(want.score.tolist(), abs=1e-9)

    nb = rs.item_item_neighbours(pairs, 8)
    recs = rs.recommend_item_item(nb, pairs, truth.select("user_id"), K)
    assert rs.as_lists(recs) == ref.recommend_item_item(want, history, sorted(held), K)
    got_metrics = rs.ranking_metrics(recs, truth, K, 40)
    want_metrics = ref.ranking_metrics(ref.recommend_item_item(want, history, sorted(held), K), held, K, 40)
    assert got_metrics == pytest.approx(want_metrics, abs=1e-12)
    assert got_metrics[f"ndcg_at_{K}"] > 0  # the comparison is not between two empty lists


def test_popularity_ranking_and_unseen_picks_match_the_reference(shop):
    pairs, truth, train, history, held = shop
    ranking = rs.popularity(pairs)
    want_order = ref.popularity_ranking((u, p) for u, p, _ in train)
    assert [r.product_id for r in ranking.orderBy("rec_rank").collect()] == want_order
    recs = rs.recommend_popular(ranking, pairs, truth.select("user_id"), K)
    want = ref.recommend_popular(want_order, history, sorted(held), K)
    assert rs.as_lists(recs) == want
    # a heavy user whose seen products crowd the top ranks still gets k picks, all unseen
    heavy = max(history, key=lambda u: sum(p in want_order[:K] for p in history[u]))
    assert sum(p in want_order[:K] for p in history[heavy]) >= 1
    one = rs.as_lists(rs.recommend_popular(ranking, pairs, pairs.where(f"user_id = {heavy}"), K))[heavy]
    assert one == ref.recommend_popular(want_order, history, [heavy], K)[heavy]
    assert len(one) == K
    assert not set(one) & set(history[heavy])
    assert rs.ranking_metrics(recs, truth, K, 40) == pytest.approx(ref.ranking_metrics(want, held, K, 40), abs=1e-12)


def test_fp_growth_rules_fire_only_when_the_whole_antecedent_was_seen(spark, shop):
    pairs, truth, _, history, held = shop
    rules = spark.createDataFrame(
        [([0], 3, 0.9, 1.5), ([0, 1], 5, 0.95, 2.0), ([1, 2], 6, 0.4, 1.1), ([2], 0, 0.4, 1.2), ([39], 38, 1.0, 9.0)],
        "antecedent array<long>, consequent long, confidence double, lift double",
    )
    known = {p for u in history for p in history[u]}  # a consequent no training pair holds is never proposed
    local = [
        (frozenset(a), c, conf, lift)
        for a, c, conf, lift in [
            ({0}, 3, 0.9, 1.5), ({0, 1}, 5, 0.95, 2.0), ({1, 2}, 6, 0.4, 1.1), ({2}, 0, 0.4, 1.2), ({39}, 38, 1.0, 9.0)
        ]
        if c in known
    ]  # fmt: skip
    got = rs.as_lists(rs.recommend_rules(rules, pairs, truth.select("user_id"), K))
    want = {u: recs for u, recs in ref.recommend_rules(local, history, sorted(held), K).items() if recs}
    assert got == want
    assert any(len(v) >= 2 for v in got.values())  # several rules fire for some users: the ordering is exercised


def test_metrics_count_users_without_recommendations_as_misses(spark):
    truth = spark.createDataFrame([(1, 10), (2, 20), (3, 30)], "user_id long, product_id long")
    recs = spark.createDataFrame(
        [(1, 1, 10, 1.0), (2, 1, 99, 1.0), (2, 2, 20, 0.5), (4, 1, 40, 1.0)],
        "user_id long, rec_rank int, rec_product_id long, score double",
    )
    got = rs.ranking_metrics(recs, truth, 2, 100)
    want = ref.ranking_metrics({1: [10], 2: [99, 20]}, {1: {10}, 2: {20}, 3: {30}}, 2, 100)
    assert got == pytest.approx(want, abs=1e-12)
    assert got["hit_rate"] == pytest.approx(2 / 3)
    assert got["coverage"] == pytest.approx(3 / 100)  # user 4 is not evaluated: product 40 is not counted
    with pytest.raises(ValueError, match="no held-out users"):
        rs.ranking_metrics(recs, truth.where("user_id > 9"), 2, 100)


def test_index_ids_numbers_sorted_values_from_zero(spark):
    df = spark.createDataFrame([("b",), ("a",), ("c",), ("a",)], "user_id string").repartition(3)
    assert [tuple(r) for r in rs.index_ids(df, "user_id", "user").orderBy("user").collect()] == [
        ("a", 0),
        ("b", 1),
        ("c", 2),
    ]
