"""Recommender building blocks on matrices and logs small enough to work out by hand."""

from __future__ import annotations

import math

import numpy as np
import pytest

from shoplake.ml import recommend as rec

pytest.importorskip("scipy")

# users × items (A=0, B=1, C=2, D=3): u0 {A, B}, u1 {A, B, C}, u2 {C, D}
USERS, ITEMS, WEIGHTS = [0, 0, 1, 1, 1, 2, 2], [0, 1, 0, 1, 2, 2, 3], [1.0] * 7


def _table(nb) -> dict[int, list[tuple[int, float]]]:
    out: dict[int, list[tuple[int, float]]] = {}
    for i, r, n, s in zip(nb.item, nb.rank, nb.neighbour, nb.score, strict=True):
        out.setdefault(int(i), []).append((int(r), int(n), round(float(s), 4)))
    return out


def test_cosine_neighbours_by_hand_never_self_ties_by_index_any_block_size():
    x = rec.interaction_matrix(USERS, ITEMS, WEIGHTS, (3, 4))
    # |A| = |B| = √2, |C| = √2, |D| = 1; A·B = 2, A·C = B·C = 1, C·D = 1
    want = {
        0: [(1, 1, 1.0), (2, 2, 0.5)],
        1: [(1, 0, 1.0), (2, 2, 0.5)],
        2: [(1, 3, round(1 / math.sqrt(2), 4)), (2, 0, 0.5), (3, 1, 0.5)],  # A before B on the tie
        3: [(1, 2, round(1 / math.sqrt(2), 4))],
    }
    for block in (1, 3, 2048):
        nb = rec.item_item_neighbours(x, neighbours=5, block_items=block)
        assert _table(nb) == want
    assert _table(rec.item_item_neighbours(x, neighbours=1))[2] == [(1, 3, 0.7071)]
    stats = rec.item_item_neighbours(x, neighbours=5).stats
    assert (stats["users"], stats["items"], stats["nnz"]) == (3, 4, 7)


def test_weights_add_up_per_pair_and_zero_weights_leave_the_matrix():
    x = rec.interaction_matrix([0, 0, 1], [0, 0, 1], [1.0, 3.0, 0.0], (2, 2))
    assert x.nnz == 1
    assert x[0, 0] == 4.0


def test_item_item_recommends_unseen_items_by_weighted_similarity():
    nb = rec.item_item_neighbours(rec.interaction_matrix(USERS, ITEMS, WEIGHTS, (3, 4)), neighbours=5)
    # a user with A (weight 2) and D (weight 1): B = 2·1.0, C = 2·0.5 + 1·0.707
    recs = rec.recommend_item_item(nb, {7: {0: 2.0, 3: 1.0}}, [7], k=5)
    assert recs == {7: [1, 2]}
    assert rec.recommend_item_item(nb, {}, [8], k=5) == {8: []}  # nothing seen: nothing to go on


def test_rules_fire_on_contained_antecedents_best_confidence_first():
    rules = [
        (frozenset({0}), 1, 0.5, 1.2),
        (frozenset({0, 2}), 3, 0.9, 2.0),
        (frozenset({4}), 5, 1.0, 3.0),  # antecedent not held: never fires
        (frozenset({2}), 1, 0.7, 1.1),  # a better rule for item 1
    ]
    assert rec.recommend_rules(rules, {1: {0: 1.0, 2: 1.0}}, [1], k=10) == {1: [3, 1]}
    assert rec.recommend_rules(rules, {1: {0: 1.0, 1: 1.0}}, [1], k=10) == {1: []}  # 1 already seen


def test_popularity_counts_distinct_users_and_skips_what_a_user_saw():
    ranking = rec.popularity_ranking([(0, 5), (0, 5), (1, 5), (1, 6), (2, 7), (3, 7), (4, 7)])
    assert ranking == [7, 5, 6]
    assert rec.recommend_popular(ranking, {1: {7: 1.0}}, [1, 2], k=2) == {1: [5, 6], 2: [7, 5]}


def test_ranking_metrics_by_hand():
    held = {1: {5}, 2: {7}, 3: {9}}
    recs = {1: [5, 1, 2], 2: [1, 7], 3: []}
    m = rec.ranking_metrics(recs, held, k=10, catalogue=10)
    assert m["precision_at_10"] == pytest.approx((0.1 + 0.1 + 0) / 3)
    assert m["recall_at_10"] == pytest.approx(2 / 3)
    assert m["ndcg_at_10"] == pytest.approx((1 + 1 / math.log2(3)) / 3)
    assert m["hit_rate"] == pytest.approx(2 / 3)
    assert m["coverage"] == pytest.approx(4 / 10)  # 5, 1, 2, 7
    with pytest.raises(ValueError, match="no held-out users"):
        rec.ranking_metrics({}, {}, k=10, catalogue=1)


@pytest.mark.parametrize(
    ("text", "error"),
    [
        ("view=1,cart=3,purchase=5", "no weight for remove_from_cart"),
        ("view=1,cart=x,remove_from_cart=0,purchase=5", "'x' of cart is not a number"),
        ("view=1,cart=3,remove_from_cart=0,purchase=5,wishlist=2", "'wishlist=2' is not a known"),
        ("view=-1,cart=3,remove_from_cart=0,purchase=5", "must be a finite number >= 0"),
        ("view=0,cart=0,remove_from_cart=0,purchase=0", "at least one event type"),
    ],
)
def test_bad_event_weights_say_what_is_wrong(text, error):
    with pytest.raises(ValueError, match=error):
        rec.parse_weights(text)


def test_default_weights_parse():
    assert rec.parse_weights(rec.DEFAULT_WEIGHTS) == {"view": 1, "cart": 3, "remove_from_cart": 0.5, "purchase": 5}


def test_neighbour_memory_follows_the_non_zeros_not_items_squared():
    rng = np.random.default_rng(0)
    users, items = 2000, 5000  # 25 M cells as a dense items × items matrix; here a few thousand non-zeros
    u = rng.integers(0, users, 6000)
    i = rng.integers(0, items, 6000)
    nb = rec.item_item_neighbours(rec.interaction_matrix(u, i, np.ones(6000), (users, items)), 10, block_items=500)
    assert nb.stats["peak_block_nnz"] < 0.01 * 500 * items
    assert len(nb.item) <= items * 10
