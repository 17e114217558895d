"""Game-level purchase features: out of fold for training rows, the same on every backend and in the service."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from shoplake.transforms.game_features import FOLDS, PRIOR_ROWS, GameStats, fold_of


def _rows(n: int = 300, seed: int = 3) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    return pd.DataFrame({
        "recommendationid": [f"r{i}" for i in range(n)],
        "appid": rng.choice([10, 20, 30, 40], n).astype(float),
        "steam_purchase": rng.random(n) < 0.5,
        "positive_prob": np.where(rng.random(n) < 0.1, np.nan, rng.random(n)),
        "author_playtime_forever_h": rng.exponential(20, n),
    })  # fmt: skip


def test_a_training_rows_rate_never_holds_its_own_label():
    train = _rows()
    stats = GameStats.fit(train, "steam_purchase")
    got = stats.apply(train, out_of_fold_target="steam_purchase")
    folds = fold_of(train["recommendationid"])
    assert set(folds) == set(range(FOLDS))
    for i in range(len(train)):  # the rate of the game's rows in the other folds, never the row's own fold
        row = train.iloc[i]
        others = train[(train["appid"] == row["appid"]) & (folds != folds[i])]
        want = (others["steam_purchase"].sum() + PRIOR_ROWS * stats.prior) / (len(others) + PRIOR_ROWS)
        assert got["game_target_rate"].iloc[i] == pytest.approx(want)
    everyone = stats.apply(train)  # in-fold (what a held-out row gets): it would hold the row's own label
    assert not np.allclose(everyone["game_target_rate"], got["game_target_rate"])


def test_held_out_rows_get_every_training_row_and_an_unseen_game_the_training_rate():
    train, test = _rows(), _rows(50, seed=9)
    test.loc[0, "appid"] = 99.0  # a game training never held
    stats = GameStats.fit(train, "steam_purchase")
    got = stats.apply(test)
    game = train[train["appid"] == test["appid"].iloc[1]]
    want = (game["steam_purchase"].sum() + PRIOR_ROWS * stats.prior) / (len(game) + PRIOR_ROWS)
    assert got["game_target_rate"].iloc[1] == pytest.approx(want)
    assert got["game_log_reviews"].iloc[1] == pytest.approx(np.log1p(len(game)))
    assert got["game_mean_positive_prob"].iloc[1] == pytest.approx(game["positive_prob"].mean())
    assert got["game_median_playtime_h"].iloc[1] == pytest.approx(game["author_playtime_forever_h"].median())
    assert got["game_target_rate"].iloc[0] == pytest.approx(stats.prior)
    assert got["game_log_reviews"].iloc[0] == 0
    assert np.isnan(got["game_mean_positive_prob"].iloc[0])


def test_the_saved_table_gives_the_service_the_same_features():
    train, test = _rows(), _rows(20, seed=5)
    stats = GameStats.fit(train, "steam_purchase")
    loaded = GameStats.from_json(stats.to_json())
    frame = stats.apply(test)
    for i, appid in enumerate(test["appid"]):
        served = loaded.features_of(appid)
        for name, value in served.items():
            assert value == pytest.approx(frame[name].iloc[i], nan_ok=True), name
    assert loaded.features_of(None)["game_log_reviews"] == 0


@pytest.mark.spark
def test_spark_computes_the_same_features_as_pandas(spark):
    from shoplake.transforms.game_features import GAME_FEATURES, with_game_features_spark

    rows = _rows().assign(split=["train"] * 200 + ["valid"] * 50 + ["test"] * 50)
    train = rows[rows["split"] == "train"]
    stats = GameStats.fit(train, "steam_purchase")
    want = pd.concat([stats.apply(train, out_of_fold_target="steam_purchase"), stats.apply(rows[rows["split"] !=
                      "train"])]).set_index("recommendationid")  # fmt: skip
    out, spark_stats = with_game_features_spark(spark.createDataFrame(rows), "steam_purchase")
    got = out.toPandas().set_index("recommendationid").loc[want.index]
    for name in GAME_FEATURES:
        assert got[name].to_numpy() == pytest.approx(want[name].to_numpy(), nan_ok=True), name
    assert spark_stats.prior == pytest.approx(stats.prior)
    assert spark_stats.rows.keys() == stats.rows.keys()


def test_the_majority_class_pointer_and_its_constant_answers():
    from shoplake.ml.baselines import ConstantClassifier, majority_pointer

    pointer = majority_pointer({0: 2, 2: 6})  # a level with no training row gets a share of 0
    assert pointer == {"model": "majority_class", "class_probabilities": [0.25, 0.0, 0.75]}
    model = ConstantClassifier(pointer["class_probabilities"], ["a"])
    assert model.class_probabilities([{}, {}]).tolist() == [[0.25, 0.0, 0.75]] * 2
    assert model.churn_probability([{}]).tolist() == [0.75]
    assert majority_pointer([1, 1, 2])["class_probabilities"] == pytest.approx([0.25, 0.25, 0.5])
