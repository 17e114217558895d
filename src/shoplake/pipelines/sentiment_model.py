"""The offline sentiment model: MiniLM embeddings + a logistic head → ``model/sentiment_head/version=<ds>/``.

:func:`train` reads labelled reviews (``voted_up``) from the curated partitions of the window — or, to bootstrap a
lake that has none yet, from saved Steam responses cleaned by the same rules — embeds them with all-MiniLM-L6-v2,
fits a logistic-regression head on the older 80 % (by creation time), evaluates on the newest 20 % against VADER,
and publishes the model with metrics.json, roc.png and its config. ``current.json`` moves to the new version only if
its held-out AUC is not worse than the current model's.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import tempfile
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from shoplake.jobconfig import check_options, option
from shoplake.ml.sentiment import EngineConfig
from shoplake.paths import SENTIMENT_MODEL, STEAM_REVIEWS, Zone, validate_ds, window_partitions

if TYPE_CHECKING:
    import numpy as np

log = logging.getLogger(__name__)

#: the model id written into every scored row
MODEL_ID = "shoplake/steam-sentiment-minilm-head"


@dataclass(frozen=True, kw_only=True)
class SentimentTrainConfig(EngineConfig):
    """Arguments of the training job (``jobs/train/train_sentiment_head.py``)."""

    ds: str = option(help="last day of the training window, YYYY-MM-DD; the version is named after it")
    lake_root: str = option(help="lake root: a path or an s3:// / gs:// URI")
    window_days: int = option(28, help="days of labelled reviews ending at ds to learn from", minimum=1, maximum=365)
    steam_source: str = option(
        "", help="cold start: read saved Steam responses from this directory instead of curated partitions"
    )
    encoder_dir: str = option("", help="sentence encoder directory (default: the packaged all-MiniLM-L6-v2)")
    test_fraction: float = option(
        0.2, help="newest share of the reviews (by creation time) held out for evaluation", minimum=0.05, maximum=0.5
    )
    seed: int = option(13, help="seed of the head's solver")
    c: float = option(4.0, help="inverse L2 regularisation of the logistic head", exclusiveMinimum=0)

    def __post_init__(self) -> None:
        validate_ds(self.ds)
        check_options(self)


def load_curated(cfg: SentimentTrainConfig) -> tuple[list[str], np.ndarray, np.ndarray]:
    """Texts, labels and creation times of the curated partitions in the window (missing days are skipped)."""
    import numpy as np
    import pyarrow as pa

    from shoplake.io.lake import existing_partitions, read_partition

    paths, _ = existing_partitions(
        window_partitions(cfg.lake_root, Zone.CURATED, STEAM_REVIEWS, cfg.ds, cfg.window_days)
    )
    if not paths:
        raise FileNotFoundError(f"no curated {STEAM_REVIEWS} partition in the {cfg.window_days} days up to {cfg.ds}")
    t = pa.concat_tables([read_partition(p, columns=["review_text", "voted_up", "timestamp_created"]) for p in paths])
    log.info("read %s curated reviews from %s partitions", t.num_rows, len(paths))
    return (
        t["review_text"].to_pylist(),
        np.array(t["voted_up"].to_pylist(), dtype=int),
        np.array(t["timestamp_created"].to_pylist()),
    )


def load_source(cfg: SentimentTrainConfig) -> tuple[list[str], np.ndarray, np.ndarray]:
    """Cold start: labelled reviews of the window's days from saved responses, cleaned like curated rows."""
    import numpy as np

    from shoplake.ingest.steam_source import read_saved_responses
    from shoplake.transforms.text import clean_review_text

    end = dt.datetime.fromisoformat(cfg.ds).replace(tzinfo=dt.UTC) + dt.timedelta(days=1)
    start_ts, end_ts = int((end - dt.timedelta(days=cfg.window_days)).timestamp()), int(end.timestamp())
    texts, labels, created, skipped = [], [], [], 0
    for rec in read_saved_responses(cfg.steam_source):
        r = rec.review
        ok = isinstance(r, dict) and isinstance(r.get("voted_up"), bool) and isinstance(r.get("timestamp_created"), int)
        text = clean_review_text(r.get("review")) if ok else ""
        if not ok or not text or not start_ts <= r["timestamp_created"] < end_ts:
            skipped += 1
            continue
        texts.append(text)
        labels.append(int(r["voted_up"]))
        created.append(r["timestamp_created"])
    log.info(
        "read %s labelled reviews from %s (%s skipped: unlabelled, empty or outside the window)",
        len(texts),
        cfg.steam_source,
        skipped,
    )
    return texts, np.array(labels, dtype=int), np.array(created)


def train(cfg: SentimentTrainConfig) -> dict[str, Any]:
    """Embed, fit the head, evaluate against VADER, publish and gate.

    Returns:
        ``{"ds", "path", "auc", "promoted", "revision", "rows"}`` (the full metrics are in the version's
        ``metrics.json`` and the log).

    Raises:
        ValueError: the held-out split is too small or holds one class.
    """
    import numpy as np

    from shoplake.ml.plots import plot_roc
    from shoplake.ml.registry import publish_version
    from shoplake.ml.sentiment import engine_config
    from shoplake.ml.sentiment_head import (
        default_encoder_dir,
        embed_texts,
        evaluate,
        fit_head,
        save_head_model,
        vader_scores,
    )

    np.random.seed(cfg.seed)
    texts, y, created = load_source(cfg) if cfg.steam_source else load_curated(cfg)
    order = np.argsort(created, kind="stable")  # time-based split: train on the past, test on the newest
    cut = int(len(order) * (1 - cfg.test_fraction))
    train_idx, test_idx = order[:cut], order[cut:]
    if len(test_idx) < 20 or len(np.unique(y[test_idx])) < 2:
        raise ValueError(f"held-out split too small or single-class ({len(test_idx)} rows); widen the window")
    encoder = cfg.encoder_dir or default_encoder_dir()
    x = embed_texts(encoder, texts, engine_config(cfg))
    head = fit_head(x[train_idx], y[train_idx], seed=cfg.seed, c=cfg.c)
    p_test = head.positive_proba(x[test_idx])
    p_vader = vader_scores([texts[i] for i in test_idx])
    metrics = {
        "model": evaluate(y[test_idx], p_test),
        "vader": evaluate(y[test_idx], p_vader),
        "train_rows": len(train_idx),
        "split": f"time-based: newest {cfg.test_fraction:.0%} by timestamp_created held out",
        "test_created_from": dt.datetime.fromtimestamp(int(created[test_idx].min()), dt.UTC).isoformat(),
    }
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "model"
        revision = save_head_model(
            out, encoder, head, model_id=MODEL_ID, extra={"trained_for_ds": cfg.ds, "max_length": cfg.max_length}
        )
        metrics["revision"] = revision
        (out / "metrics.json").write_text(json.dumps(metrics, indent=2, sort_keys=True))
        (out / "config.json.snapshot").write_text(json.dumps(asdict(cfg), indent=2, sort_keys=True))
        curves = {"MiniLM + logistic head": (y[test_idx], p_test), "VADER": (y[test_idx], p_vader)}
        plot_roc(out / "roc.png", curves, "Steam voted_up, held-out split")
        result = publish_version(out, cfg.lake_root, SENTIMENT_MODEL, cfg.ds, auc=metrics["model"]["auc"])
    log.info("metrics %s", json.dumps(metrics))
    return {
        "ds": cfg.ds,
        "path": result["path"],
        "auc": result["auc"],
        "promoted": result["promoted"],
        "revision": revision,
        "rows": len(texts),
    }
