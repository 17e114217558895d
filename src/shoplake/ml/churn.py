"""The churn model zoo on Spark MLlib: RandomForest, GBT, LogisticRegression, LinearSVC with CrossValidator on F1.

* Split: stratified by label, seeded — ``test_fraction`` of each class held out (users are cross-sectional rows).
* Class imbalance: a ``weight`` column (balanced: each class weighs half) fed to every classifier.
* Each model: imputer → (string indexer + one-hot) → assembler → scaler → classifier, in one ``Pipeline``, so the
  saved model takes raw feature rows. ``CrossValidator`` tunes a small grid on *weighted* F1.
* Report per model, on the held-out users: weighted F1, minority-class (churn) F1, precision and recall, accuracy
  and AUC — accuracy alone flatters a model on imbalanced churn (always "stays" scores the majority share).
* The best model by mean cross-validated F1 (not by the test set) is the version's model.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field, fields
from typing import TYPE_CHECKING, Any

from shoplake.jobconfig import check_options, option
from shoplake.progress import Progress

if TYPE_CHECKING:
    from pyspark.sql import DataFrame

log = logging.getLogger(__name__)

MODELS = ("logistic_regression", "random_forest", "gbt", "linear_svc")
LABEL, WEIGHT = "label", "weight"
GRIDS = ["small", "tiny"]


@dataclass(frozen=True, kw_only=True)
class ZooConfig:
    """Knobs of the model zoo (declared once: the churn jobs' flags and the churn DAGs' Params derive from them)."""

    models: tuple[str, ...] = option(
        MODELS,
        help="Spark MLlib models to cross-validate; the best cross-validated F1 becomes the candidate",
        items={"enum": list(MODELS)},
    )
    folds: int = option(
        3, help="cross-validation folds per model and grid point (more = slower, steadier F1)", minimum=2, maximum=10
    )
    test_fraction: float = option(
        0.25,
        help="share (0.05-0.5) of each class's users held out for the final evaluation and the champion gate",
        minimum=0.05,
        maximum=0.5,
    )
    seed: int = option(42, help="seed of the held-out split, the folds and the tree models")
    parallelism: int = option(2, help="models CrossValidator fits at once (Spark jobs in parallel)", minimum=1)
    balance: bool = option(True, help="weight rows so that each class weighs half (churners are the minority)")
    grid: str = option("small", help="hyperparameter grid: small (2 points/model), tiny (1: smoke runs)", enum=GRIDS)

    def __post_init__(self) -> None:
        check_options(self)


def zoo_config(cfg: Any) -> ZooConfig:
    """The :class:`ZooConfig` part of any config that carries its fields (a job config derived from it)."""
    return ZooConfig(**{f.name: getattr(cfg, f.name) for f in fields(ZooConfig)})


@dataclass
class ModelResult:
    name: str
    cv_f1: float
    best_params: dict[str, Any]
    test: dict[str, float]
    model: Any = field(repr=False, default=None)


def stratified_split(df: DataFrame, test_fraction: float, seed: int) -> tuple[DataFrame, DataFrame]:
    """``test_fraction`` of each label class held out (seeded; deterministic for the same input order)."""
    from pyspark.sql import Window
    from pyspark.sql import functions as F

    ranked = df.withColumn(
        "_r", F.percent_rank().over(Window.partitionBy(LABEL).orderBy(F.xxhash64("user_id", F.lit(seed))))
    )
    test = ranked.where(F.col("_r") >= 1 - test_fraction).drop("_r")
    train = ranked.where(F.col("_r") < 1 - test_fraction).drop("_r")
    return train, test


def with_class_weights(df: DataFrame, balance: bool) -> DataFrame:
    """Add ``weight``: n / (K · n_class) per row when balancing (each of the K classes weighs 1/K), else 1."""
    from pyspark.sql import functions as F

    if not balance:
        return df.withColumn(WEIGHT, F.lit(1.0))
    counts = {row[LABEL]: row["count"] for row in df.groupBy(LABEL).count().collect()}
    n, k = sum(counts.values()), len(counts)
    mapping = F.create_map(*[x for c, v in counts.items() for x in (F.lit(c), F.lit(n / (k * v)))])
    return df.withColumn(WEIGHT, mapping[F.col(LABEL)])


def _estimator(name: str, seed: int):
    from pyspark.ml.classification import GBTClassifier, LinearSVC, LogisticRegression, RandomForestClassifier

    common = {"labelCol": LABEL, "featuresCol": "features", "weightCol": WEIGHT}
    # tol 1e-4 (Spark's default is 1e-6): each optimiser iteration is a Spark job, and LinearSVC's hinge loss needs
    # about twice the iterations for the tighter tolerance with no change in F1 at these data sizes
    if name == "logistic_regression":
        return LogisticRegression(maxIter=100, tol=1e-4, **common)
    if name == "random_forest":
        return RandomForestClassifier(seed=seed, **common)
    if name == "gbt":
        return GBTClassifier(seed=seed, **common)
    return LinearSVC(maxIter=100, tol=1e-4, **common)


def _grid(name: str, est, size: str):
    from pyspark.ml.tuning import ParamGridBuilder

    tiny = size == "tiny"
    b = ParamGridBuilder()
    if name == "logistic_regression":
        b.addGrid(est.regParam, [0.01] if tiny else [0.0, 0.1]).addGrid(est.elasticNetParam, [0.0])
    elif name == "random_forest":
        b.addGrid(est.numTrees, [20] if tiny else [30, 80]).addGrid(est.maxDepth, [5])
    elif name == "gbt":
        b.addGrid(est.maxIter, [10] if tiny else [20]).addGrid(est.maxDepth, [3] if tiny else [3, 5])
    else:
        b.addGrid(est.regParam, [0.01] if tiny else [0.01, 0.1])
    return b.build()


def pipeline(name: str, numeric: list[str], categorical: list[str], seed: int):
    """Imputer → indexers/one-hot → assembler → scaler → classifier (the saved model takes raw rows)."""
    from pyspark.ml import Pipeline
    from pyspark.ml.feature import Imputer, OneHotEncoder, StandardScaler, StringIndexer, VectorAssembler

    stages: list[Any] = []
    imputed = [f"{c}__imp" for c in numeric]
    if numeric:
        stages.append(Imputer(inputCols=numeric, outputCols=imputed, strategy="median"))
    onehot = [f"{c}__oh" for c in categorical]
    if categorical:
        indexed = [f"{c}__idx" for c in categorical]
        stages.append(StringIndexer(inputCols=categorical, outputCols=indexed, handleInvalid="keep"))
        stages.append(OneHotEncoder(inputCols=indexed, outputCols=onehot, handleInvalid="keep"))
    stages.append(VectorAssembler(inputCols=imputed + onehot, outputCol="raw_features", handleInvalid="keep"))
    stages.append(StandardScaler(inputCol="raw_features", outputCol="features", withMean=False, withStd=True))
    est = _estimator(name, seed)
    stages.append(est)
    return Pipeline(stages=stages), est


def evaluate(predictions: DataFrame) -> dict[str, float]:
    """Held-out metrics: weighted F1, churn-class F1 / precision / recall, accuracy, AUC (row counts, unweighted)."""
    from pyspark.ml.evaluation import BinaryClassificationEvaluator, MulticlassClassificationEvaluator

    def mc(metric: str, **kw) -> float:
        ev = MulticlassClassificationEvaluator(labelCol=LABEL, predictionCol="prediction", metricName=metric, **kw)
        return float(ev.evaluate(predictions))

    churned = predictions.where(f"{LABEL} = 1.0").count()
    auc = float("nan")
    if 0 < churned < predictions.count():
        auc = float(
            BinaryClassificationEvaluator(labelCol=LABEL, rawPredictionCol="rawPrediction").evaluate(predictions)
        )
    return {
        "f1_weighted": mc("f1"),
        "f1_churn": mc("fMeasureByLabel", metricLabel=1.0),
        "precision_churn": mc("precisionByLabel", metricLabel=1.0),
        "recall_churn": mc("recallByLabel", metricLabel=1.0),
        "f1_stay": mc("fMeasureByLabel", metricLabel=0.0),
        "accuracy": mc("accuracy"),
        "auc": auc,
        "n": float(predictions.count()),
        "churned": float(churned),
    }


def majority_baseline(n: int, churned: int) -> dict[str, float]:
    """Held-out scores of always predicting the majority class: what accuracy alone would flatter.

    With majority share ``p``: accuracy ``p``, majority-class F1 ``2p / (1 + p)`` (precision ``p``, recall 1),
    weighted F1 ``p · 2p / (1 + p)``, churn F1 0 when retained users are the majority.
    """
    stayed = n - churned
    p = max(stayed, churned) / n
    f1_major = 2 * p / (1 + p)
    churn_major = churned > stayed
    return {
        "f1_weighted": p * f1_major,
        "f1_churn": f1_major if churn_major else 0.0,
        "f1_stay": 0.0 if churn_major else f1_major,
        "accuracy": p,
        "auc": 0.5,
        "n": float(n),
        "churned": float(churned),
    }


def train_zoo(features: DataFrame, numeric: list[str], categorical: list[str], cfg: ZooConfig) -> dict[str, Any]:
    """Cross-validate every model of ``cfg.models``; returns results, the best name, and the split frames.

    Raises:
        ValueError: a class has fewer users than folds (in train) or none in the held-out split.
    """
    from pyspark.ml.evaluation import MulticlassClassificationEvaluator
    from pyspark.ml.tuning import CrossValidator

    data = with_class_weights(features, cfg.balance)
    train, test = stratified_split(data, cfg.test_fraction, cfg.seed)
    # the split's window leaves one shuffle partition per class: spread the rows over the cores before caching,
    # or every CrossValidator fit runs single-threaded (and with many shuffle partitions, mostly empty tasks)
    parts = features.sparkSession.sparkContext.defaultParallelism
    train, test = train.repartition(parts).cache(), test.repartition(parts).cache()
    per_class = {r[LABEL]: r["count"] for r in train.groupBy(LABEL).count().collect()}
    test_churned = test.where(f"{LABEL} = 1.0").count()
    if len(per_class) < 2 or min(per_class.values()) < cfg.folds or test_churned == 0:
        train.unpersist()
        test.unpersist()
        raise ValueError(
            f"labels too thin to train: train classes {per_class}, churned in held-out {test_churned} "
            f"(need both classes, >= {cfg.folds} per class); widen the window or change the churn definition"
        )
    f1 = MulticlassClassificationEvaluator(labelCol=LABEL, predictionCol="prediction", metricName="f1")
    results: list[ModelResult] = []
    pipes = {name: pipeline(name, numeric, categorical, cfg.seed) for name in cfg.models}
    grids = {name: _grid(name, est, cfg.grid) for name, (_, est) in pipes.items()}
    fits = {name: len(grid) * cfg.folds + 1 for name, grid in grids.items()}  # every fold of every point, the refit
    progress = Progress(sum(fits.values()), "churn model fits (grid points × folds + refit)", log, every_s=0)
    for name in cfg.models:
        cv = CrossValidator(
            estimator=pipes[name][0],
            estimatorParamMaps=grids[name],
            evaluator=f1,
            numFolds=cfg.folds,
            seed=cfg.seed,
            parallelism=cfg.parallelism,
        )
        fitted = cv.fit(train)
        best_i = max(range(len(fitted.avgMetrics)), key=lambda i: fitted.avgMetrics[i])
        params = {p.name: v for p, v in fitted.getEstimatorParamMaps()[best_i].items()}
        metrics = evaluate(fitted.bestModel.transform(test))
        results.append(ModelResult(name, float(fitted.avgMetrics[best_i]), params, metrics, fitted.bestModel))
        log.info("%s: cv F1 %.4f, held-out %s", name, fitted.avgMetrics[best_i], metrics)
        progress.update(fits[name])
    best = max(results, key=lambda r: r.cv_f1)
    baseline = majority_baseline(int(best.test["n"]), test_churned)
    return {
        "results": results,
        "best": best,
        "baseline": baseline,
        "train": train,
        "test": test,
        "class_counts": per_class,
    }


def comparison_rows(results: list[ModelResult], best: str, baseline: dict[str, float]) -> list[dict[str, Any]]:
    """One row per model (by cross-validated F1), then the majority-class baseline, for the comparison table."""
    rows = [
        {"model": r.name, "best": r.name == best, "cv_f1_weighted": r.cv_f1, **r.test, "params": r.best_params}
        for r in sorted(results, key=lambda r: -r.cv_f1)
    ]
    keys = rows[0].keys()
    base = {"model": "majority_baseline", "best": False, "cv_f1_weighted": None, **baseline, "params": {}}
    return [*rows, {k: base.get(k) for k in keys}]  # None: undefined for a constant prediction


#: score bins of the held-out AUC's bootstrap: its summary is 2 × this many counts however many users are held out
AUC_BINS = 1000
#: score bins of each of the two scores in the model-over-champion bootstrap (2 × this² counts at most)
PAIRED_AUC_BINS = 100


def auc_lead_over_majority(predictions: DataFrame, *, seed: int, n_boot: int = 1000) -> dict[str, Any]:
    """The held-out AUC's lead over the majority class (a constant: AUC 0.5 on every resample of the same users)
    with its bootstrap 95 % interval (:func:`shoplake.ml.metrics.binned_auc_lead`): P(churn) cut into
    :data:`AUC_BINS` bins and counted per class in Spark — the driver collects the counts, never the users. The
    point value is the binned AUC's (ties inside a bin of width 0.001 count one half), within that of Spark's."""
    import numpy as np
    from pyspark.sql import functions as F

    from shoplake.ml.metrics import binned_auc_lead

    counts = predictions.groupBy(score_bin(predictions, AUC_BINS).alias("bin"), F.col(LABEL).alias("y")).count()
    pos, neg = np.zeros(AUC_BINS), np.zeros(AUC_BINS)
    for row in counts.collect():
        (pos if row["y"] == 1.0 else neg)[row["bin"]] += row["count"]
    return binned_auc_lead(pos, neg, n_boot=n_boot, seed=seed)


def auc_lead_over_champion(
    predictions: DataFrame, champion: DataFrame, *, seed: int, n_boot: int = 1000
) -> dict[str, Any]:
    """The model's held-out AUC lead over the champion's, re-scored on the same users, with its paired bootstrap 95 %
    interval (:func:`shoplake.ml.metrics.paired_binned_auc_lead`): both P(churn) cut into :data:`PAIRED_AUC_BINS`
    bins, joined by user and counted per (model bin, champion bin, class) in Spark — the driver collects at most
    2 × bins² counts, never the users."""
    from pyspark.sql import functions as F

    from shoplake.ml.metrics import paired_binned_auc_lead

    def binned(frame: DataFrame, name: str) -> DataFrame:
        return frame.select("user_id", F.col(LABEL).alias("y"), score_bin(frame, PAIRED_AUC_BINS).alias(name))

    joined = binned(predictions, "a").join(binned(champion, "b").drop("y"), "user_id")
    cells = [(r["a"], r["b"], r["y"], r["count"]) for r in joined.groupBy("a", "b", "y").count().collect()]
    return paired_binned_auc_lead(cells, bins=PAIRED_AUC_BINS, n_boot=n_boot, seed=seed)


def score_bin(predictions: DataFrame, bins: int) -> Any:
    """P(churn) as its bin, 0…bins-1 (width 1 / bins), an int column."""
    from pyspark.sql import functions as F

    score = F.floor(churn_probability(predictions) * bins)
    return F.greatest(F.least(score, F.lit(bins - 1)), F.lit(0)).cast("int")


def churn_probability(predictions: DataFrame) -> Any:
    """P(churn) column: the classifier's probability; LinearSVC (no probability) → a sigmoid of its margin."""
    from pyspark.ml.functions import vector_to_array
    from pyspark.sql import functions as F

    if "probability" in predictions.columns:
        return vector_to_array("probability")[1]
    return 1.0 / (1.0 + F.exp(-vector_to_array("rawPrediction")[1]))
