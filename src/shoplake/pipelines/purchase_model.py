"""The Steam purchase model: train, evaluate and publish (one flow for the local, Spark and SageMaker backends).

Steps:

* :func:`check_features` — the window has feature partitions and enough rows (the DAG's gate).
* :func:`train_purchase_model` — read the feature partitions of the window, split them by creation time, fit XGBoost
  (or take a booster trained elsewhere: SageMaker), evaluate on the held-out newest rows, compare with the champion
  *on the same rows*, write ``model/<name>/version=<ds>/`` and track the run in MLflow; ``current.json`` (and the MLflow
  ``champion`` alias) move last, only if the new model is not worse.
* :func:`train_purchase_model_spark` — the same with the fit on xgboost.spark.
* :func:`export_channels` — SageMaker's train / validation channels.
* :func:`check_published` — the version is complete.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import tempfile
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from shoplake.jobconfig import PartitionJob, option
from shoplake.ml.xgb import BOOSTER_FILE, SPEC_FILE, XgbParams, xgb_params
from shoplake.paths import (
    PURCHASE_MODELS,
    PURCHASE_TARGETS,
    STEAM_PURCHASE_FEATURES,
    Zone,
    version_path,
    window_partitions,
)
from shoplake.transforms.game_features import GAMES_FILE

if TYPE_CHECKING:
    from collections.abc import Callable

    import pandas as pd
    from pyspark.sql import SparkSession

    from shoplake.ml.splits import TimeSplit

log = logging.getLogger(__name__)

EXPERIMENT = "shoplake-steam-purchase"
#: the pointer's ``model`` when the per-game rate baseline won and is served from the version's game table
PER_GAME_RATE = "per_game_rate"
#: files every published version holds (with game-level features: the game table too)
VERSION_FILES = (
    BOOSTER_FILE,
    SPEC_FILE,
    GAMES_FILE,
    "metrics.json",
    "roc.png",
    "feature_importance.csv",
    "feature_importance.png",
    "model_card.md",
    "config.json.snapshot",
)


@dataclass(frozen=True, kw_only=True)
class PurchaseTrainConfig(PartitionJob, XgbParams):
    """Arguments of the training jobs: the window, the split, the backend, and the booster's hyperparameters."""

    ds: str = option(help="last day of the training window, YYYY-MM-DD; the version is named after it")
    window_days: int = option(
        28, help="days of enriched/steam_purchase_features ending at ds to learn from", minimum=1, maximum=365
    )
    target: str = option(
        "steam_purchase",
        help="label to learn: steam_purchase (the reviewer bought the game on Steam) or voted_up (recommends it)",
        enum=list(PURCHASE_TARGETS),
    )
    test_fraction: float = option(
        0.2, help="newest share of the window's rows held out for evaluation", minimum=0.05, maximum=0.5
    )
    valid_fraction: float = option(
        0.1,
        help="share of rows before the held-out ones for early stopping and the F1 threshold",
        minimum=0,
        maximum=0.3,
    )
    device: str = option(
        "auto", help="XGBoost device: auto (CUDA when visible), cpu or cuda", enum=["auto", "cpu", "cuda"]
    )
    mlflow_uri: str = option("", help="MLflow tracking URI; empty = SQLite under a local lake, 'none' = off")
    backend: str = option("local", help="where the booster was fitted (recorded in the metrics and MLflow tags)")
    booster_path: str = option(
        "", help="a booster trained elsewhere (SageMaker's model.tar.gz or a model file): evaluate and publish it"
    )
    export_uri: str = option(
        "", help="only write SageMaker's train/validation channels here (the SageMaker backend's first task)"
    )
    min_rows: int = option(200, help="fewest feature rows in the window needed to train", minimum=1)
    game_features: bool = option(
        True,
        help="game-level features from the training rows (the game's smoothed target rate — out of fold for "
        "training rows —, review volume, mean sentiment, median playtime): they carry to other days and games",
    )
    app_min_reviews: int = option(
        0, help="games with at least this many training rows also get a one-hot column (0 = none)", minimum=0
    )
    start_from_rate: bool = option(
        True,
        help="each row starts from the logit of its game's smoothed rate (XGBoost's base margin; needs "
        "game_features): the trees learn what the rate leaves, and a game never seen starts from the training rate",
    )
    min_test_class_rows: int = option(
        30, help="fewest held-out rows of each class for the gate to rank the model above a baseline", minimum=1
    )

    @property
    def model_name(self) -> str:
        return PURCHASE_MODELS[self.target]

    @property
    def margin_from(self) -> str | None:
        """The column whose logit each row starts from (:func:`shoplake.ml.xgb.fit_booster`), or None."""
        return "game_target_rate" if self.start_from_rate and self.game_features else None

    @property
    def other_target(self) -> str:
        return next(t for t in PURCHASE_TARGETS if t != self.target)


# ---- the window --------------------------------------------------------------------------------------------------


def feature_partitions(lake_root: str, ds: str, days: int) -> list[str]:
    """Paths of the feature partitions that exist in the window (missing days are skipped, and logged).

    Raises:
        FileNotFoundError: no partition in the window.
    """
    from shoplake.io.lake import existing_partitions

    paths, missing = existing_partitions(window_partitions(lake_root, Zone.ENRICHED, STEAM_PURCHASE_FEATURES, ds, days))
    if missing:
        log.info("%s of %s window days have no %s partition", len(missing), days, STEAM_PURCHASE_FEATURES)
    if not paths:
        raise FileNotFoundError(f"no {STEAM_PURCHASE_FEATURES} partition in the {days} days up to {ds}")
    return paths


def window_feature_rows(lake_root: str, ds: str, window_days: int) -> tuple[list[str], int]:
    """The window's existing feature partitions and their rows, counted from the Parquet footers."""
    from shoplake.io.lake import existing_partitions, partition_rows

    paths, _ = existing_partitions(
        window_partitions(lake_root, Zone.ENRICHED, STEAM_PURCHASE_FEATURES, ds, window_days)
    )
    return paths, sum(partition_rows(p) for p in paths)


def check_features(
    lake_root: str, ds: str, window_days: int, min_rows: int, min_new_days: int = 0, target: str = "steam_purchase"
) -> dict[str, Any]:
    """Whether the window holds enough feature rows to train (the DAG's gate; it skips the run when not).

    With ``min_new_days``, it also waits for that many feature days newer than the current model's version (the
    DAG runs each time a day of features lands; a retrain needs a week of them by default). A rerun of the current
    version's own day always passes.

    Rows are counted from the partitions' Parquet footers, without reading the data.

    Returns:
        ``{"ds", "path", "partitions", "rows", "trainable", "reason"}``; ``reason`` says what to do when the
        window cannot train.
    """
    paths, rows = window_feature_rows(lake_root, ds, window_days)
    reason = ""
    if not paths:
        reason = (
            f"no {STEAM_PURCHASE_FEATURES} partition in the {window_days} days up to {ds}: run steam_reviews_daily "
            "for those days first, or pick another ds / a wider window_days"
        )
    elif rows < min_rows:
        reason = (
            f"{rows} feature rows in the {window_days} days up to {ds} (< min_rows {min_rows}): widen window_days, "
            "process more days, or lower min_rows"
        )
    elif min_new_days:
        from shoplake.ml.registry import read_current

        current = read_current(lake_root, PURCHASE_MODELS[target])
        if current is not None and current["version"] != ds:
            new_days = sum(p.rsplit("ds=", 1)[-1] > current["version"] for p in paths)
            if new_days < min_new_days:
                reason = (
                    f"{new_days} day(s) of features newer than the current model (version {current['version']}) "
                    f"in the window (< min_new_days {min_new_days}): waiting for more; set min_new_days=0 to "
                    "retrain now"
                )
    return {
        "ds": ds,
        "path": paths[-1] if paths else None,
        "partitions": len(paths),
        "rows": rows,
        "trainable": not reason,
        "reason": reason,
    }


def choose_backend(lake_root: str, ds: str, window_days: int, max_local_rows: int) -> dict[str, Any]:
    """``local`` while the window's feature rows are at most ``max_local_rows`` (the local backend reads the window
    into one process), ``spark`` (xgboost.spark, nothing but a bounded evaluation sample on the driver) above.

    Rows are counted from the Parquet footers; the choice and its reason are logged.
    """
    _, rows = window_feature_rows(lake_root, ds, window_days)
    backend = "spark" if rows > max_local_rows else "local"
    reason = (
        f"{rows} feature rows in the {window_days} days up to {ds} "
        f"{'>' if backend == 'spark' else '<='} SHOPLAKE_SPARK_TRAIN_ROWS={max_local_rows}: training on {backend}"
    )
    log.info(reason)
    return {"backend": backend, "rows": rows, "reason": reason}


def load_features(lake_root: str, ds: str, days: int) -> pd.DataFrame:
    """Feature rows of the window, as one pandas frame."""
    import pyarrow as pa

    from shoplake.io.lake import read_partition

    paths = feature_partitions(lake_root, ds, days)
    df = pa.concat_tables([read_partition(p) for p in paths]).to_pandas()
    log.info("read %s feature rows from %s partitions", len(df), len(paths))
    return df


def split_window(cfg: PurchaseTrainConfig) -> TimeSplit:
    """The deterministic time-based split of the window (the same rows on every backend and rerun)."""
    from shoplake.ml.splits import time_split

    df = load_features(cfg.lake_root, cfg.ds, cfg.window_days)
    if len(df) < cfg.min_rows:
        raise ValueError(f"{len(df)} feature rows in the window (< --min-rows {cfg.min_rows}); widen the window")
    return time_split(df, test_fraction=cfg.test_fraction, valid_fraction=cfg.valid_fraction)


def game_stats(cfg: PurchaseTrainConfig, split: TimeSplit, target: str) -> Any:
    """The game table of ``target`` from the training rows (None with ``--game-features false``)."""
    from shoplake.transforms.game_features import GameStats

    return GameStats.fit(split.train, target) if cfg.game_features else None


def with_games(split: TimeSplit, games: Any, target: str) -> TimeSplit:
    """``split`` with the game-level features of ``games`` (training rows out of fold); as it is without a table."""
    from shoplake.ml.splits import TimeSplit

    if games is None:
        return split
    train = games.apply(split.train, out_of_fold_target=target) if len(split.train) else split.train
    return TimeSplit(train, games.apply(split.valid), games.apply(split.test), described=split.described)


#: one game in this many is held out whole for the unseen-games evaluation (by a stable hash of its id)
UNSEEN_GAME_EVERY = 5


def unseen_games_evaluation(cfg: PurchaseTrainConfig, split: TimeSplit, params: Any, device: str) -> dict[str, Any]:
    """AUC on games the training rows never held: the window's games are split by a stable hash of ``appid`` (one in
    :data:`UNSEEN_GAME_EVERY`); a booster fitted like the published one on the other games' training rows (the
    validation rows of those games for early stopping) scores every row of the held-out games, beside the per-game
    rate — which knows nothing of an unseen game (the training rate for all: AUC 0.5) — and ``positive_prob``
    alone. A window with too few games or one class among them says so."""
    import numpy as np

    from shoplake.ml.baselines import binary_baseline_scores
    from shoplake.ml.metrics import auc_or_none, binary_metrics, paired_lead
    from shoplake.ml.splits import TimeSplit
    from shoplake.ml.xgb import fit_booster, predict

    parts = (split.train, split.valid, split.test)
    masks = [held_out_games(part["appid"]) for part in parts]  # one hash per row, for the held-out and the rest
    every = pd_concat(list(parts))
    held = np.concatenate(masks)
    games_held = int(every.loc[held, "appid"].nunique())
    y = every.loc[held, cfg.target].to_numpy().astype(int)
    if games_held == 0 or len(np.unique(y)) < 2:
        return {"games": games_held, "rows": int(held.sum()), "note": "too few held-out games or one class: no AUC"}
    seen = TimeSplit(*(part[~mask] for part, mask in zip(parts, masks, strict=True)))
    games = game_stats(cfg, seen, cfg.target)
    booster = fit_booster(with_games(seen, games, cfg.target), cfg.target, params, device, [],
                          games=cfg.game_features, margin_from=cfg.margin_from)  # fmt: skip
    test = every[held]
    scored = games.apply(test) if games is not None else test
    train_rows = seen.train if len(seen.train) else seen.valid
    p_model = predict(booster, scored)
    scores = binary_baseline_scores(train_rows, test, cfg.target, group="appid", score="positive_prob")
    return {
        "games": games_held,
        "rows": int(held.sum()),
        "model_auc": binary_metrics(y, p_model)["auc"],
        "baselines": {name: binary_metrics(y, p)["auc"] for name, p in scores.items()},
        # resampled by game: a game's reviews are not independent draws, and the games are few
        "leads": {
            name: paired_lead(y, p_model, p, auc_or_none, n_boot=500, groups=test["appid"].to_numpy())
            for name, p in scores.items()
        },
        "protocol": f"one game in {UNSEEN_GAME_EVERY} (crc32 of appid) held out whole; the model fitted on the "
        "others' training rows",
    }


def held_out_games(appids: Any) -> Any:
    """Whether each row's game is one of those held out whole (crc32 of the game id: stable across runs)."""
    import zlib

    import numpy as np

    return np.array([zlib.crc32(str(a).encode()) % UNSEEN_GAME_EVERY == 0 for a in appids], dtype=bool)


def pd_concat(frames: list[Any]) -> Any:
    import pandas as pd

    return pd.concat(frames, ignore_index=True)


def split_apps(cfg: PurchaseTrainConfig, split: TimeSplit) -> list[int]:
    """Games that get a one-hot column (from the training rows only, so every backend derives the same list)."""
    from shoplake.transforms.purchase_features import frequent_apps

    return frequent_apps(split.train, cfg.app_min_reviews) if cfg.app_min_reviews > 0 else []


# ---- evaluate, gate, publish, track ----------------------------------------------------------------------------


def champion_scorer(
    split: TimeSplit, target: str, p_test: Any = None
) -> Callable[[dict[str, Any]], dict[str, Any] | None]:
    """Scores the champion named by ``current.json`` on this run's held-out rows (``None`` if it can't be):
    ``{"score": its AUC, "lead": the model's paired-bootstrap lead over it}`` (``p_test``: the model's scores of
    those rows; without them, no lead)."""
    import numpy as np

    from shoplake.ml.baselines import PRIOR_ROWS
    from shoplake.ml.metrics import auc_or_none, binary_metrics, paired_lead
    from shoplake.ml.xgb import load_version_files, predict
    from shoplake.transforms.purchase_features import APP_PREFIX

    y = split.test[target].to_numpy().astype(int)

    def scored(theirs: Any) -> dict[str, Any]:
        lead = None if p_test is None else paired_lead(y, p_test, theirs, auc_or_none, n_boot=500)
        return {"score": binary_metrics(y, theirs)["auc"], "lead": lead}

    def score(champion: dict[str, Any]) -> dict[str, Any] | None:
        try:
            if champion.get("model") == PER_GAME_RATE:  # a baseline champion: its game table's rates
                _, _, games = load_version_files(champion["path"], spec_only=True)
                return scored(np.asarray([games.rate(a, PRIOR_ROWS) for a in split.test["appid"]]))
            booster, _, games = load_version_files(champion["path"])
            test = games.apply(split.test) if games is not None else split.test  # the champion's own game table
            missing = {f for f in booster.feature_names or [] if not f.startswith(APP_PREFIX)} - set(test.columns)
            if champion.get("target", target) != target or missing or not booster.feature_names:
                log.warning("champion %s can't score these rows; using its recorded AUC", champion["version"])
                return None
            return scored(predict(booster, test))
        except (FileNotFoundError, ValueError, OSError) as exc:
            log.warning("champion %s not loadable (%s); using its recorded AUC", champion.get("path"), exc)
            return None

    return score


def model_card(
    cfg: PurchaseTrainConfig, metrics: dict[str, Any], importance: pd.DataFrame, gate: dict[str, Any]
) -> str:
    """A Markdown model card for the version directory (``gate``: the publishing verdict)."""
    m, other = metrics[cfg.target], metrics[cfg.other_target]
    top = ", ".join(importance["feature"].head(8))
    split = metrics["split"]
    baselines = ", ".join(f"{k} {v:.4f}" for k, v in metrics["baselines"].items()) or "none computable"
    champion = f" (AUC {gate['champion_score']:.4f} on these rows)" if gate["champion_score"] is not None else ""
    return f"""# {cfg.model_name} — version {cfg.ds}

**Task.** Binary classification of Steam reviews: `{cfg.target}` (see `shoplake.transforms.purchase_features` for
why this target and which columns are excluded). Trained by shoplake's `steam_purchase_model_weekly` DAG.

**Data.** `enriched/{STEAM_PURCHASE_FEATURES}` partitions of the {cfg.window_days} days up to {cfg.ds}. Time-based
split by review creation time: train {split["train"]["rows"]} rows ({split["train"]["created"][0]} … ), validation
{split["valid"]["rows"]} rows (early stopping, F1 threshold), held-out test {split["test"]["rows"]} rows (from
{split["test"]["created"][0]}).

**Model.** XGBoost `hist`, {metrics["rounds"]} rounds, device `{metrics["device"]}`, backend `{cfg.backend}`,
seed {cfg.seed}; class imbalance by `scale_pos_weight` = negatives/positives unless set.

**Held-out metrics ({cfg.target}).** AUC {m["auc"]:.4f} · PR-AUC {m["pr_auc"]:.4f} · F1 {m["f1"]:.4f} at 0.5,
{m["at_valid_threshold"]["f1"]:.4f} at the validation threshold {m["at_valid_threshold"]["threshold"]:.3f} ·
accuracy {m["accuracy"]:.4f} · base rate {m["base_rate"]:.3f} (n = {m["n"]}).

**Same features for `{cfg.other_target}`** (reported, not published): AUC {other["auc"]:.4f} · PR-AUC
{other["pr_auc"]:.4f} · F1 {other["f1"]:.4f}.

**Baselines on the same held-out rows (AUC).** {baselines}.

**Gate.** {gate["reason"]}; champion {gate["champion_version"] or "none yet"}{champion}.

**Most important features (gain).** {top}.

**Limits.** Trained on the reviews of a few games in one window; `positive_prob` comes from the sentiment model
current when the day was scored. Not for decisions about individual people.
"""


def finish_training(
    cfg: PurchaseTrainConfig,
    split: TimeSplit,
    boosters: dict[str, Any],
    *,
    device: str,
    games: dict[str, Any] | None = None,
    backend_note: str = "",
    extra_metrics: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """Evaluate ``boosters[target]`` (and the other target's) — each with its own game table from ``games`` —,
    write the version, gate, track. Returns XCom."""
    from shoplake.ml.publishing import publish_model_version
    from shoplake.ml.xgb import evaluate_booster, feature_importance, margin_source, save_version_files

    booster = boosters[cfg.target]
    metrics: dict[str, Any] = {"split": split.describe(), "device": device, "backend": cfg.backend}
    metrics.update(extra_metrics or {})
    games = games or {}
    own = with_games(split, games.get(cfg.target), cfg.target)
    metrics[cfg.target], p_test = evaluate_booster(booster, own, cfg.target)
    other = with_games(split, games.get(cfg.other_target), cfg.other_target)
    metrics[cfg.other_target], _ = evaluate_booster(boosters[cfg.other_target], other, cfg.other_target)
    source = margin_source(booster)
    metrics["starts_from"] = f"logit({source})" if source else "a constant (XGBoost's base score)"
    metrics["rounds"] = booster.num_boosted_rounds()
    metrics["best_iteration"] = getattr(booster, "best_iteration", None)
    metrics["baselines"], leads = purchase_baselines(split, cfg.target, p_test)
    metrics["baseline_leads"] = leads
    metrics["game_features"] = "game-level (training rows; out of fold for them)" if games else "none"
    if backend_note:
        metrics["backend_note"] = backend_note
    importance = feature_importance(booster)
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "version"
        out.mkdir()
        save_version_files(out, booster, target=cfg.target, games=games.get(cfg.target),
                           threshold=metrics[cfg.target]["at_valid_threshold"]["threshold"])  # fmt: skip
        _plots(cfg, out, importance, split, p_test)
        published = publish_model_version(
            lake_root=cfg.lake_root, name=cfg.model_name, ds=cfg.ds, metrics=metrics, config=cfg, local_dir=out,
            pointer={"target": cfg.target}, cards=lambda gate: {"model_card.md": model_card(cfg, metrics, importance,
                                                                                            gate)},
            gate=purchase_gate(cfg, split, metrics, p_test, serves_rate=bool(games.get(cfg.target))),
            tracking=_tracking(cfg, metrics, booster),
        )  # fmt: skip
    return {
        "ds": cfg.ds,
        "auc": metrics[cfg.target]["auc"],
        "pr_auc": metrics[cfg.target]["pr_auc"],
        "rows": int(sum(v["rows"] for v in metrics["split"].values())),
        "champion_auc": published["champion_score"],
        **published,
    }


def purchase_gate(cfg: PurchaseTrainConfig, split: TimeSplit, metrics: dict[str, Any], p_test: Any, *,
                  serves_rate: bool) -> Any:  # fmt: skip
    """The gate on the held-out AUC: the baselines and the model's leads over them, the class floor, the
    unseen-games veto and the champion re-scored on the same rows; ``serves_rate``: the version's game table can
    serve the per-game rate when it wins."""
    from shoplake.ml.metrics import too_few_of_a_class
    from shoplake.ml.publishing import Gate

    positives = int(split.test[cfg.target].astype(int).sum())
    return Gate("auc", metrics[cfg.target]["auc"], baselines=metrics["baselines"], leads=metrics["baseline_leads"],
                unranked=too_few_of_a_class({"positive": positives, "negative": len(split.test) - positives},
                                            cfg.min_test_class_rows),
                vetoes=unseen_games_veto(metrics.get("unseen_games")),
                champion_score=champion_scorer(split, cfg.target, p_test),
                servable={"per-appid smoothed rate": {"model": PER_GAME_RATE}} if serves_rate else {})  # fmt: skip


def purchase_baselines(split: TimeSplit, target: str, p_test: Any) -> tuple[dict[str, float], dict[str, Any]]:
    """The obvious alternatives' AUC on the same held-out rows — the game's own past rate (training rows only), the
    sentiment score alone, a logistic regression on the review and author features — and the model's lead over
    each (``p_test``: the model's scores of those rows) with its paired-bootstrap 95 % interval."""
    import numpy as np

    from shoplake.ml.baselines import binary_baseline_scores, logistic_baseline_scores
    from shoplake.ml.metrics import auc_or_none, binary_metrics, paired_lead

    train_rows = split.train if len(split.train) else split.valid  # (the Spark backend holds no training rows here)
    y = split.test[target].to_numpy().astype(int)
    if len(np.unique(y)) < 2:
        return {}, {}
    scores = binary_baseline_scores(train_rows, split.test, target, group="appid", score="positive_prob")
    logistic = logistic_baseline_scores(train_rows, split.test, target)
    if logistic is not None:
        scores["logistic regression"] = logistic
    aucs = {name: binary_metrics(y, p)["auc"] for name, p in scores.items()}
    leads = {name: paired_lead(y, p_test, p, auc_or_none, n_boot=500) for name, p in scores.items()}
    return aucs, leads


def unseen_games_veto(unseen: dict[str, Any] | None) -> dict[str, str]:
    """``{"unseen games": why}`` when on the games held out whole the strongest baseline beats the model beyond noise
    (the model's lead's game-resampled 95 % interval below zero); ``{}`` otherwise — a model that loses a coin toss
    on a handful of games is not vetoed, and the figures say so in ``metrics.json`` → ``unseen_games``."""
    if not unseen or not unseen.get("baselines") or not unseen.get("leads"):
        return {}
    name = max(unseen["baselines"], key=unseen["baselines"].get)
    ci = (unseen["leads"].get(name) or {}).get("ci95")
    if unseen["model_auc"] < unseen["baselines"][name] and ci and ci[1] < 0:
        return {"unseen games": (f"on {unseen['games']} games held out whole the model's AUC "
                                 f"{unseen['model_auc']:.4f} is below {name!r} ({unseen['baselines'][name]:.4f}), "
                                 f"its lead's interval [{ci[0]:+.4f}, {ci[1]:+.4f}] below zero")}  # fmt: skip
    return {}


def _plots(cfg: PurchaseTrainConfig, out: Path, importance: Any, split: TimeSplit, p_test: Any) -> None:
    """The version's feature importance (CSV and plot) and ROC curve beside the sentiment-only baseline."""
    from shoplake.ml.plots import plot_importance, plot_roc

    importance.to_csv(out / "feature_importance.csv", index=False)
    plot_importance(out / "feature_importance.png", importance)
    y_test = split.test[cfg.target].to_numpy().astype(int)
    curves = {
        "XGBoost": (y_test, p_test),
        # reviews no sentiment model supports have no score: the baseline ranks them in the middle
        "sentiment positive_prob alone": (y_test, split.test["positive_prob"].fillna(0.5).to_numpy()),
    }
    plot_roc(out / "roc.png", curves, f"Steam {cfg.target}, held-out newest {cfg.test_fraction:.0%}")


def _tracking(cfg: PurchaseTrainConfig, metrics: dict[str, Any], booster: Any) -> Any:
    """What MLflow records of a purchase model (a ``shoplake.ml.publishing.Tracking``)."""
    from shoplake.ml.publishing import Tracking

    flat = {
        f"{t}_{k}": float(v)
        for t in (cfg.target, cfg.other_target)
        for k, v in metrics[t].items()
        if isinstance(v, int | float) and not isinstance(v, bool)
    }
    flat[f"{cfg.target}_f1_at_valid_threshold"] = metrics[cfg.target]["at_valid_threshold"]["f1"]
    flat.update({f"baseline_{k.replace(' ', '_')}": v for k, v in metrics["baselines"].items()})
    return Tracking(
        cfg.mlflow_uri, params={**asdict(cfg), "rounds": metrics["rounds"], "device": metrics["device"]},
        metrics=flat, booster=booster, tags={"target": cfg.target, "backend": cfg.backend},
        experiment=EXPERIMENT,  # both targets' models share one experiment
    )  # fmt: skip


# ---- the backends ------------------------------------------------------------------------------------------------


def train_purchase_model(cfg: PurchaseTrainConfig) -> dict[str, Any]:
    """The local backend (and SageMaker's publish step, with ``booster_path``): split, fit, finish.

    With ``export_uri`` set it only exports SageMaker's channels (:func:`export_channels`).
    """
    import numpy as np

    from shoplake.ml.xgb import fit_booster, load_booster, pick_xgb_device
    from shoplake.transforms.purchase_features import feature_columns

    if cfg.export_uri:
        return export_channels(cfg, cfg.export_uri)
    np.random.seed(cfg.seed)
    split = split_window(cfg)
    apps = split_apps(cfg, split)
    device = pick_xgb_device(cfg.device)
    params = xgb_params(cfg)
    games = {t: game_stats(cfg, split, t) for t in (cfg.target, cfg.other_target)}

    def fit(t: str) -> Any:
        return fit_booster(with_games(split, games[t], t), t, params, device, apps, games=cfg.game_features,
                           margin_from=cfg.margin_from)  # fmt: skip

    boosters = {cfg.other_target: fit(cfg.other_target)}
    if cfg.booster_path:
        features = feature_columns(cfg.target, apps, games=cfg.game_features)
        boosters[cfg.target] = load_booster(cfg.booster_path, features)
    else:
        boosters[cfg.target] = fit(cfg.target)
    unseen = unseen_games_evaluation(cfg, split, params, device) if not cfg.booster_path else None
    return finish_training(cfg, split, boosters, device=device, games=games,
                           extra_metrics={"unseen_games": unseen} if unseen else None)  # fmt: skip


def export_channels(cfg: PurchaseTrainConfig, out_uri: str) -> dict[str, Any]:
    """Write SageMaker's ``train`` / ``validation`` channels (headerless CSV, label first) under ``out_uri``.

    The built-in XGBoost algorithm reads them; the publish step rebuilds the same split from the lake for the
    held-out evaluation. A rerun replaces the prefix.
    """
    from shoplake.io.lake import filesystem
    from shoplake.transforms.purchase_features import feature_columns, model_frame

    split = split_window(cfg)
    split = with_games(split, game_stats(cfg, split, cfg.target), cfg.target)  # the publish step rebuilds the same
    features = feature_columns(cfg.target, split_apps(cfg, split), games=cfg.game_features)
    fs, root = filesystem(out_uri)
    if fs.exists(root):
        fs.rm(root, recursive=True)
    counts = {}
    for channel, df in (("train", split.train), ("validation", split.valid)):
        fs.makedirs(f"{root}/{channel}", exist_ok=True)
        frame = model_frame(df, features)
        frame.insert(0, cfg.target, df[cfg.target].astype(float))
        with fs.open(f"{root}/{channel}/data.csv", "w") as fh:
            frame.to_csv(fh, header=False, index=False, na_rep="")
        counts[channel] = len(frame)
    positives = int(split.train[cfg.target].sum())
    spw = (len(split.train) - positives) / max(positives, 1)  # the Params' scale_pos_weight=0 means this
    log.info("exported SageMaker channels to %s: %s", out_uri, counts)
    return {"ds": cfg.ds, "path": out_uri, "rows": sum(counts.values()), "scale_pos_weight": spw, **counts}


#: held-out / validation rows the Spark backend evaluates on, at most (a seeded uniform sample above it)
SPARK_EVAL_MAX_ROWS = 200_000


def train_purchase_model_spark(spark: SparkSession, cfg: PurchaseTrainConfig) -> dict[str, Any]:
    """Split, fit both targets with xgboost.spark, then evaluate, gate, publish and track like the local job.

    Training rows stay distributed (``SparkXGBClassifier``, one XGBoost worker per Spark task). The driver holds,
    bounded whatever the window's size: the split's row counts and time spans (aggregated in Spark), and the
    validation and held-out rows for evaluation — all of them up to :data:`SPARK_EVAL_MAX_ROWS` per split, above
    that a seeded uniform sample of that many (``metrics.json`` → ``evaluation`` says which; an AUC on 200,000 rows
    has a standard error near 0.001).
    """
    from pyspark.sql import functions as F

    from shoplake.io.spark_lake import read_parquet
    from shoplake.ml.splits import TimeSplit, with_time_split
    from shoplake.ml.xgb import fit_spark_booster, pick_xgb_device, with_model_columns
    from shoplake.transforms.game_features import with_game_features_spark
    from shoplake.transforms.purchase_features import feature_columns, frequent_apps_spark

    window = read_parquet(spark, *feature_partitions(cfg.lake_root, cfg.ds, cfg.window_days))
    df = with_time_split(window, test_fraction=cfg.test_fraction, valid_fraction=cfg.valid_fraction).cache()
    rows = df.count()
    if rows < cfg.min_rows:
        raise ValueError(f"{rows} feature rows in the window (< --min-rows {cfg.min_rows}); widen the window")
    apps = frequent_apps_spark(df, cfg.app_min_reviews)
    device = pick_xgb_device(cfg.device)
    params = xgb_params(cfg)
    boosters, games = {}, {}
    for t in (cfg.target, cfg.other_target):  # each target's game-level rate is its own
        features = feature_columns(t, apps, games=cfg.game_features)
        rows_t, games[t] = with_game_features_spark(df, t) if cfg.game_features else (df, None)
        boosters[t] = fit_spark_booster(with_model_columns(rows_t, features), t, features, params, device,
                                        margin_from=cfg.margin_from)  # fmt: skip
    created = F.col("timestamp_created")
    per_split = df.groupBy("split").agg(
        F.count(F.lit(1)).alias("n"), F.min(created).alias("lo"), F.max(created).alias("hi")
    )
    spans = {r["split"]: r for r in per_split.collect()}  # three rows
    described, evaluation, frames = {}, {}, {}
    for name in ("train", "valid", "test"):
        n = int(spans[name]["n"]) if name in spans else 0
        described[name] = {"rows": n, "created": [_iso(spans[name]["lo"]), _iso(spans[name]["hi"])] if n else []}
        if name == "train":
            continue
        part = df.where(F.col("split") == name)
        if n > SPARK_EVAL_MAX_ROWS:
            part = part.orderBy(F.rand(cfg.seed)).limit(SPARK_EVAL_MAX_ROWS)
        frames[name] = part.toPandas()
        evaluation[name] = {"rows": n, "evaluated": len(frames[name]), "sampled": n > SPARK_EVAL_MAX_ROWS}
    log.info("spark split %s; evaluated on %s", described, evaluation)
    split = TimeSplit(frames["valid"].iloc[:0], frames["valid"], frames["test"], described=described)
    note = "xgboost.spark, num_workers=1"
    if any(e["sampled"] for e in evaluation.values()):
        note += f"; evaluated on a seeded sample of {SPARK_EVAL_MAX_ROWS} rows per split"
    return finish_training(
        cfg, split, boosters, device=device, games=games, backend_note=note, extra_metrics={"evaluation": evaluation}
    )


def _iso(epoch_s: Any) -> str:
    return dt.datetime.fromtimestamp(int(epoch_s), dt.UTC).isoformat()


def check_published(lake_root: str, ds: str, target: str) -> dict[str, Any]:
    """Verify the version for ``ds`` is complete; returns what the model asset event carries.

    Raises:
        FileNotFoundError: the version or one of its files is missing.
    """
    from shoplake.io.lake import filesystem
    from shoplake.ml.registry import read_current, version_files

    name = PURCHASE_MODELS[target]
    path = version_path(lake_root, name, ds)
    fs, root = filesystem(version_files(lake_root, name, ds))
    spec = json.loads(fs.cat(f"{root}/{SPEC_FILE}")) if fs.exists(f"{root}/{SPEC_FILE}") else {"features": []}
    games = any(f.startswith("game_") for f in spec["features"])  # a version without game features has no table
    missing = [f for f in VERSION_FILES if (games or f != GAMES_FILE) and not fs.exists(f"{root}/{f}")]
    if missing:
        raise FileNotFoundError(f"model version {path} lacks {missing}")
    metrics = json.loads(fs.cat(f"{root}/metrics.json"))
    current = read_current(lake_root, name) or {}
    return {
        "ds": ds,
        "model": name,
        "path": path,
        "rows": int(sum(v["rows"] for v in metrics["split"].values())),
        "auc": metrics[target]["auc"],
        "pr_auc": metrics[target]["pr_auc"],
        "f1": metrics[target]["f1"],
        "current_version": current.get("version"),
    }
