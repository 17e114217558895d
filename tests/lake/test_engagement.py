"""Engagement levels and their features on crafted events: the precedence of levels, and no look-ahead."""

from __future__ import annotations

import datetime as dt

import pytest
from click_events import events_table

pytestmark = pytest.mark.spark

DAY = "2031-03-01"


def _events(spark, rows):
    return spark.createDataFrame(events_table(rows, DAY).to_pandas())


def test_the_furthest_stage_of_a_user_product_session_is_its_level(spark):
    from shoplake.transforms.engagement import engagement_rows

    rows = [
        ("a", "s1", 1, "view", 0),  # viewed only → low (0)
        ("a", "s1", 2, "view", 1),
        ("a", "s1", 2, "cart", 2),  # carted → medium (1)
        ("a", "s1", 3, "cart", 3),
        ("a", "s1", 3, "remove_from_cart", 4),  # carted then removed → disengaged (2)
        ("a", "s1", 4, "remove_from_cart", 5),
        ("a", "s1", 4, "purchase", 6),  # bought, even after a removal → high (3)
        ("a", "s2", 1, "purchase", 60),  # another session of the same product is its own row
    ]
    got = {(r.user_session, r.product_id): r.level for r in engagement_rows(_events(spark, rows)).collect()}
    assert got == {("s1", 1): 0, ("s1", 2): 1, ("s1", 3): 2, ("s1", 4): 3, ("s2", 1): 3}


def test_features_use_only_earlier_sessions_and_the_training_period(spark):
    from shoplake.transforms.engagement import engagement_rows, with_features

    rows = [
        ("a", "s1", 1, "view", 0),
        ("a", "s1", 1, "purchase", 5),  # a spends 10.0 in s1
        ("b", "s2", 1, "view", 10),
        ("a", "s3", 2, "view", 120),  # a's second session, 2 hours after the first
        ("c", "s4", 1, "view", 130),  # after the training cut: not counted in product_users
    ]
    events = _events(spark, rows)
    cut = dt.datetime.fromisoformat(DAY).replace(tzinfo=dt.UTC) + dt.timedelta(minutes=100)
    feats = {(r.user_session, r.product_id): r for r in with_features(engagement_rows(events), events, cut).collect()}
    first, second = feats["s1", 1], feats["s3", 2]
    assert (first.user_sessions_before, first.user_recency_hours, first.user_spend_before) == (0, None, 0.0)
    assert (second.user_sessions_before, second.user_recency_hours, second.user_spend_before) == (1, 2.0, 10.0)
    assert (first.product_users, first.product_buyers) == (2.0, 1.0)  # a and b before the cut; c came after
    assert feats["s3", 2].product_users == 0.0  # product 2 only seen after the cut
    assert (first.session_products, first.hour, first.label) == (1, 0.0, 3.0)
    assert feats["s4", 1].hour == 2.0


def test_multiclass_report_by_hand():
    from shoplake.ml.metrics import confusion_matrix, multiclass_report

    m = confusion_matrix([(0, 0, 8), (0, 1, 2), (1, 1, 3), (1, 0, 1), (3, 0, 1)], 4)
    assert m == [[8, 2, 0, 0], [1, 3, 0, 0], [0, 0, 0, 0], [1, 0, 0, 0]]
    r = multiclass_report(m, ("low", "medium", "disengaged", "high"))
    # low: P 8/10, R 8/10 → 0.8; medium: P 3/5, R 3/4 → 2/3; high: P 0 (none predicted), R 0 → 0; disengaged absent
    assert r["per_class"]["low"]["f1"] == pytest.approx(0.8)
    assert r["per_class"]["medium"]["f1"] == pytest.approx(2 / 3)
    assert r["per_class"]["high"] == {"precision": 0.0, "recall": 0.0, "f1": 0.0, "support": 1}
    assert r["per_class"]["disengaged"]["f1"] is None
    assert (r["classes_in_macro"], r["n"]) == (3, 15)
    assert r["macro_f1"] == pytest.approx((0.8 + 2 / 3 + 0) / 3)
    assert r["accuracy"] == pytest.approx(11 / 15)
