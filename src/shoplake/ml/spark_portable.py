"""Score a saved Spark MLlib churn ``PipelineModel`` without Spark: its Parquet/JSON files read with pyarrow.

The prediction service answers in milliseconds, so it cannot start a JVM or a Spark job per request. Spark saves
every fitted stage as JSON metadata plus a small Parquet table; this module reads exactly the stages the churn
pipeline (:func:`shoplake.ml.churn.pipeline`) is made of and applies them with numpy, following Spark's own rules:

* ``ImputerModel`` — null / NaN numeric values become the stage's surrogate (the training median).
* ``StringIndexerModel`` (``handleInvalid=keep``) — a value's index in the label list (``str()`` of the value);
  null or unseen → the extra index ``len(labels)``.
* ``OneHotEncoderModel`` (``handleInvalid=keep``, ``dropLast``) — a vector of the stage's category size (labels + the
  unknown slot, dropping Spark's second extra slot), one 1.0 at the index.
* ``VectorAssembler`` — concatenation in its ``inputCols`` order; ``StandardScalerModel`` — ``x / std`` (0 where the
  std is 0; ``withMean`` subtracts the mean first).
* Multiclass models (the clickstream engagement levels): :meth:`PortablePipeline.class_probabilities`, Spark's
  ``probability`` vector (a multinomial logistic regression's softmax, a random forest's mean leaf class shares).
* Classifiers, ``P(churn)`` as the churn jobs write it (:func:`shoplake.ml.churn.churn_probability`):
  ``LogisticRegressionModel`` (binomial) sigmoid of the margin; ``LinearSVCModel`` sigmoid of the margin (it has
  no probability); ``RandomForestClassificationModel`` the mean of the trees' normalised leaf class counts;
  ``GBTClassificationModel`` ``1 / (1 + exp(-2 · Σ wᵢ treeᵢ))`` (Spark's log-loss link).

Anything else raises ``ValueError`` naming the stage, so a new stage type cannot be scored wrongly in silence.
``tests/lake/ml/test_spark_portable.py`` checks the scores equal Spark's ``transform`` on held-out users for each
model of the zoo.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np


def _fs(uri: str):
    from shoplake.io.lake import filesystem

    return filesystem(uri)


def _metadata(fs: Any, path: str) -> dict[str, Any]:
    part = sorted(p for p in fs.ls(f"{path}/metadata", detail=False) if p.rsplit("/", 1)[-1].startswith("part-"))
    return json.loads(fs.cat(part[0]).decode().splitlines()[0])


def _table(fs: Any, path: str) -> list[dict[str, Any]]:
    import pyarrow.parquet as pq

    files = sorted(p for p in fs.ls(path, detail=False) if p.endswith(".parquet"))
    rows: list[dict[str, Any]] = []
    for f in files:
        with fs.open(f, "rb") as fh:
            rows.extend(pq.read_table(fh).to_pylist())
    return rows


def _vector(v: Mapping[str, Any], size: int | None = None) -> np.ndarray:
    """Spark's vector struct (``type`` 0 sparse / 1 dense) as a dense array."""
    if v["type"] == 1:
        return np.asarray(v["values"], dtype=float)
    out = np.zeros(v["size"] if size is None else size)
    out[np.asarray(v["indices"], dtype=int)] = v["values"]
    return out


def _matrix(m: Mapping[str, Any]) -> np.ndarray:
    """Spark's matrix struct (dense only; the churn models' coefficient matrices are dense)."""
    if m["type"] != 1:
        raise ValueError("sparse coefficient matrices are not supported")
    values = np.asarray(m["values"], dtype=float)
    if m["isTransposed"]:
        return values.reshape(m["numRows"], m["numCols"])
    return values.reshape(m["numCols"], m["numRows"]).T


@dataclass
class Tree:
    """One decision tree as arrays indexed by node id (Spark saves nodes in pre-order, the root first)."""

    left: np.ndarray
    right: np.ndarray
    feature: np.ndarray
    threshold: np.ndarray
    categories: dict[int, frozenset[float]]
    prediction: np.ndarray
    stats: list[list[float]]

    @classmethod
    def from_nodes(cls, nodes: list[dict[str, Any]]) -> Tree:
        n = max(node["id"] for node in nodes) + 1
        left, right, feature = np.full(n, -1), np.full(n, -1), np.full(n, -1)
        threshold, prediction = np.zeros(n), np.zeros(n)
        stats: list[list[float]] = [[] for _ in range(n)]
        categories: dict[int, frozenset[float]] = {}
        for node in nodes:
            i = node["id"]
            left[i], right[i], prediction[i] = node["leftChild"], node["rightChild"], node["prediction"]
            stats[i] = list(node["impurityStats"] or [])
            split = node["split"]
            if node["leftChild"] >= 0:
                feature[i] = split["featureIndex"]
                if split["numCategories"] == -1:
                    threshold[i] = split["leftCategoriesOrThreshold"][0]
                else:
                    categories[i] = frozenset(split["leftCategoriesOrThreshold"])
        return cls(left, right, feature, threshold, categories, prediction, stats)

    def leaf(self, x: np.ndarray) -> int:
        i = 0
        while self.left[i] >= 0:
            v = x[self.feature[i]]
            go_left = v in self.categories[i] if i in self.categories else v <= self.threshold[i]
            i = self.left[i] if go_left else self.right[i]
        return int(i)


@dataclass
class PortablePipeline:
    """A churn pipeline read from its saved files; :meth:`churn_probability` scores feature rows."""

    numeric: list[str] = field(default_factory=list)
    surrogates: dict[str, float] = field(default_factory=dict)
    categorical: list[str] = field(default_factory=list)
    labels: dict[str, dict[str, int]] = field(default_factory=dict)
    onehot_sizes: dict[str, int] = field(default_factory=dict)
    columns: dict[str, tuple[str, str]] = field(default_factory=dict)  # output col → (kind, input col)
    assembled: list[str] = field(default_factory=list)
    std: np.ndarray | None = None
    mean: np.ndarray | None = None
    classifier: str = ""
    coef: np.ndarray | None = None
    intercept: float = 0.0
    trees: list[Tree] = field(default_factory=list)
    tree_weights: list[float] = field(default_factory=list)
    num_classes: int = 2
    coef_matrix: np.ndarray | None = None  # a multinomial logistic regression: classes × features
    intercepts: np.ndarray | None = None

    @property
    def input_columns(self) -> list[str]:
        """The feature columns a row may carry (missing ones are imputed / unknown, as in Spark)."""
        return [*self.numeric, *self.categorical]

    def features(self, rows: Sequence[Mapping[str, Any]]) -> np.ndarray:
        """The scaled feature matrix (rows × features) Spark's classifier would see."""
        blocks = []
        for col in self.assembled:
            kind, src = self.columns[col]
            if kind == "imputed":
                vals = [_number(r.get(src)) for r in rows]
                blocks.append(np.array([[self.surrogates[src] if v is None else v] for v in vals], dtype=float))
            else:
                labels, size = self.labels[src], self.onehot_sizes[src]
                block = np.zeros((len(rows), size))
                for i, r in enumerate(rows):
                    value = r.get(src)
                    idx = labels.get(_label(value), len(labels)) if value is not None else len(labels)
                    if idx < size:
                        block[i, idx] = 1.0
                blocks.append(block)
        x = np.hstack(blocks) if blocks else np.zeros((len(rows), 0))
        if self.mean is not None:
            x = x - self.mean
        if self.std is not None:
            x = np.divide(x, self.std, out=np.zeros_like(x), where=self.std != 0)
        return x

    def churn_probability(self, rows: Sequence[Mapping[str, Any]]) -> np.ndarray:
        """``P(churn)`` of each row, equal to the churn jobs' ``churn_probability`` column."""
        x = self.features(rows)
        if self.classifier in ("logistic_regression", "linear_svc"):
            return 1.0 / (1.0 + np.exp(-(x @ self.coef + self.intercept)))
        if self.classifier == "random_forest":
            out = np.empty(len(x))
            for r, row in enumerate(x):
                votes = np.zeros(2)
                for tree in self.trees:
                    counts = np.asarray(tree.stats[tree.leaf(row)], dtype=float)
                    total = counts.sum()
                    if total != 0:
                        votes += counts / total
                out[r] = votes[1] / votes.sum() if votes.sum() else 0.0
            return out
        if self.classifier == "gbt":
            margin = np.array(
                [sum(w * t.prediction[t.leaf(row)] for t, w in zip(self.trees, self.tree_weights, strict=True))
                 for row in x]
            )  # fmt: skip
            return 1.0 / (1.0 + np.exp(-2.0 * margin))
        raise ValueError(f"no scorer for classifier {self.classifier!r}")

    def class_probabilities(self, rows: Sequence[Mapping[str, Any]]) -> np.ndarray:
        """Spark's ``probability`` vector of each row (rows × classes): a multinomial logistic regression's softmax,
        a random forest's mean of the trees' normalised leaf class counts; binary models give ``[1 - p, p]``."""
        x = self.features(rows)
        if self.classifier == "logistic_regression" and self.coef_matrix is not None:
            margins = x @ self.coef_matrix.T + self.intercepts
            margins -= margins.max(axis=1, keepdims=True)
            e = np.exp(margins)
            return e / e.sum(axis=1, keepdims=True)
        if self.classifier == "random_forest":
            out = np.zeros((len(x), self.num_classes))
            for r, row in enumerate(x):
                for tree in self.trees:
                    counts = np.asarray(tree.stats[tree.leaf(row)], dtype=float)
                    total = counts.sum()
                    if total != 0:
                        out[r, : len(counts)] += counts / total
                s = out[r].sum()
                out[r] = out[r] / s if s else out[r]
            return out
        p = self.churn_probability(rows)
        return np.column_stack([1.0 - p, p])

    def predict(self, rows: Sequence[Mapping[str, Any]]) -> np.ndarray:
        """Spark's ``prediction`` (1.0 = churn): probability > 0.5, LinearSVC margin > 0 (the same cut)."""
        return (self.churn_probability(rows) > 0.5).astype(float)


def _number(value: Any) -> float | None:
    """A numeric feature value: ``None`` / NaN are missing (imputed); numeric strings are read as numbers."""
    if value is None:
        return None
    if isinstance(value, str):
        try:
            value = float(value)
        except ValueError:
            raise ValueError(f"not a number: {value!r}") from None
    number = float(value)
    return None if math.isnan(number) else number


def _label(value: Any) -> str:
    """StringIndexer casts non-string inputs to string the way Spark prints them (``1.0``, ``true``)."""
    if isinstance(value, bool):
        return str(value).lower()
    return str(value)


_CLASSIFIERS = {
    "org.apache.spark.ml.classification.LogisticRegressionModel": "logistic_regression",
    "org.apache.spark.ml.classification.LinearSVCModel": "linear_svc",
    "org.apache.spark.ml.classification.RandomForestClassificationModel": "random_forest",
    "org.apache.spark.ml.classification.GBTClassificationModel": "gbt",
}


def load_pipeline(uri: str) -> PortablePipeline:
    """Read the saved ``PipelineModel`` at ``uri`` (a path or any fsspec URI) into a :class:`PortablePipeline`."""
    fs, root = _fs(uri)
    meta = _metadata(fs, root)
    if meta["class"] != "org.apache.spark.ml.PipelineModel":
        raise ValueError(f"{uri} is a {meta['class']}, not a saved PipelineModel")
    stage_dirs = {p.rsplit("/", 1)[-1]: p for p in fs.ls(f"{root}/stages", detail=False)}
    ordered = sorted(stage_dirs, key=lambda name: int(name.split("_", 1)[0]))
    pipe = PortablePipeline()
    for name in ordered:
        path = stage_dirs[name]
        stage = _metadata(fs, path)
        cls, params = stage["class"], stage["paramMap"]
        if cls == "org.apache.spark.ml.feature.ImputerModel":
            row = _table(fs, f"{path}/data")[0]
            for src, out in zip(params["inputCols"], params["outputCols"], strict=True):
                pipe.numeric.append(src)
                pipe.surrogates[src] = float(row[src])
                pipe.columns[out] = ("imputed", src)
        elif cls == "org.apache.spark.ml.feature.StringIndexerModel":
            if params.get("handleInvalid") != "keep":
                raise ValueError(f"{name}: only handleInvalid=keep is supported")
            labels = _table(fs, f"{path}/data")[0]["labelsArray"]
            for src, out, lab in zip(params["inputCols"], params["outputCols"], labels, strict=True):
                pipe.categorical.append(src)
                pipe.labels[src] = {v: i for i, v in enumerate(lab)}
                pipe.columns[out] = ("indexed", src)
        elif cls == "org.apache.spark.ml.feature.OneHotEncoderModel":
            sizes = _table(fs, f"{path}/data")[0]["categorySizes"]
            keep = params.get("handleInvalid") == "keep"
            drop_last = params.get("dropLast", stage.get("defaultParamMap", {}).get("dropLast", True))
            for src, out, size in zip(params["inputCols"], params["outputCols"], sizes, strict=True):
                _, original = pipe.columns[src]
                pipe.onehot_sizes[original] = (
                    size + (1 if keep and not drop_last else 0) - (1 if drop_last and not keep else 0)
                )
                pipe.columns[out] = ("onehot", original)
        elif cls == "org.apache.spark.ml.feature.VectorAssembler":
            pipe.assembled = list(params["inputCols"])
        elif cls == "org.apache.spark.ml.feature.StandardScalerModel":
            row = _table(fs, f"{path}/data")[0]
            defaults = stage.get("defaultParamMap", {})
            if params.get("withStd", defaults.get("withStd", True)):
                pipe.std = _vector(row["std"])
            if params.get("withMean", defaults.get("withMean", False)):
                pipe.mean = _vector(row["mean"])
        elif cls in _CLASSIFIERS:
            pipe.classifier = _CLASSIFIERS[cls]
            _load_classifier(fs, path, pipe)
        else:
            raise ValueError(f"{uri}: stage {name} ({cls}) has no portable scorer")
    if not pipe.classifier:
        raise ValueError(f"{uri}: the pipeline has no classifier stage")
    return pipe


def _load_classifier(fs: Any, path: str, pipe: PortablePipeline) -> None:
    if pipe.classifier == "logistic_regression":
        row = _table(fs, f"{path}/data")[0]
        pipe.num_classes = int(row["numClasses"])
        if row["isMultinomial"]:  # class_probabilities only: P(churn) is a binomial model's
            pipe.coef_matrix = _matrix(row["coefficientMatrix"])
            pipe.intercepts = _vector(row["interceptVector"])
            return
        pipe.coef = _matrix(row["coefficientMatrix"])[0]
        pipe.intercept = float(_vector(row["interceptVector"])[0])
    elif pipe.classifier == "linear_svc":
        row = _table(fs, f"{path}/data")[0]
        pipe.coef = _vector(row["coefficients"])
        pipe.intercept = float(row["intercept"])
    else:
        meta = _metadata(fs, path)
        pipe.num_classes = int(meta.get("numClasses", 2))
        nodes: dict[int, list[dict[str, Any]]] = {}
        for row in _table(fs, f"{path}/data"):
            nodes.setdefault(row["treeID"], []).append(row["nodeData"])
        weights = {row["_1"]: float(row["_3"]) for row in _table(fs, f"{path}/treesMetadata")}
        for tree_id in sorted(nodes):
            pipe.trees.append(Tree.from_nodes(nodes[tree_id]))
            pipe.tree_weights.append(weights[tree_id])
