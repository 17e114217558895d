"""Tweet engagement regressors: metrics by hand, the four models, the saved version scoring like the fitted one."""

from __future__ import annotations

import json
import math

import numpy as np
import pandas as pd
import pytest

from shoplake.ml import engagement_models as em

pytest.importorskip("xgboost")


def test_regression_metrics_by_hand():
    actual = [0, 0, 4, 10]
    predicted_log = np.log1p([1, 0, 4, 6])  # errors 1, 0, 0, 4
    m = em.regression_metrics(actual, predicted_log)
    assert m["mae"] == pytest.approx(5 / 4)
    assert m["rmse"] == pytest.approx(math.sqrt(17 / 4))
    assert m["mae_nonzero"] == pytest.approx(4 / 2)
    assert m["spearman"] == pytest.approx(0.9486832980505138)
    assert em.regression_metrics([0, 0], np.log1p([1, 1]))["spearman"] is None  # constant: undefined


def _tweets(n: int, seed: int) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    followers = rng.integers(0, 100_000, n)
    promo = rng.random(n) < 0.3
    engagement = np.where(promo, 0, rng.poisson(np.log1p(followers) / 3))
    return pd.DataFrame(
        {
            "tweet_id": [f"t{seed}-{i}" for i in range(n)],
            "created_at": pd.date_range("2022-12-22", periods=n, freq="min", tz="UTC"),
            "platform": np.where(rng.random(n) < 0.5, "shopee", "tokopedia"),
            "clean_text": np.where(promo, "promo murah diskon order sekarang", "kenapa aplikasi error lagi"),
            "followers": followers,
            "n_hashtags": promo.astype(int) * 3,
            "n_mentions": rng.integers(0, 3, n),
            "n_urls": promo.astype(int),
            "text_chars": rng.integers(10, 200, n),
            "hour": rng.integers(0, 24, n),
            "has_location": rng.random(n) < 0.5,
            "engagement": engagement,
            "embedding": [rng.normal(size=8).astype("float32") for _ in range(n)],
        }
    )


def test_four_models_are_compared_and_a_saved_version_scores_like_the_fitted_one(tmp_path):
    train, test = _tweets(300, 1), _tweets(80, 2)
    result = em.fit_and_compare(train, test, em.XgbKnobs(50, 3, 0.1, 7))
    assert set(result["metrics"]) == set(em.MODELS)
    assert result["best"] == min(result["metrics"], key=lambda m: result["metrics"][m]["mae"])
    median = np.median(np.log1p(train["engagement"]))
    assert result["metrics"]["median"]["mae"] == pytest.approx(np.mean(np.abs(test["engagement"] - np.expm1(median))))
    em.save_models(tmp_path, result)
    for model in em.MODELS:
        saved = em.score_saved(str(tmp_path), model, test)
        assert saved["mae"] == pytest.approx(result["metrics"][model]["mae"], rel=1e-6), model
    em.plot_predicted_vs_actual(tmp_path / "p.png", result, "t")
    assert (tmp_path / "p.png").stat().st_size > 1000


def test_fitting_twice_on_the_same_tweets_gives_the_same_figures_to_the_bit(tmp_path):
    train, test = _tweets(300, 1), _tweets(80, 2)
    first = em.fit_and_compare(train, test, em.XgbKnobs(50, 3, 0.1, 7))
    second = em.fit_and_compare(train, test, em.XgbKnobs(50, 3, 0.1, 7))
    assert json.dumps(second["metrics"], sort_keys=True) == json.dumps(first["metrics"], sort_keys=True)
    for model in first["predictions"]:
        assert np.array_equal(second["predictions"][model], first["predictions"][model]), model


def test_without_embeddings_the_embedding_model_is_left_out_with_the_reason():
    train, test = _tweets(120, 3), _tweets(40, 4)
    train["embedding"] = None
    result = em.fit_and_compare(train, test, em.XgbKnobs(20, 2, 0.1, 7))
    assert "xgb_embeddings_meta" not in result["metrics"]
    assert result["embedding_note"].startswith("not trained")


def test_the_per_account_baseline_shrinks_each_authors_mean_toward_the_median():
    import numpy as np
    import pandas as pd

    from shoplake.ml.engagement_models import per_account_mean, regression_metrics

    train = pd.DataFrame({"author_key": ["a", "a", "b"]})
    test = pd.DataFrame({"author_key": ["a", "b", "c"]})
    got = per_account_mean(train, test, np.array([1.0, 1.0, 3.0]), prior=0.0)
    assert np.allclose(got, [2 / 7, 3 / 6, 0.0])  # 5 pseudo-tweets of the prior; an unseen author is the prior
    # the gate's metric ranks: a constant at the zero most tweets have does not win RMSE on log1p
    y = np.array([0, 0, 0, 0, 0, 0, 0, 50, 80, 120], dtype=float)
    zero, informed = np.zeros(10), np.log1p(np.array([0, 0, 0, 3, 0, 0, 0, 40, 60, 90], dtype=float))
    assert regression_metrics(y, informed)["rmse_log1p"] < regression_metrics(y, zero)["rmse_log1p"]
