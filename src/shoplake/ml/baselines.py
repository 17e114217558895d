"""Named baselines a model must beat on the same held-out rows (``shoplake.ml.publishing.Gate.baselines``).

Each is the obvious thing an analyst would try first; a model that does not beat the strongest of them adds nothing
and is not promoted.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import numpy as np
    import pandas as pd

#: pseudo-rows of the overall rate each group's rate is shrunk toward (a game with 3 reviews is mostly the prior)
PRIOR_ROWS = 20.0


def smoothed_group_rate(
    train: pd.DataFrame, test: pd.DataFrame, key: str, target: str, prior_rows: float = PRIOR_ROWS
) -> np.ndarray:
    """Each test row's group's rate of ``target`` in ``train``, shrunk toward the overall train rate by
    ``prior_rows`` pseudo-rows: ``(positives + prior_rows * overall) / (rows + prior_rows)``; a group the training
    rows never saw gets the overall rate."""
    import numpy as np

    y = train[target].astype(float)
    overall = float(y.mean()) if len(y) else 0.5
    grouped = y.groupby(train[key]).agg(["sum", "count"])
    rate = (grouped["sum"] + prior_rows * overall) / (grouped["count"] + prior_rows)
    return test[key].map(rate).fillna(overall).to_numpy(dtype=np.float64)


def binary_baseline_scores(
    train: pd.DataFrame, test: pd.DataFrame, target: str, *, group: str | None, score: str | None
) -> dict[str, np.ndarray]:
    """The scores on ``test`` of: the smoothed rate of the row's ``group`` (``per-<group> smoothed rate``) and a raw
    score column taken as it is (``<score> alone``, missing values ranked in the middle)."""
    import numpy as np

    out = {}
    if group is not None and group in train.columns:
        out[f"per-{group} smoothed rate"] = smoothed_group_rate(train, test, group, target)
    if score is not None and score in test.columns:
        out[f"{score} alone"] = test[score].fillna(0.5).to_numpy(dtype=np.float64)
    return out


def logistic_baseline_scores(train: pd.DataFrame, test: pd.DataFrame, target: str) -> np.ndarray | None:
    """The scores on ``test`` of a logistic regression on the review and author features (no game: the per-game
    rate is its own baseline), standardised, missing values imputed with the training medians; None when
    undefined (one class on either side, or no feature)."""
    import numpy as np
    from sklearn.impute import SimpleImputer
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    from shoplake.transforms.purchase_features import feature_columns

    features = [c for c in feature_columns(target) if c in train.columns and train[c].notna().any()]
    y_train, y_test = train[target].to_numpy().astype(int), test[target].to_numpy().astype(int)
    if len(np.unique(y_train)) < 2 or len(np.unique(y_test)) < 2 or not features:
        return None
    model = make_pipeline(SimpleImputer(strategy="median"), StandardScaler(), LogisticRegression(max_iter=2000))
    model.fit(train[features].astype(float), y_train)
    return model.predict_proba(test[features].astype(float))[:, 1]


#: the pointer's ``model`` when a majority-class baseline won and is published as the champion
MAJORITY_CLASS = "majority_class"


def majority_pointer(class_counts: dict[Any, int] | list[int]) -> dict[str, Any]:
    """The pointer fields that serve the majority-class baseline: its name and the training class shares (the
    constant probabilities it answers; their argmax is the majority class). ``class_counts``: counts by class index
    0…k-1 (a dict may skip classes)."""
    if isinstance(class_counts, dict):
        k = max(int(c) for c in class_counts) + 1 if class_counts else 1
        counts = [float(class_counts.get(c, class_counts.get(str(c), 0))) for c in range(k)]
    else:
        counts = [float(c) for c in class_counts]
    total = sum(counts) or 1.0
    return {"model": MAJORITY_CLASS, "class_probabilities": [c / total for c in counts]}


def majority_class(pointer: dict[str, Any]) -> int:
    """The class index a :func:`majority_pointer` answers (the largest of its class shares; ties: the first)."""
    shares = pointer["class_probabilities"]
    return max(range(len(shares)), key=shares.__getitem__)


class ConstantClassifier:
    """The majority-class baseline as served: the same class probabilities for every input, behind the interface of
    the model it stands in for (``input_columns`` of that model's version, so requests are checked the same way)."""

    def __init__(self, probabilities: list[float], input_columns: list[str] | None = None) -> None:
        import numpy as np

        self.probabilities = np.asarray(probabilities, dtype=np.float64)
        self.input_columns = list(input_columns or [])

    def class_probabilities(self, rows: Any) -> Any:
        import numpy as np

        return np.tile(self.probabilities, (len(rows), 1))

    def churn_probability(self, rows: Any) -> Any:
        return self.class_probabilities(rows)[:, -1]

    def five_class_proba(self, texts: Any, titles: Any = None) -> Any:
        return self.class_probabilities(texts)
