"""The recommendations pipeline's checks, on the Airflow worker (no Spark): :func:`check_window` (can the window train
and compare recommenders?) and :func:`check_recommendations` (the written partitions and version hold up).

Training is :mod:`shoplake.pipelines.recommendations`; both read the curated ``clickstream_events``.
"""

from __future__ import annotations

import json
import logging
from typing import Any

from shoplake.ml.recommend import MODELS
from shoplake.paths import CLICKSTREAM_EVENTS, RECOMMENDER_MODEL, RECS_DATASETS, Zone, partition_path, window_partitions

log = logging.getLogger(__name__)

EVENTS = CLICKSTREAM_EVENTS


def too_few_test_users(test_users: int, min_test_users: int) -> str:
    """Why a window cannot train and compare recommenders (``""`` when it can)."""
    if test_users < min_test_users:
        return (
            f"{test_users} users with two or more products to hold one out; comparing recommenders needs >= "
            f"{min_test_users} (widen window_days or lower min_test_users)"
        )
    return ""


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


def check_recommendations(lake_root: str, ds: str, *, k: int, window_days: int, sample: int = 500) -> dict[str, Any]:
    """Quality checks of a run's outputs; raises ``ValueError`` listing every failed check.

    * item-item: scores in [0, 1], no product recommends itself, ranks 1..n without gaps and n <= k per product;
    * FP-Growth: on a sample of rules, confidence = support(A∪B) / support(A) and lift = confidence / support(B)
      recomputed from the frequent itemsets (1e-9 tolerance);
    * ALS and item-item: every recommended product, and a sample of ``sample`` ALS users, come from the curated
      window the model trained on;
    * the version's ``metrics.json`` holds P/R/NDCG@k for the four recommenders.
    """
    from shoplake.io.lake import existing_partitions, partition_rows, read_partition
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

    problems += _check_against_window(lake_root, ds, window_days, part["als_user"], items, sample)

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
        "als_rows": partition_rows(part["als_user"]),
        "rules_checked": checked_rules,
        "current_version": current["version"] if current else None,
    }


def _check_against_window(
    lake_root: str, ds: str, window_days: int, als_path: str, items: Any, sample: int
) -> list[str]:
    """Recommended products and a sample of ALS users against the curated window, streamed in record batches.

    Memory: the window's distinct products (the catalogue) and ``sample`` user ids — not the window's users nor the
    ALS table, both of which grow with the shop.
    """
    import pyarrow.compute as pc

    from shoplake.io.lake import existing_partitions, iter_partition_batches

    problems = []
    paths = existing_partitions(window_partitions(lake_root, Zone.CURATED, EVENTS, ds, window_days))[0]
    products: set[int] = set()
    sampled: set[Any] = set()
    recommended: set[int] = {int(p) for p in items["rec_product_id"]} if len(items) else set()
    for batch in iter_partition_batches(als_path, ["user_id", "rec_product_id"], CHECK_BATCH_ROWS):
        recommended.update(int(p) for p in pc.unique(batch.column("rec_product_id")).to_pylist())
        if len(sampled) < sample:
            sampled.update(pc.unique(batch.column("user_id")).to_pylist()[: sample - len(sampled)])
    unmatched = set(sampled)
    for path in paths:
        for batch in iter_partition_batches(path, ["user_id", "product_id"], CHECK_BATCH_ROWS):
            products.update(pc.unique(batch.column("product_id")).to_pylist())
            if unmatched:
                unmatched -= set(pc.unique(batch.column("user_id")).to_pylist())
    if unmatched:
        problems.append(f"ALS recommends to users outside the training window (e.g. {sorted(unmatched)[:3]})")
    outside = recommended - products
    if outside:
        problems.append(f"recommended products outside the training window (e.g. {sorted(outside)[:3]})")
    return problems
