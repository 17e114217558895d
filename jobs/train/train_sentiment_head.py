"""Train shoplake's default sentiment model → model/sentiment_head/version=<ds>/ (+ current.json, updated last).

    python jobs/train/train_sentiment_head.py --ds 2019-03-03 --lake-root ./lake --window-days 28
    python jobs/train/train_sentiment_head.py --ds 2019-03-06 --lake-root ./lake --steam-source DIR  # cold start

Reads labelled reviews (``voted_up``) from the curated partitions of the window — or, to bootstrap a lake that
has none yet, from saved Steam responses cleaned by the same rules — embeds them with all-MiniLM-L6-v2, fits a
logistic-regression head on the older 80 % (by creation time), evaluates on the newest 20 % against VADER, and
publishes the model with metrics.json, roc.png and its config. ``current.json`` moves to the new version only if
its held-out AUC is not worse than the current model's.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import sys
import tempfile
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np

from shoplake.jobconfig import parse_job_args
from shoplake.paths import Zone, partition_path, validate_ds

log = logging.getLogger("train_sentiment_head")

MODEL_NAME = "sentiment_head"
MODEL_ID = "shoplake/steam-sentiment-minilm-head"


@dataclass(frozen=True)
class TrainConfig:
    """Arguments of the job (CLI flags are the kebab-case field names)."""

    ds: str
    lake_root: str
    window_days: int = 28
    steam_source: str = ""
    encoder_dir: str = ""
    test_fraction: float = 0.2
    seed: int = 13
    c: float = 4.0
    batch_size: int = 64
    max_length: int = 256
    device: str = "auto"

    def __post_init__(self) -> None:
        validate_ds(self.ds)
        if self.window_days < 1:
            raise ValueError("--window-days must be >= 1")
        if not 0.05 <= self.test_fraction <= 0.5:
            raise ValueError("--test-fraction must be within [0.05, 0.5]")

    @classmethod
    def from_args(cls, argv: list[str] | None = None) -> TrainConfig:
        return parse_job_args(cls, argv, __doc__)


def load_curated(cfg: TrainConfig) -> tuple[list[str], np.ndarray, np.ndarray]:
    """Texts, labels and creation times of the curated partitions in the window (missing days are skipped)."""
    import pyarrow as pa

    from shoplake.io.lake import read_partition

    end = dt.date.fromisoformat(cfg.ds)
    tables = []
    for i in range(cfg.window_days):
        ds = (end - dt.timedelta(days=i)).isoformat()
        try:
            tables.append(
                read_partition(
                    partition_path(cfg.lake_root, Zone.CURATED, "steam_reviews", ds),
                    columns=["review_text", "voted_up", "timestamp_created"],
                )
            )
        except FileNotFoundError:
            continue
    if not tables:
        raise FileNotFoundError(f"no curated steam_reviews partition in the {cfg.window_days} days up to {cfg.ds}")
    t = pa.concat_tables(tables)
    log.info("read %s curated reviews from %s partitions", t.num_rows, len(tables))
    return (
        t["review_text"].to_pylist(),
        np.array(t["voted_up"].to_pylist(), dtype=int),
        np.array(t["timestamp_created"].to_pylist()),
    )


def load_source(cfg: TrainConfig) -> tuple[list[str], np.ndarray, np.ndarray]:
    """Cold start: labelled reviews of the window's days from saved responses, cleaned like curated rows."""
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


def run(cfg: TrainConfig) -> dict:
    from shoplake.ml.plots import plot_roc
    from shoplake.ml.registry import publish_version
    from shoplake.ml.sentiment import EngineConfig
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
    engine_cfg = EngineConfig(batch_size=cfg.batch_size, max_length=cfg.max_length, device=cfg.device)
    x = embed_texts(encoder, texts, engine_cfg)
    head = fit_head(x[train_idx], y[train_idx], seed=cfg.seed, c=cfg.c)
    p_test = head.positive_proba(x[test_idx])
    test_texts = [texts[i] for i in test_idx]
    p_vader = vader_scores(test_texts)
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
        result = publish_version(out, cfg.lake_root, MODEL_NAME, cfg.ds, auc=metrics["model"]["auc"])
    log.info("metrics %s", json.dumps(metrics))
    return {**result, "revision": revision, "metrics": metrics}


def main(argv: list[str] | None = None) -> dict:
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    cfg = TrainConfig.from_args(argv)
    log.info("config %s", asdict(cfg))
    result = run(cfg)
    # last line of stdout: the XCom of a BashOperator (paths and figures only)
    sys.stdout.write(json.dumps({k: result[k] for k in ("path", "auc", "promoted", "revision")}) + "\n")
    return result


if __name__ == "__main__":
    main(sys.argv[1:])
