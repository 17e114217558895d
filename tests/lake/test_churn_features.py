"""Per-user churn features and labels on crafted events: label logic, leakage rules, the clickstream cutoff."""

import datetime as dt

import pytest

pytestmark = pytest.mark.spark

T0 = dt.datetime(2018, 11, 5, tzinfo=dt.UTC)


def sparkify_events(spark, rows):
    """Curated-shape events from ``(user, session, minute, page, level)`` tuples."""
    from pyspark.sql import types as T

    schema = T.StructType(
        [
            T.StructField("event_time", T.TimestampType()),
            T.StructField("ts_ms", T.LongType()),
            T.StructField("user_id", T.StringType()),
            T.StructField("session_id", T.LongType()),
            T.StructField("page", T.StringType()),
            T.StructField("level", T.StringType()),
            T.StructField("gender", T.StringType()),
            T.StructField("artist", T.StringType()),
            T.StructField("length", T.DoubleType()),
            T.StructField("registered_at", T.TimestampType()),
        ]
    )
    data = []
    for user, session, minute, page, level in rows:
        t = T0 + dt.timedelta(minutes=minute)
        song = page == "NextSong"
        data.append(
            (
                t,
                int(t.timestamp() * 1000),
                user,
                session,
                page,
                level,
                "M" if user == "a" else "F",
                "Artist" if song else None,
                180.0 if song else None,
                T0 - dt.timedelta(days=10),
            )
        )
    return spark.createDataFrame(data, schema)


EVENTS = [
    ("a", 1, 0, "NextSong", "paid"),
    ("a", 1, 1, "Thumbs Up", "paid"),
    ("a", 1, 2, "Cancel", "paid"),
    ("a", 1, 3, "Cancellation Confirmation", "paid"),
    ("b", 2, 0, "NextSong", "free"),
    ("b", 2, 4, "NextSong", "free"),
    ("b", 2, 5, "Roll Advert", "free"),
    ("b", 3, 60 * 24, "Submit Downgrade", "free"),
    ("b", 3, 60 * 24 + 1, "Thumbs Down", "free"),
    (None, 9, 0, "Home", "free"),  # logged out: no user's feature
    ("c", 4, 0, "Cancellation Confirmation", "free"),  # nothing but the churn page
]


def test_sparkify_label_is_a_visit_to_a_churn_page_and_never_a_feature(spark):
    from shoplake.transforms.churn_features import feature_columns, sparkify_user_features

    feats = {r["user_id"]: r.asDict() for r in sparkify_user_features(sparkify_events(spark, EVENTS)).collect()}
    assert sorted(feats) == ["a", "b", "c"]
    assert {u: f["label"] for u, f in feats.items()} == {"a": 1.0, "b": 0.0, "c": 1.0}
    a, b, c = feats["a"], feats["b"], feats["c"]
    assert a["events"] == 2.0  # Cancel and Cancellation Confirmation are not activity
    assert (a["songs"], a["thumbs_up"], a["is_paid"], a["is_male"]) == (1.0, 1.0, 1.0, 1.0)
    assert (b["songs"], b["sessions"], b["active_days"], b["adverts"]) == (2.0, 2.0, 2.0, 1.0)
    assert (b["submit_downgrade"], b["thumbs_down"], b["thumbs_up_ratio"]) == (1.0, 1.0, 0.0)
    assert b["adverts_per_song"] == 0.5
    assert b["listen_hours"] == pytest.approx(2 * 180 / 3600)
    assert a["tenure_days"] == pytest.approx(10 + 1 / 60 / 24)  # registration to the last counted event
    assert c["events"] == 0.0  # a churned user with no activity still gets a row
    numeric, categorical = feature_columns(sparkify_user_features(sparkify_events(spark, EVENTS)), "sparkify")
    assert "label" not in numeric
    assert "user_id" not in numeric
    assert categorical == []


def test_sparkify_churn_pages_are_configurable(spark):
    from shoplake.transforms.churn_features import sparkify_user_features

    feats = sparkify_user_features(sparkify_events(spark, EVENTS), churn_pages=["Submit Downgrade"])
    got = {r["user_id"]: (r["label"], r["submit_downgrade"]) for r in feats.collect()}
    # b downgraded: churned, and the downgrade page stops being a feature (it is the label now)
    assert got == {"a": (0.0, 0.0), "b": (1.0, 0.0), "c": (0.0, 0.0)}


def test_sparkify_without_churn_pages_labels_nobody(spark):
    from shoplake.transforms.churn_features import sparkify_user_features

    events = [e for e in EVENTS if e[3] != "Cancellation Confirmation"]
    labels = [r["label"] for r in sparkify_user_features(sparkify_events(spark, events)).collect()]
    assert labels
    assert set(labels) == {0.0}


def test_clickstream_label_is_no_return_after_the_cutoff(spark):
    from shoplake.transforms.churn_features import clickstream_user_features

    def ev(user, minute, kind, price=10.0, session="s"):
        return (T0 + dt.timedelta(minutes=minute), kind, 1, 1, "brand", price, user, f"{user}{session}")

    cols = "event_time timestamp, event_type string, product_id long, category_id long, brand string, price double, "
    cols += "user_id string, user_session string"
    events = spark.createDataFrame(
        [
            ev("stays", 0, "view"),
            ev("stays", 5, "cart"),
            ev("stays", 70, "view", session="t"),  # returns after the cutoff
            ev("leaves", 10, "view"),
            ev("leaves", 11, "purchase", price=25.0),
            ev("new", 65, "view"),  # first seen after the cutoff: not scored
        ],
        cols,
    )
    cutoff, end = "2018-11-05 01:00:00", "2018-11-05 02:00:00"
    feats = {r["user_id"]: r.asDict() for r in clickstream_user_features(events, cutoff, end).collect()}
    assert sorted(feats) == ["leaves", "stays"]
    assert (feats["stays"]["label"], feats["leaves"]["label"]) == (0.0, 1.0)
    assert feats["stays"]["events"] == 2.0  # the return visit is label, not feature
    assert (feats["stays"]["cart_rate"], feats["leaves"]["spent"]) == (1.0, 25.0)
    assert feats["leaves"]["recency_minutes"] == pytest.approx(49.0)
