"""Tweet engagement regressors on log1p(likes + retweets): a median baseline, a linear model on hashtags and
followers, XGBoost on TF-IDF + meta features, XGBoost on sentence embeddings + meta features.

Metrics on the original scale (predictions ``expm1``-ed and clipped at 0): MAE, RMSE, Spearman rank correlation
(``None`` when either side is constant) and MAE on the tweets with any engagement. Heavy imports inside functions.
"""

from __future__ import annotations

import json
import logging
import pickle
from dataclasses import dataclass
from pathlib import Path
from typing import Any

log = logging.getLogger(__name__)

MODELS = ("median", "linear_hashtags_followers", "xgb_tfidf_meta", "xgb_embeddings_meta")
#: the file of a saved version that lists its models (and the meta features)
SPEC_FILE = "features.json"
META = ["log_followers", "n_hashtags", "n_mentions", "n_urls", "text_chars", "hour", "has_location", "is_tokopedia"]


@dataclass(frozen=True)
class XgbKnobs:
    n_estimators: int
    max_depth: int
    learning_rate: float
    seed: int


def meta_frame(df: Any):
    """The meta features of curated tweets (numbers only; the platform as a 0/1 column)."""
    import numpy as np
    import pandas as pd

    return pd.DataFrame(
        {
            "log_followers": np.log1p(df["followers"].astype(float)),
            "n_hashtags": df["n_hashtags"].astype(float),
            "n_mentions": df["n_mentions"].astype(float),
            "n_urls": df["n_urls"].astype(float),
            "text_chars": df["text_chars"].astype(float),
            "hour": df["hour"].astype(float),
            "has_location": df["has_location"].astype(float),
            "is_tokopedia": (df["platform"] == "tokopedia").astype(float),
        }
    )


def regression_metrics(actual: Any, predicted_log: Any) -> dict[str, float | None]:
    """MAE / RMSE on the original scale, RMSE on log1p (the gate: it ranks — a constant cannot win it by sitting at
    the zero most tweets have, as it wins MAE), Spearman, MAE on non-zero tweets, and the rows behind them."""
    import numpy as np
    from scipy.stats import spearmanr

    y = np.asarray(actual, dtype=float)
    p = np.clip(np.expm1(np.asarray(predicted_log, dtype=float)), 0, None)
    nonzero = y > 0
    rho = None
    if np.ptp(y) > 0 and np.ptp(p) > 0:
        rho = float(spearmanr(y, p).statistic)
    return {
        "mae": float(np.mean(np.abs(y - p))),
        "rmse": float(np.sqrt(np.mean((y - p) ** 2))),
        "rmse_log1p": rmse_log1p(y, predicted_log),
        "spearman": rho,
        "mae_nonzero": float(np.mean(np.abs(y[nonzero] - p[nonzero]))) if nonzero.any() else None,
        "n": len(y),
        "n_nonzero": int(nonzero.sum()),
    }


#: pseudo-tweets of the overall median an account's mean is shrunk toward (an account seen once is mostly the prior)
ACCOUNT_PRIOR = 5.0


def per_account_mean(train: Any, test: Any, y_train_log: Any, prior: float) -> Any:
    """The baseline an analyst tries first: each test tweet's author's mean log1p engagement in the training tweets,
    shrunk toward ``prior`` by :data:`ACCOUNT_PRIOR` pseudo-tweets; an author the training tweets never saw gets
    ``prior``."""
    import pandas as pd

    logs = pd.Series(y_train_log, index=train.index)
    grouped = logs.groupby(train["author_key"]).agg(["sum", "count"])
    mean = (grouped["sum"] + ACCOUNT_PRIOR * prior) / (grouped["count"] + ACCOUNT_PRIOR)
    return test["author_key"].map(mean).fillna(prior).to_numpy(dtype=float)


def _xgb(knobs: XgbKnobs):
    import xgboost as xgb

    return xgb.XGBRegressor(
        n_estimators=knobs.n_estimators, max_depth=knobs.max_depth, learning_rate=knobs.learning_rate,
        random_state=knobs.seed, tree_method="hist", subsample=0.9, colsample_bytree=0.9, n_jobs=2,
    )  # fmt: skip


def _embeddings(df: Any):
    import numpy as np

    return np.vstack(df["embedding"].to_list())


def fit_and_compare(train: Any, test: Any, knobs: XgbKnobs) -> dict[str, Any]:
    """Fit the four models on ``train``, score ``test``; ``{"metrics", "best", "fitted", "predictions", ...}``."""
    import numpy as np
    from scipy import sparse
    from sklearn.feature_extraction.text import TfidfVectorizer
    from sklearn.linear_model import Ridge

    y_train = np.log1p(train["engagement"].astype(float).to_numpy())
    y_test = test["engagement"].astype(float).to_numpy()
    m_train, m_test = meta_frame(train), meta_frame(test)
    fitted: dict[str, Any] = {}
    preds: dict[str, Any] = {}

    median = float(np.median(y_train))
    fitted["median"] = median
    preds["median"] = np.full(len(test), median)

    linear_cols = ["log_followers", "n_hashtags"]
    ridge = Ridge(alpha=1.0).fit(m_train[linear_cols], y_train)
    fitted["linear_hashtags_followers"] = (ridge, linear_cols)
    preds["linear_hashtags_followers"] = ridge.predict(m_test[linear_cols])

    tfidf = TfidfVectorizer(min_df=2, max_features=5000, ngram_range=(1, 2), sublinear_tf=True)
    x_train = sparse.hstack([tfidf.fit_transform(train["clean_text"]), sparse.csr_matrix(m_train.to_numpy())]).tocsr()
    x_test = sparse.hstack([tfidf.transform(test["clean_text"]), sparse.csr_matrix(m_test.to_numpy())]).tocsr()
    booster = _xgb(knobs).fit(x_train, y_train)
    fitted["xgb_tfidf_meta"] = (tfidf, booster)
    preds["xgb_tfidf_meta"] = booster.predict(x_test)

    has_emb = train["embedding"].notna().all() and test["embedding"].notna().all() and len(train) > 0
    note = ""
    if has_emb:
        e_train = np.hstack([_embeddings(train), m_train.to_numpy()])
        e_test = np.hstack([_embeddings(test), m_test.to_numpy()])
        emb_booster = _xgb(knobs).fit(e_train, y_train)
        fitted["xgb_embeddings_meta"] = emb_booster
        preds["xgb_embeddings_meta"] = emb_booster.predict(e_test)
    else:
        note = "not trained: some tweets of the window have no embeddings (run embed_tweets for every day)"
    metrics = {name: regression_metrics(y_test, p) for name, p in preds.items()}
    best = min(metrics, key=lambda m: (metrics[m]["rmse_log1p"], MODELS.index(m)))
    baseline_preds = {"median": preds["median"]}
    if "author_key" in train.columns and "author_key" in test.columns:  # a baseline, never a model to serve
        baseline_preds["per_account_mean"] = per_account_mean(train, test, y_train, median)
        metrics["per_account_mean"] = regression_metrics(y_test, baseline_preds["per_account_mean"])
    for name, m in metrics.items():
        log.info("%s: MAE %.3f RMSE %.3f Spearman %s", name, m["mae"], m["rmse"], m["spearman"])
    return {"metrics": metrics, "best": best, "fitted": fitted, "predictions": preds, "actual": y_test,
            "baseline_predictions": baseline_preds, "embedding_note": note}  # fmt: skip


def rmse_log1p(actual: Any, predicted_log: Any) -> float:
    """The gate's metric: RMSE between log1p of the truth and of the predictions (``expm1``-ed, clipped at 0), on its
    own for resampling and in :func:`regression_metrics`."""
    import numpy as np

    p = np.clip(np.expm1(np.asarray(predicted_log, dtype=float)), 0, None)
    return float(np.sqrt(np.mean((np.log1p(np.asarray(actual, dtype=float)) - np.log1p(p)) ** 2)))


def leads_over_baselines(result: dict[str, Any], seed: int) -> dict[str, dict[str, Any]]:
    """The best model's RMSE-log1p lead over each baseline on the same held-out tweets, paired bootstrap 95 %
    interval (:func:`shoplake.ml.metrics.paired_lead`; positive: the model errs less)."""
    from shoplake.ml.metrics import paired_lead

    model = result["predictions"][result["best"]]
    return {name: paired_lead(result["actual"], model, base, rmse_log1p, higher_is_better=False, seed=seed)
            for name, base in result["baseline_predictions"].items()}  # fmt: skip


def save_models(out: Path, result: dict[str, Any]) -> None:
    """Every fitted model into ``out`` (pickles of the scikit-learn parts, XGBoost's own format for boosters)."""
    fitted = result["fitted"]
    (out / "median.json").write_text(json.dumps({"log1p_median": fitted["median"]}))
    with open(out / "linear.pkl", "wb") as fh:
        pickle.dump(fitted["linear_hashtags_followers"], fh)
    tfidf, booster = fitted["xgb_tfidf_meta"]
    with open(out / "tfidf.pkl", "wb") as fh:
        pickle.dump(tfidf, fh)
    booster.save_model(out / "xgb_tfidf_meta.ubj")
    if "xgb_embeddings_meta" in fitted:
        fitted["xgb_embeddings_meta"].save_model(out / "xgb_embeddings_meta.ubj")
    (out / SPEC_FILE).write_text(json.dumps({"meta": META, "models": list(fitted)}))


def saved_models(version_dir: str) -> list[str]:
    """The models a saved version holds (by name)."""
    from shoplake.io.lake import filesystem

    fs, root = filesystem(version_dir)
    return json.loads(fs.cat(f"{root}/{SPEC_FILE}"))["models"]


class SavedModel:
    """One model of a saved version, loaded once: :meth:`predict` gives log1p predictions for curated tweet rows."""

    def __init__(self, version_dir: str, model: str) -> None:
        import xgboost as xgb

        from shoplake.io.lake import filesystem

        fs, root = filesystem(version_dir)
        self.model = model
        self.median = self.ridge = self.tfidf = self.booster = None
        if model == "median":
            self.median = json.loads(fs.cat(f"{root}/median.json"))["log1p_median"]
        elif model == "linear_hashtags_followers":
            self.ridge, self.cols = pickle.loads(fs.cat(f"{root}/linear.pkl"))
        else:
            self.booster = xgb.XGBRegressor()
            with fs.open(f"{root}/{model}.ubj", "rb") as fh:
                self.booster.load_model(bytearray(fh.read()))
            if model == "xgb_tfidf_meta":
                self.tfidf = pickle.loads(fs.cat(f"{root}/tfidf.pkl"))

    def predict(self, df: Any) -> Any:
        import numpy as np
        from scipy import sparse

        meta = meta_frame(df)
        if self.model == "median":
            return np.full(len(df), self.median)
        if self.model == "linear_hashtags_followers":
            return self.ridge.predict(meta[self.cols])
        if self.model == "xgb_tfidf_meta":
            x = sparse.hstack([self.tfidf.transform(df["clean_text"]), sparse.csr_matrix(meta.to_numpy())]).tocsr()
            return self.booster.predict(x)
        return self.booster.predict(np.hstack([_embeddings(df), meta.to_numpy()]))


def load_saved(version_dir: str, model: str) -> SavedModel:
    """``model`` of the saved version at ``version_dir``, loaded."""
    return SavedModel(version_dir, model)


def predict_saved(version_dir: str, model: str, df: Any) -> Any:
    """log1p predictions of a saved version's ``model`` for curated tweet rows."""
    return load_saved(version_dir, model).predict(df)


def score_saved(version_dir: str, model: str, df: Any) -> dict[str, float | None]:
    """A saved version's ``model`` scored on ``df`` (the gate's re-scoring of the champion)."""
    return regression_metrics(df["engagement"].astype(float).to_numpy(), predict_saved(version_dir, model, df))


def plot_predicted_vs_actual(path: Path, result: dict[str, Any], title: str) -> None:
    """One scatter per model of predicted vs actual engagement (log1p axes), the diagonal for reference."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import numpy as np

    names = list(result["predictions"])
    # two panels a row: one row of four was squeezed unreadable at the Lake page's width
    cols = min(2, len(names))
    rows = -(-len(names) // cols)
    fig, grid = plt.subplots(rows, cols, figsize=(3.6 * cols, 3.4 * rows), dpi=100, squeeze=False)
    axes = [list(grid.flat)]
    for spare in axes[0][len(names) :]:
        spare.axis("off")
    actual = np.log1p(result["actual"])
    top = max(1.0, float(actual.max()))
    for ax, name in zip(axes[0][: len(names)], names, strict=True):
        pred = np.log1p(np.clip(np.expm1(result["predictions"][name]), 0, None))
        ax.scatter(actual, pred, s=6, alpha=0.5)
        ax.plot([0, top], [0, top], linestyle=":", color="grey")
        m = result["metrics"][name]
        ax.set_title(f"{name}{' *' if name == result['best'] else ''}\nMAE {m['mae']:.2f}", fontsize=8)
        ax.set_xlabel("log1p(actual)", fontsize=8)
        ax.set_ylabel("log1p(predicted)", fontsize=8)
    fig.suptitle(title, fontsize=9)
    fig.tight_layout()
    fig.savefig(path, bbox_inches="tight")
    plt.close(fig)
