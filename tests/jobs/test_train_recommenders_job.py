"""The recommendations job on a crafted clickstream whose neighbours, rules and metrics are worked out by hand."""

from __future__ import annotations

import json
import math
from pathlib import Path

import pytest
from click_events import shop_log, write_events

from shoplake.io.lake import read_partition
from shoplake.paths import Zone, partition_path
from shoplake.pipelines.recommendations_checks import check_recommendations, check_window

pytestmark = [pytest.mark.spark, pytest.mark.integration]

DAY = "2031-01-01"
ARGS = ["--window-days", "1", "--min-support", "0.2", "--min-confidence", "0.1", "--min-test-users", "5"]
ARGS += [
    "--event-weights",
    "view=1,cart=0,remove_from_cart=0,purchase=5",
    "--mlflow-uri",
    "none",
    "--als-max-iter",
    "3",
    "--als-tune",  # tuning is its own test below: the other trainings keep the flags as given
    "false",
]


def _train(lake: str, ds: str, *extra: str) -> dict:
    import train_recommenders as job

    return job.main(["--ds", ds, "--lake-root", lake, *ARGS, *extra], spark=pytest.spark_session)


@pytest.fixture(autouse=True)
def _session(spark):
    pytest.spark_session = spark


def _table(lake: str, dataset: str, ds: str = DAY):
    return read_partition(partition_path(lake, Zone.ENRICHED, dataset, ds)).to_pandas()


def test_neighbours_rules_metrics_and_checks_match_the_hand_computed_values(tmp_path, monkeypatch):
    monkeypatch.setenv("SHOPLAKE_BASELINE_GATE", "off")  # 20 shoppers: too few for a model to beat popularity
    lake = str(tmp_path / "lake")
    write_events(lake, DAY)
    exact = check_window(lake, DAY, 1, 100)  # never enough: the whole window is counted
    assert (exact["test_users"], exact["test_users_exact"], exact["trainable"]) == (20, True, False)
    enough = check_window(lake, DAY, 1, 5)
    assert (enough["trainable"], enough["test_users_exact"]) == (True, False)
    assert enough["test_users"] >= 5
    result = _train(lake, DAY)
    version = Path(result["path"])
    metrics = json.loads((version / "metrics.json").read_text())

    # views weigh 1, the cart 0: item 1 has 15 users, item 2 has 10, all 10 shared → cos = 10 / √150
    items = _table(lake, "recs_item_item")
    pairs = {(r.product_id, r.rec_product_id): round(r.score, 4) for r in items.itertuples()}
    assert pairs == {(1, 2): round(10 / math.sqrt(150), 4), (2, 1): round(10 / math.sqrt(150), 4)}

    # training sessions 10 × {1, 2}, 5 × {1}, 5 × {3}: conf(1 → 2) = 10/15, conf(2 → 1) = 1, lift 4/3 both
    rules = _table(lake, "recs_fp_rules")
    got = {
        (tuple(r.antecedent), r.consequent): (round(r.confidence, 4), round(r.lift, 4), r.support)
        for r in rules.itertuples()
    }
    assert got == {((1,), 2): (0.6667, 1.3333, 0.5), ((2,), 1): (1.0, 1.3333, 0.5)}
    itemsets = {tuple(sorted(r.items)): r.support for r in _table(lake, "recs_fp_itemsets").itertuples()}
    assert itemsets == {(1,): 0.75, (2,): 0.5, (3,): 0.25, (1, 2): 0.5}
    assert list(_table(lake, "recs_popularity")["product_id"]) == [1, 2, 3]

    # 5 of 20 held-out products (u10–u14's 2) were seen in training; each model that finds them finds them at rank 1
    assert metrics["hit_rate_ceiling"] == 0.25
    for model in ("item_item_cf", "fp_growth", "popularity"):
        m = metrics[model]
        assert (m["precision_at_10"], m["recall_at_10"], m["ndcg_at_10"], m["hit_rate"]) == pytest.approx(
            (0.025, 0.25, 0.25, 0.25)
        ), model
    assert metrics["item_item_cf"]["coverage"] == pytest.approx(1 / 3)  # only product 2 is ever proposed
    assert metrics["popularity"]["coverage"] == 1.0
    assert 0 <= metrics["als"]["ndcg_at_10"] <= 0.25
    assert metrics["best_model"] == "item_item_cf"  # ties go to the first in the comparison's order
    assert (metrics["matrix"]["users"], metrics["matrix"]["items"], metrics["matrix"]["nnz"]) == (
        20,
        3,
        30,
    )  # 10 × 2 + 5 + 5 pairs
    assert set(_table(lake, "recs_als_user")["user_id"]) == {f"u{u:02d}" for u in range(20)}
    assert {"comparison.csv", "comparison.png", "als", "metrics.json"} <= {p.name for p in version.iterdir()}
    assert json.loads((version.parent.parent / "current.json").read_text())["model"] == "item_item_cf"
    assert result["promoted"]
    assert check_recommendations(lake, DAY, k=10, window_days=1)["rules_checked"] == 2


def test_rerun_is_identical_and_the_champion_is_rescored_on_the_same_users(tmp_path, monkeypatch):
    monkeypatch.setenv("SHOPLAKE_BASELINE_GATE", "off")  # 20 shoppers: too few for a model to beat popularity
    lake = str(tmp_path / "lake")
    write_events(lake, DAY)
    first = json.loads((Path(_train(lake, DAY)["path"]) / "metrics.json").read_text())
    before = {d: _table(lake, d) for d in ("recs_item_item", "recs_fp_rules", "recs_popularity")}
    again = json.loads((Path(_train(lake, DAY)["path"]) / "metrics.json").read_text())
    for dataset, table in before.items():
        assert _table(lake, dataset).equals(table), dataset
    for model in ("item_item_cf", "fp_growth", "als", "popularity"):  # every held-out figure, to the bit
        assert again[model] == first[model], model

    # next day, same events: the champion's recorded score is inflated by hand; re-scored it ties → promoted
    write_events(lake, "2031-01-02")
    current = Path(lake) / "model" / "recommender" / "current.json"
    pointer = json.loads(current.read_text())
    current.write_text(json.dumps({**pointer, "ndcg_at_10": 0.99}))
    second = _train(lake, "2031-01-02")
    assert second["champion_score"] == pytest.approx(0.25)
    assert second["promoted"]


def test_a_product_recommending_itself_fails_the_checks(tmp_path):
    import pyarrow as pa

    from shoplake.io.lake import write_partition

    lake = str(tmp_path / "lake")
    write_events(lake, DAY)
    _train(lake, DAY)
    path = partition_path(lake, Zone.ENRICHED, "recs_item_item", DAY)
    bad = pa.table({"product_id": [1], "rec_rank": [1], "rec_product_id": [1], "score": [1.5]})
    write_partition(bad, path)
    with pytest.raises(ValueError, match="scores outside") as err:
        check_recommendations(lake, DAY, k=10, window_days=1)
    assert "recommends itself" in str(err.value)


def test_too_few_users_to_hold_one_out_is_a_clear_data_error(tmp_path):
    lake = str(tmp_path / "lake")
    write_events(lake, DAY, [r for r in shop_log() if r[0] < "u03"])
    assert check_window(lake, DAY, 1, 5)["reason"].startswith("3 users with two or more products")
    with pytest.raises(ValueError, match="needs >= 5"):
        _train(lake, DAY)
    assert not (Path(lake) / "model" / "recommender").exists()


def test_check_window_stops_reading_once_enough_users_can_hold_one_out(tmp_path, monkeypatch):
    """Bounded on the Airflow worker: newest day first, one record batch at a time, stopping at min_test_users."""
    from datetime import date, timedelta

    from shoplake.pipelines import recommendations_checks

    lake = str(tmp_path / "lake")
    days = [(date.fromisoformat(DAY) - timedelta(days=n)).isoformat() for n in range(3)]
    for day in days:
        write_events(lake, day)
    rows_per_day = len(shop_log())
    monkeypatch.setattr(recommendations_checks, "CHECK_BATCH_ROWS", 7)
    got = check_window(lake, DAY, 3, 2)
    assert got["trainable"]
    assert got["partitions"] == 3
    assert got["events"] < rows_per_day  # stopped inside the newest day's first batches
    assert got["events"] % 7 == 0
    every = check_window(lake, DAY, 3, 10_000)  # not trainable: every row of the three days is read, counted once
    assert (every["events"], every["test_users"], every["trainable"]) == (3 * rows_per_day, 20, False)


def test_als_is_tuned_on_a_validation_split_inside_the_training_events(tmp_path, monkeypatch):
    """The chosen setting is the best of those tried on validation users cut from the training events — never the
    held-out users — and the ALS that is published is fitted with it."""
    monkeypatch.setenv("SHOPLAKE_BASELINE_GATE", "off")
    lake = str(tmp_path / "lake")
    write_events(lake, DAY)
    result = _train(lake, DAY, "--als-tune", "true", "--min-test-users", "3")
    tuning = json.loads((Path(result["path"]) / "metrics.json").read_text())["als_tuning"]
    if not tuning["tuned"]:  # the crafted log's training events may leave too few validation users
        assert "validation users" in tuning["reason"]
        return
    tried = tuning["tried"]
    best = max(t["ndcg_at_10"] for t in tried)
    chosen = next(t for t in tried if all(t[k] == v for k, v in tuning["chosen"].items()))
    assert chosen["ndcg_at_10"] == best
    assert len(tried) >= 9  # rank × alpha, then the regularisation and the iterations
    assert max(t["max_iter"] for t in tried) <= 3  # never more iterations than the flag (Spark's lineage)
    assert tuning["validation_users"] >= 3
