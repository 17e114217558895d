"""XGBoost for tabular models: hyperparameters (declared once), device choice, fit, predict, importance, loading.

:class:`XgbParams` is the one declaration of the booster's hyperparameters: the training job's flags, the DAG's
Params, the Spark estimator's keywords and SageMaker's built-in-algorithm hyperparameters are derived from its
fields (:func:`booster_params`, :func:`sklearn_params`, :data:`NATIVE_NAMES`).
"""

from __future__ import annotations

import dataclasses
import json
import logging
import tempfile
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from shoplake.jobconfig import check_options, option
from shoplake.progress import Progress

if TYPE_CHECKING:
    import numpy as np
    import pandas as pd

    from shoplake.ml.splits import TimeSplit

log = logging.getLogger(__name__)


@dataclass(frozen=True, kw_only=True)
class XgbParams:
    """Hyperparameters of the booster (``hist`` trees)."""

    n_estimators: int = option(400, help="maximum boosting rounds (early stopping may stop sooner)", minimum=1)
    max_depth: int = option(4, help="maximum depth of a tree, in levels", minimum=1, maximum=16)
    learning_rate: float = option(
        0.05, help="shrinkage of each tree's contribution (XGBoost's eta)", exclusiveMinimum=0, maximum=1
    )
    subsample: float = option(0.8, help="share (0-1] of training rows sampled per tree", exclusiveMinimum=0, maximum=1)
    colsample_bytree: float = option(
        0.8, help="share (0-1] of feature columns sampled per tree", exclusiveMinimum=0, maximum=1
    )
    min_child_weight: float = option(
        1.0, help="minimum summed hessian (about: rows) in a leaf; larger = more conservative", minimum=0
    )
    reg_lambda: float = option(1.0, help="L2 regularisation of leaf weights (XGBoost's lambda)", minimum=0)
    scale_pos_weight: float = option(
        0.0, help="weight of positive rows; 0 = negatives / positives of the training rows", minimum=0
    )
    early_stopping_rounds: int = option(
        30, help="stop after this many rounds without a better validation AUC", minimum=1
    )
    seed: int = option(7, help="seed of row and column sampling")

    def __post_init__(self) -> None:
        check_options(self)


#: XgbParams field → XGBoost's native (learning API / SageMaker built-in algorithm) hyperparameter name
NATIVE_NAMES = {
    "n_estimators": "num_round",
    "max_depth": "max_depth",
    "learning_rate": "eta",
    "subsample": "subsample",
    "colsample_bytree": "colsample_bytree",
    "min_child_weight": "min_child_weight",
    "reg_lambda": "lambda",
    "scale_pos_weight": "scale_pos_weight",
    "early_stopping_rounds": "early_stopping_rounds",
    "seed": "seed",
}
HYPERPARAMETERS = tuple(f.name for f in dataclasses.fields(XgbParams))


def xgb_params(cfg: Any) -> XgbParams:
    """The :class:`XgbParams` part of any config that carries its fields (a job config derived from it)."""
    return XgbParams(**{name: getattr(cfg, name) for name in HYPERPARAMETERS})


def auto_scale_pos_weight(params: XgbParams, positives: float, rows: int) -> float:
    """``scale_pos_weight``, or negatives / positives of the training rows when it is 0."""
    return params.scale_pos_weight if params.scale_pos_weight > 0 else (rows - positives) / max(positives, 1.0)


def booster_params(params: XgbParams, y_train: np.ndarray, device: str) -> dict[str, Any]:
    """Parameters of ``xgboost.train`` (native names; rounds and early stopping are passed separately)."""
    import numpy as np

    native = {NATIVE_NAMES[k]: v for k, v in dataclasses.asdict(params).items()}
    for name in ("num_round", "early_stopping_rounds"):
        native.pop(name)
    native["scale_pos_weight"] = auto_scale_pos_weight(params, float(np.sum(y_train == 1)), len(y_train))
    return {
        "objective": "binary:logistic",
        "eval_metric": ["logloss", "auc", "aucpr"],
        "tree_method": "hist",
        "device": device,
        **native,
    }


def sklearn_params(params: XgbParams) -> dict[str, Any]:
    """Keywords of XGBoost's sklearn-style (and Spark) estimators; ``scale_pos_weight`` is the caller's."""
    kw = dataclasses.asdict(params)
    kw.pop("scale_pos_weight")
    kw["random_state"] = kw.pop("seed")
    return kw


def pick_xgb_device(requested: str = "auto") -> str:
    """``cuda`` when asked for, or on ``auto`` when this XGBoost build has CUDA and a GPU is visible."""
    import xgboost as xgb

    if requested != "auto":
        return requested
    if not xgb.build_info().get("USE_CUDA"):
        return "cpu"
    try:
        import torch

        return "cuda" if torch.cuda.is_available() else "cpu"
    except ImportError:  # training workers without torch: ask the driver
        import shutil
        import subprocess

        smi = shutil.which("nvidia-smi")
        ok = smi and subprocess.run([smi, "-L"], capture_output=True, check=False).returncode == 0
        return "cuda" if ok else "cpu"


def round_progress(rounds: int, what: str, every_s: float = 30.0) -> Any:
    """An XGBoost callback logging ``rounds done / rounds`` (rate, ETA) and the last validation AUC at a steady
    interval; early stopping ends before ``rounds``, and :func:`fit_booster` logs where it stopped."""
    import xgboost as xgb

    class RoundProgress(xgb.callback.TrainingCallback):
        def __init__(self) -> None:
            super().__init__()
            self.progress = Progress(rounds, what, log, every_s)

        def after_iteration(self, model: Any, epoch: int, evals_log: dict) -> bool:
            auc = evals_log.get("valid", {}).get("auc") or evals_log.get("train", {}).get("auc")
            self.progress.what = f"{what} (auc {auc[-1]:.4f})" if auc else what
            self.progress.update(1)
            return False

    return RoundProgress()


#: the booster attribute naming the column whose logit each row's margin starts from (absent: XGBoost's base score)
MARGIN_ATTR = "shoplake_base_margin"


def rate_margin(rates: Any) -> np.ndarray:
    """The logit of rates in (0, 1) — a row's starting margin — clipped away from 0 and 1."""
    import numpy as np

    p = np.clip(np.asarray(rates, dtype=np.float64), 1e-6, 1 - 1e-6)
    return np.log(p / (1 - p))


def margin_source(booster: Any) -> str | None:
    """The column a booster's rows start from (:data:`MARGIN_ATTR`), or None for one that starts from a constant
    (trained without a margin: an older version, a model without game features, the SageMaker backend)."""
    return booster.attr(MARGIN_ATTR)


def _margin_of(source: str | None, values: Any) -> np.ndarray | None:
    """The rows' starting margins for a booster that starts from ``source`` (None: it does not)."""
    if source is None:
        return None
    if values is None:
        raise ValueError(f"the booster starts each row from logit({source}): the rows lack it (apply the version's "
                         "game table first)")  # fmt: skip
    return rate_margin(values)


def fit_booster(
    split: TimeSplit,
    target: str,
    params: XgbParams,
    device: str,
    apps: Sequence[int] = (),
    *,
    games: bool = False,
    margin_from: str | None = None,
) -> Any:
    """Train on ``split.train`` with early stopping on ``split.valid`` (AUC); returns the booster.

    ``margin_from``: a column of rates (the game's smoothed purchase rate) each row *starts from* — its logit is the
    row's base margin, so the trees learn what the rate leaves, and a game the training rows never held starts from
    the training rate. Recorded in the booster (:data:`MARGIN_ATTR`): :func:`predict` and :func:`predict_rows` give
    every row the same start."""
    import xgboost as xgb

    from shoplake.transforms.purchase_features import feature_columns, model_frame

    features = feature_columns(target, apps, games=games)
    dtrain = xgb.DMatrix(model_frame(split.train, features), label=split.train[target].astype(int))
    dvalid = xgb.DMatrix(model_frame(split.valid, features), label=split.valid[target].astype(int))
    if margin_from is not None:
        dtrain.set_base_margin(rate_margin(split.train[margin_from]))
        dvalid.set_base_margin(rate_margin(split.valid[margin_from]))
    booster = xgb.train(
        booster_params(params, split.train[target].to_numpy().astype(int), device),
        dtrain,
        num_boost_round=params.n_estimators,
        evals=[(dtrain, "train"), (dvalid, "valid")],
        early_stopping_rounds=params.early_stopping_rounds if len(split.valid) else None,
        verbose_eval=False,
        callbacks=[round_progress(params.n_estimators, f"{target} boosting rounds")],
    )
    if margin_from is not None:
        booster.set_attr(**{MARGIN_ATTR: margin_from})
    log.info("booster for %s: %s rounds (best %s)%s", target, booster.num_boosted_rounds(), booster.best_iteration,
             f", each row starting from logit({margin_from})" if margin_from else "")  # fmt: skip
    return booster


def predict(booster: Any, df: pd.DataFrame, features: Sequence[str] | None = None) -> np.ndarray:
    """Positive-class probabilities of ``df`` (the booster's own feature names unless given)."""
    import xgboost as xgb

    from shoplake.transforms.purchase_features import model_frame

    dm = xgb.DMatrix(model_frame(df, list(features or booster.feature_names)))
    source = margin_source(booster)
    margin = _margin_of(source, df[source] if source in df.columns else None)
    if margin is not None:
        dm.set_base_margin(margin)
    best = getattr(booster, "best_iteration", None)
    rng = (0, best + 1) if best is not None else (0, 0)
    return booster.predict(dm, iteration_range=rng)


def predict_rows(booster: Any, rows: Sequence[Mapping[str, Any]], games: Any = None) -> np.ndarray:
    """Positive-class probabilities of feature rows (dicts) without pandas: the prediction service's path.

    The same matrix :func:`predict` builds (``app_<id>`` from ``appid``, the game-level features from the version's
    game table ``games`` by ``appid``, a missing or null feature is NaN = missing), as float32 — the precision
    XGBoost predicts in — through ``inplace_predict``, with the same best iteration and the same starting margin
    (the game's rate from ``games``; the training rate for a game it never held).
    """
    import numpy as np

    from shoplake.transforms.purchase_features import APP_PREFIX

    if games is not None:
        rows = [{**r, **games.features_of(r.get("appid"))} for r in rows]
    names = list(booster.feature_names)
    x = np.full((len(rows), len(names)), np.nan, dtype=np.float32)
    for j, name in enumerate(names):
        if name.startswith(APP_PREFIX):
            app = int(name.removeprefix(APP_PREFIX))
            x[:, j] = [1.0 if r.get("appid") == app else 0.0 for r in rows]
        else:
            x[:, j] = [np.nan if (v := r.get(name)) is None else float(v) for r in rows]
    source = margin_source(booster)
    margin = _margin_of(source, [r.get(source) for r in rows] if source and games is not None else None)
    best = getattr(booster, "best_iteration", None)
    rng = (0, best + 1) if best is not None else (0, 0)
    return booster.inplace_predict(x, iteration_range=rng, missing=np.nan, base_margin=margin)


def evaluate_booster(booster: Any, split: TimeSplit, target: str) -> tuple[dict[str, Any], np.ndarray]:
    """Held-out metrics at 0.5 and at the validation-chosen F1 threshold; returns them and the test scores."""
    import numpy as np

    from shoplake.ml.metrics import best_f1_threshold, binary_metrics

    p_test = predict(booster, split.test)
    y_test = split.test[target].to_numpy().astype(int)
    if len(np.unique(y_test)) < 2:
        raise ValueError(f"held-out rows hold a single {target} class ({len(y_test)} rows); widen the window")
    threshold = best_f1_threshold(split.valid[target].to_numpy().astype(int), predict(booster, split.valid))
    metrics = binary_metrics(y_test, p_test)
    metrics["at_valid_threshold"] = binary_metrics(y_test, p_test, threshold)
    return metrics, p_test


def feature_importance(booster: Any) -> pd.DataFrame:
    """Gain, weight (splits) and cover per feature, sorted by gain (unused features get zeros)."""
    import pandas as pd

    names = booster.feature_names
    imp = {kind: booster.get_score(importance_type=kind) for kind in ("total_gain", "gain", "weight", "cover")}
    df = pd.DataFrame({"feature": names, **{k: [v.get(n, 0.0) for n in names] for k, v in imp.items()}})
    return df.sort_values("total_gain", ascending=False, ignore_index=True)


def load_booster(path: str, feature_names: list[str]) -> Any:
    """A booster from a model file or a SageMaker ``model.tar.gz`` (local path or any fsspec URI)."""
    import tarfile

    import fsspec
    import xgboost as xgb

    booster = xgb.Booster()
    with tempfile.TemporaryDirectory() as tmp:
        local = Path(tmp) / Path(path).name
        with fsspec.open(path, "rb") as src:
            local.write_bytes(src.read())
        if local.name.endswith(".tar.gz"):
            with tarfile.open(local) as tar:
                tar.extractall(tmp, filter="data")
            local = next(p for p in Path(tmp).iterdir() if p.name.startswith("xgboost-model"))
        booster.load_model(str(local))
    if booster.feature_names is None:  # trained on headerless CSV (SageMaker): columns are in feature order
        if booster.num_features() != len(feature_names):
            raise ValueError(f"{path} has {booster.num_features()} features, expected {len(feature_names)}")
        booster.feature_names = feature_names
    return booster


#: a published purchase version's booster and its spec (target, feature names in order, decision threshold)
BOOSTER_FILE = "model.ubj"
SPEC_FILE = "features.json"


def save_version_files(out: Path, booster: Any, *, target: str, threshold: float, games: Any = None) -> None:
    """The booster, its spec and its game table (when it reads game-level features) into a version folder (what
    :func:`load_version_files` reads back)."""
    from shoplake.transforms.game_features import GAMES_FILE

    booster.save_model(str(out / BOOSTER_FILE))
    spec = {"target": target, "features": booster.feature_names, "threshold": threshold}
    (out / SPEC_FILE).write_text(json.dumps(spec, indent=2))
    if games is not None:
        (out / GAMES_FILE).write_text(games.to_json())


def load_version_files(version_dir: str, *, spec_only: bool = False) -> tuple[Any, dict[str, Any], Any]:
    """``(booster, spec, games)`` of a published purchase version (``spec_only``: the booster is None; ``games``:
    the game table, None for a version without game-level features)."""
    from shoplake.io.lake import filesystem
    from shoplake.transforms.game_features import GAME_FEATURES, GAMES_FILE, GameStats

    fs, root = filesystem(version_dir)
    spec = json.loads(fs.cat(f"{root}/{SPEC_FILE}"))
    booster = None if spec_only else load_booster(f"{version_dir.rstrip('/')}/{BOOSTER_FILE}", spec["features"])
    games = None
    if set(GAME_FEATURES) & set(spec["features"]):
        games = GameStats.from_json(fs.cat(f"{root}/{GAMES_FILE}").decode())
    return booster, spec, games


# ---- on Spark (xgboost.spark) -------------------------------------------------------------------------------------


def with_model_columns(df: Any, features: list[str]) -> Any:
    """Spark: float feature columns (nulls → NaN, XGBoost's missing); ``app_<id>`` from ``appid``."""
    from pyspark.sql import functions as F

    from shoplake.transforms.purchase_features import APP_PREFIX

    nan = F.lit(float("nan"))
    cols = []
    for name in features:
        if name.startswith(APP_PREFIX):
            value = (F.col("appid") == int(name.removeprefix(APP_PREFIX))).cast("double")
        else:
            value = F.coalesce(F.col(name).cast("double"), nan)
        cols.append(value.alias(name))
    return df.select(*[c for c in df.columns if c not in features], *cols)


def fit_spark_booster(
    df: Any, target: str, features: list[str], params: XgbParams, device: str, *, margin_from: str | None = None
) -> Any:
    """Fit ``SparkXGBClassifier`` on train rows (valid rows for early stopping); returns the XGBoost booster.

    ``df`` carries a ``split`` column (``shoplake.ml.splits.with_time_split``) and the model columns.
    ``margin_from``: as in :func:`fit_booster` — each row starts from the logit of that rate column (clipped like
    :func:`rate_margin`), through xgboost.spark's ``base_margin_col``, and the booster records it.
    """
    from pyspark.sql import functions as F
    from xgboost.spark import SparkXGBClassifier

    rows = df.where(F.col("split") != "test").withColumn("label", F.col(target).cast("int"))
    rows = rows.withColumn("is_valid", F.col("split") == "valid")
    # xgboost.spark splits each Arrow batch into training and validation rows and fails on a batch holding only one
    # kind (KeyError 'values' in its DMatrix build: found at 100x, where time-sorted rows fill whole batches with
    # validation rows); a seeded shuffle mixes both into every batch
    rows = rows.orderBy(F.rand(params.seed))
    pos, n = rows.where("split = 'train'").agg(F.sum("label"), F.count("*")).first()
    margin: dict[str, Any] = {}
    if margin_from is not None:
        p = F.least(F.greatest(F.col(margin_from).cast("double"), F.lit(1e-6)), F.lit(1 - 1e-6))
        rows = rows.withColumn("base_margin", F.log(p / (1 - p)))
        margin = {"base_margin_col": "base_margin"}
    clf = SparkXGBClassifier(
        features_col=features,
        label_col="label",
        validation_indicator_col="is_valid",
        num_workers=1,  # one barrier task: deterministic on a seed; raise with the data (and cores/GPUs)
        device=device,
        tree_method="hist",
        scale_pos_weight=auto_scale_pos_weight(params, float(pos or 0), int(n)),
        eval_metric="auc",
        **sklearn_params(params),
        **margin,
    )
    booster = clf.fit(rows).get_booster()
    booster.feature_names = features
    if margin_from is not None:
        booster.set_attr(**{MARGIN_ATTR: margin_from})
    return booster
