"""Purchase features, split, XGBoost fit and metrics on tiny frames (no Spark, no Airflow)."""

import json
import sys
from pathlib import Path

import numpy as np
import pyarrow as pa
import pytest

from shoplake.ml.metrics import best_f1_threshold, binary_metrics
from shoplake.ml.splits import time_split
from shoplake.ml.xgb import XgbParams, evaluate_booster, feature_importance, fit_booster, predict
from shoplake.transforms.purchase_features import (
    ALL_FEATURES,
    CURATED_FEATURES,
    build_features,
    feature_columns,
    frequent_apps,
    model_frame,
)

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "fixtures"))
from purchase_data import feature_table


def _curated(ids, purchase=(True, False, None)):
    n = len(ids)
    cols = {
        "recommendationid": ids,
        "appid": [730] * n,
        "timestamp_created": [1551398400 + 10 * i for i in range(n)],
        "steam_purchase": list(purchase)[:n],
        "voted_up": [True] * n,
        "language_code": ["en", "de", "en"][:n],
    }
    for c in CURATED_FEATURES:
        cols[c] = [True, False, True][:n] if c.startswith(("has_", "is_", "written")) else [1, 2, 3][:n]
    return pa.table(cols)


def _enriched(ids, probs, statuses):
    schema = pa.schema(
        [
            ("recommendationid", pa.string()),
            ("sentiment_status", pa.string()),
            ("positive_prob", pa.float32()),
            ("sentiment_score", pa.float32()),
        ]
    )
    scores = [None if p is None else max(p, 1 - p) for p in probs]
    return pa.table({"recommendationid": ids, "sentiment_status": statuses, "positive_prob": probs,
                     "sentiment_score": scores}, schema=schema)  # fmt: skip


def test_build_features_joins_sentiment_and_quarantines_rows_it_cannot_use():
    curated = _curated(["1", "2", "3"])
    enriched = _enriched(["1", "3"], [0.9, 0.2], ["scored", "scored"])
    features, quarantine = build_features(curated, enriched)
    assert features["recommendationid"].to_pylist() == ["1"]
    assert features.num_rows + quarantine.num_rows == curated.num_rows
    reasons = dict(zip(quarantine["record_id"].to_pylist(), quarantine["reason"].to_pylist(), strict=True))
    assert reasons == {
        "2": "no row in enriched/steam_reviews (the sentiment job did not see it)",
        "3": "steam_purchase or voted_up missing",
    }
    assert json.loads(quarantine["document"][0].as_py())["recommendationid"] in {"2", "3"}
    row = features.to_pylist()[0]
    assert row["is_english"] == 1.0
    assert row["has_url"] == 1.0
    assert row["positive_prob"] == pytest.approx(0.9)
    assert all(features.schema.field(c).type == pa.float64() for c in CURATED_FEATURES)


def test_a_review_no_model_could_score_keeps_its_row_with_missing_sentiment():
    curated = _curated(["1", "2"], purchase=(True, False))
    enriched = _enriched(["1", "2"], [0.9, None], ["scored", "unsupported_language"])
    features, quarantine = build_features(curated, enriched)
    assert quarantine.num_rows == 0
    rows = {r["recommendationid"]: r for r in features.to_pylist()}
    assert rows["2"]["positive_prob"] is None
    assert rows["2"]["sentiment_score"] is None
    assert rows["2"]["is_english"] == 0.0
    assert model_frame(features.to_pandas(), ["positive_prob"])["positive_prob"].isna().tolist() == [False, True]


def test_a_target_is_never_its_own_feature_and_the_acquisition_channel_is_never_one():
    assert "steam_purchase" not in feature_columns("steam_purchase")
    assert "voted_up" in feature_columns("steam_purchase")
    assert "voted_up" not in feature_columns("voted_up")
    assert "received_for_free" not in ALL_FEATURES
    assert feature_columns("voted_up", [570])[-1] == "app_570"
    with pytest.raises(ValueError, match="target"):
        feature_columns("price")


def test_time_split_holds_out_the_newest_rows():
    df = feature_table("2019-03-01", 100, seed=3).to_pandas().sample(frac=1, random_state=0)
    split = time_split(df, test_fraction=0.2, valid_fraction=0.1)
    assert (len(split.train), len(split.valid), len(split.test)) == (70, 10, 20)
    assert split.train["timestamp_created"].max() <= split.valid["timestamp_created"].min()
    assert split.valid["timestamp_created"].max() <= split.test["timestamp_created"].min()
    assert split.describe()["test"]["rows"] == 20


def test_game_columns_come_from_frequent_training_apps():
    df = feature_table("2019-03-01", 200, seed=4).to_pandas()
    apps = frequent_apps(df, min_reviews=30)
    assert apps == sorted(apps)
    assert all((df["appid"] == a).sum() >= 30 for a in apps)
    frame = model_frame(df, ["votes_up", f"app_{apps[0]}", "app_999999"])
    assert frame[f"app_{apps[0]}"].sum() == (df["appid"] == apps[0]).sum()
    assert frame["app_999999"].sum() == 0  # a game the model never saw: all zeros, no error


def test_metrics_match_hand_computed_values():
    y = np.array([0, 0, 1, 1])
    p = np.array([0.1, 0.6, 0.4, 0.9])
    m = binary_metrics(y, p)
    assert m["auc"] == pytest.approx(0.75)
    assert (m["precision"], m["recall"], m["accuracy"]) == (0.5, 0.5, 0.5)
    assert m["f1"] == pytest.approx(0.5)
    assert m["pr_auc"] == pytest.approx((1.0 + 2 / 3) / 2)
    assert binary_metrics(y, p, threshold=0.35)["recall"] == 1.0
    assert best_f1_threshold(y, p) == pytest.approx(0.4)


def test_xgboost_learns_the_planted_signal_and_not_noise():
    import pandas as pd

    df = pd.concat([feature_table(f"2019-03-0{d}", 300, seed=d).to_pandas() for d in (1, 2, 3)])
    split = time_split(df, test_fraction=0.2, valid_fraction=0.1)
    apps = frequent_apps(split.train, 20)
    params = XgbParams(n_estimators=200, seed=7)
    booster = fit_booster(split, "steam_purchase", params, "cpu", apps)
    metrics, p_test = evaluate_booster(booster, split, "steam_purchase")
    assert metrics["auc"] > 0.85
    assert len(p_test) == len(split.test)
    top = feature_importance(booster)["feature"].head(4).tolist()
    assert "author_num_games_owned" in top
    assert any(f in top for f in ("app_570", "app_230410"))
    again = fit_booster(split, "steam_purchase", params, "cpu", apps)
    np.testing.assert_array_equal(predict(again, split.test), p_test)  # seeded: reruns give the same model

    shuffled = split.test.assign(steam_purchase=np.random.default_rng(0).permutation(split.test["steam_purchase"]))
    noise = type(split)(split.train, split.valid, shuffled)
    assert evaluate_booster(booster, noise, "steam_purchase")[0]["auc"] < 0.7


def test_a_single_class_holdout_is_a_clear_error():
    df = feature_table("2019-03-01", 200, seed=5).to_pandas()
    split = time_split(df, test_fraction=0.2, valid_fraction=0.1)
    booster = fit_booster(split, "steam_purchase", XgbParams(n_estimators=5), "cpu")
    one_class = type(split)(split.train, split.valid, split.test.assign(steam_purchase=True))
    with pytest.raises(ValueError, match="single steam_purchase class"):
        evaluate_booster(booster, one_class, "steam_purchase")


def test_auc_comes_with_its_interval_and_no_number_below_the_floor():
    from shoplake.ml.metrics import auc_by_group, auc_with_interval, format_auc

    rng = np.random.default_rng(0)
    y = np.r_[np.ones(200), np.zeros(200)].astype(int)
    p = np.r_[rng.normal(1, 1, 200), rng.normal(0, 1, 200)]
    m = auc_with_interval(y, p, min_negatives=30)
    from sklearn.metrics import roc_auc_score

    assert m["auc"] == pytest.approx(roc_auc_score(y, p))
    lo, hi = m["auc_ci95"]
    assert lo < m["auc"] < hi
    assert 0.05 < hi - lo < 0.2  # 400 rows: an interval of a few points
    assert (m["n"], m["positives"], m["negatives"]) == (400, 200, 200)
    # a 98 %-positive day: 4 negatives are not an AUC
    skewed = auc_with_interval(np.r_[np.ones(196), np.zeros(4)], rng.random(200), min_negatives=30)
    assert skewed["auc"] is None
    assert skewed["note"] == "too few negatives (4 < 30): no AUC reported"
    assert format_auc(skewed).startswith("too few negatives")
    assert format_auc(m).startswith(f"AUC {m['auc']:.3f} [95% CI")
    # unscored rows (NaN) are left out; groups are reported separately
    groups = np.array(["en"] * 300 + ["zh"] * 100)
    p_nan = p.copy()
    p_nan[300:] = np.nan
    by = auc_by_group(y, p_nan, groups, min_negatives=30)
    assert by["zh"]["n"] == 0
    assert by["zh"]["auc"] is None
    assert by["en"]["n"] == by["all"]["n"] == 300


def _write(path: str, table: pa.Table, groups: list[int]) -> None:
    """One partition file whose row groups have the ``groups`` sizes (batches then end at their boundaries)."""
    from shoplake.io.lake import PartitionWriter

    with PartitionWriter(path, table.schema) as w:
        start = 0
        for n in groups:
            w.write(table.slice(start, n))
            start += n


def _day(tmp_path, n: int):
    from shoplake.paths import Zone, partition_path

    ids = [str(100 + i) for i in range(n)]
    base = _curated(["a", "b", "c"])  # three rows of features: their pattern repeated over the day
    cols = {c: [base[c][i % 3].as_py() for i in range(n)] for c in base.column_names}
    cols.update(
        recommendationid=ids,
        steam_purchase=[None if i == 3 else i % 2 == 0 for i in range(n)],  # row 3 has no target: quarantined
        timestamp_created=[1551398400 + 10 * i for i in range(n)],
    )
    curated = pa.table(cols, schema=base.schema)
    probs = [None if i == 5 else 0.1 * i for i in range(n)]
    statuses = ["unsupported_language" if i == 5 else "scored" for i in range(n)]
    enriched = _enriched(ids, probs, statuses)
    lake = str(tmp_path / "lake")
    cur_path = partition_path(lake, Zone.CURATED, "steam_reviews", "2019-03-01")
    return lake, curated, enriched, cur_path, partition_path(lake, Zone.ENRICHED, "steam_reviews", "2019-03-01")


def test_the_day_is_joined_in_step_chunk_by_chunk_with_the_whole_days_result(tmp_path):
    from shoplake.io.lake import read_counts, read_partition
    from shoplake.pipelines.steam_reviews import build_purchase_features

    lake, curated, enriched, cur_path, enr_path = _day(tmp_path, 7)
    _write(cur_path, curated, [5, 2])  # batch boundaries differ between the two partitions
    _write(enr_path, enriched, [3, 4])
    result = build_purchase_features(lake, "2019-03-01", curated_rows=7, chunk_rows=4)
    whole, whole_q = build_features(curated, enriched)
    streamed = read_partition(result["path"])
    assert streamed.sort_by("recommendationid").equals(whole.sort_by("recommendationid"))
    quarantined = read_partition(result["quarantine_path"])
    assert quarantined["record_id"].to_pylist() == whole_q["record_id"].to_pylist() == ["103"]
    assert (result["rows"], result["quarantined"]) == (6, 1)
    assert read_counts(result["path"]) == {"in": 7, "features": 6, "quarantined": 1}


def test_a_day_out_of_step_or_short_fails_with_what_to_do(tmp_path):
    from shoplake.pipelines.steam_reviews import build_purchase_features

    lake, curated, enriched, cur_path, enr_path = _day(tmp_path, 7)
    _write(cur_path, curated, [7])
    _write(enr_path, enriched.take(list(range(6, -1, -1))), [7])  # the same rows, another order
    with pytest.raises(ValueError, match=r"not row for row the curated partition .* rerun score_sentiment"):
        build_purchase_features(lake, "2019-03-01", chunk_rows=4)
    _write(enr_path, enriched.slice(0, 6), [6])
    with pytest.raises(ValueError, match="has fewer rows than"):
        build_purchase_features(lake, "2019-03-01", chunk_rows=4)
    with pytest.raises(ValueError, match="has 7 rows, the check counted 8"):
        build_purchase_features(lake, "2019-03-01", curated_rows=8)


def test_an_empty_day_writes_empty_partitions_with_the_schemas(tmp_path):
    from shoplake.io.lake import read_counts, read_partition
    from shoplake.pipelines.steam_reviews import build_purchase_features

    lake, curated, enriched, cur_path, enr_path = _day(tmp_path, 7)
    _write(cur_path, curated.slice(0, 0), [0])
    _write(enr_path, enriched.slice(0, 0), [0])
    result = build_purchase_features(lake, "2019-03-01", curated_rows=0)
    features = read_partition(result["path"])
    assert features.num_rows == 0
    assert features.schema == build_features(curated, enriched)[0].schema
    assert read_counts(result["path"]) == {"in": 0, "features": 0, "quarantined": 0}


def test_a_booster_starts_each_row_from_its_games_rate_and_the_service_path_gives_the_same_answers(tmp_path):
    """The base margin: rows identical but for their game's rate get answers ordered by it (the trees cannot tell
    them apart: the rate is not among their features), a game the table never held starts from the training rate,
    and the service's row path, the version's saved booster and the batch path agree."""
    import pandas as pd

    from shoplake.ml.xgb import BOOSTER_FILE, load_booster, margin_source, predict_rows, save_version_files
    from shoplake.transforms.game_features import GameStats
    from shoplake.transforms.purchase_features import feature_columns

    df = pd_frame()
    split = time_split(df, test_fraction=0.2, valid_fraction=0.1)
    games = GameStats.fit(split.train, "steam_purchase")
    with_rate = type(split)(games.apply(split.train, out_of_fold_target="steam_purchase"), games.apply(split.valid),
                            games.apply(split.test))  # fmt: skip
    params = XgbParams(n_estimators=30, seed=7)
    booster = fit_booster(with_rate, "steam_purchase", params, "cpu", margin_from="game_target_rate")
    assert margin_source(booster) == "game_target_rate"
    assert margin_source(fit_booster(split, "steam_purchase", params, "cpu")) is None

    row = with_rate.test.iloc[[0]]
    free, paid, unseen = (games.apply(row.assign(appid=a)) for a in (570, 730, 999_999))
    p_free, p_paid, p_unseen = (float(predict(booster, r)[0]) for r in (free, paid, unseen))
    assert p_free < p_unseen < p_paid  # free games are never bought; an unseen game starts in between
    assert games.knows(730)
    assert not games.knows(999_999)

    save_version_files(tmp_path, booster, target="steam_purchase", games=games, threshold=0.5)
    loaded = load_booster(str(tmp_path / BOOSTER_FILE), feature_columns("steam_purchase"))
    assert margin_source(loaded) == "game_target_rate"
    rows = [{k: (None if isinstance(v, float) and v != v else v) for k, v in r.items()}
            for r in split.test.assign(appid=split.test["appid"].where(split.test.index % 7 != 0, 999_999))
            .to_dict("records")]  # fmt: skip
    batch = predict(loaded, games.apply(pd.DataFrame(rows)))
    np.testing.assert_allclose(predict_rows(loaded, rows, games), batch, rtol=1e-5, atol=1e-6)
    with pytest.raises(ValueError, match=r"logit\(game_target_rate\)"):
        predict(booster, split.test)  # rows without the game table applied


def pd_frame():
    import pandas as pd

    return pd.concat([feature_table(f"2019-03-0{d}", 300, seed=d).to_pandas() for d in (1, 2, 3)])


def test_losing_on_unseen_games_beyond_noise_vetoes_the_model_and_a_coin_toss_does_not():
    from shoplake.pipelines.purchase_model import unseen_games_veto

    unseen = {
        "games": 20,
        "model_auc": 0.43,
        "baselines": {"per-appid smoothed rate": 0.5, "positive_prob alone": 0.56},
        "leads": {"positive_prob alone": {"ci95": [-0.25, -0.02]}, "per-appid smoothed rate": {"ci95": [-0.2, 0]}},
    }
    veto = unseen_games_veto(unseen)["unseen games"]
    assert veto.startswith("on 20 games held out whole the model's AUC 0.4300 is below 'positive_prob alone' (0.5600)")
    coin = {**unseen, "leads": {"positive_prob alone": {"ci95": [-0.25, 0.1]}}}
    assert unseen_games_veto(coin) == {}
    assert unseen_games_veto({"games": 0, "rows": 0, "note": "too few"}) == {}
