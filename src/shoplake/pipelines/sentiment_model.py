"""The offline sentiment models: sentence embeddings + a logistic head, one model per encoder.

- ``--encoder minilm`` (default): all-MiniLM-L6-v2 (English) → ``model/sentiment_head/version=<ds>/``, the ``en``
  route of ``SHOPLAKE_SENTIMENT_MODELS``.
- ``--encoder use-multilingual-v3``: Universal Sentence Encoder multilingual v3 (16 languages, packaged weights) →
  ``model/sentiment_multilingual/version=<ds>/``, the ``*`` route. It serves every language (``--language '*'``) and
  its head learns from every labelled language of the window (``--train-language '*'``, the default for this
  encoder); an English-only head is fitted beside it and reported (``model_english_only``), and a language without
  labels of its own is reported as transfer.

:func:`train_sentiment_head` reads labelled reviews (``voted_up``) from the curated partitions of the window — or, to
bootstrap a lake that has none yet, from saved Steam responses cleaned by the same rules — embeds them, fits a
logistic-regression head on the older 80 % (by creation time), evaluates on the newest 20 % against VADER — overall
and per language, with bootstrap intervals and no AUC below ``min_negatives`` — and publishes the model with
metrics.json, roc.png and its config. ``current.json`` moves to the new version only if its held-out AUC is not worse
than the current model's.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import tempfile
from collections import Counter
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from shoplake.jobconfig import PartitionJob, option
from shoplake.ml.sentiment import EngineConfig
from shoplake.paths import SENTIMENT_MODEL, SENTIMENT_MULTILINGUAL_MODEL, STEAM_REVIEWS, Zone, window_partitions

if TYPE_CHECKING:
    import numpy as np

log = logging.getLogger(__name__)

#: the model id written into every scored row
MODEL_ID = "shoplake/steam-sentiment-minilm-head"
MULTILINGUAL_MODEL_ID = "shoplake/steam-sentiment-use-multilingual-head"
#: ``--encoder`` → (model-zone name, model id, the curve's name in roc.png)
ENCODERS = {
    "minilm": (SENTIMENT_MODEL, MODEL_ID, "MiniLM + logistic head"),
    "use-multilingual-v3": (SENTIMENT_MULTILINGUAL_MODEL, MULTILINGUAL_MODEL_ID, "USE multilingual + logistic head"),
}


@dataclass(frozen=True, kw_only=True)
class SentimentTrainConfig(PartitionJob, EngineConfig):
    """Arguments of the training job (``jobs/train/train_sentiment_head.py``)."""

    ds: str = option(help="last day of the training window, YYYY-MM-DD; the version is named after it")
    window_days: int = option(28, help="days of labelled reviews ending at ds to learn from", minimum=1, maximum=365)
    steam_source: str = option(
        "", help="cold start: read saved Steam responses from this directory instead of curated partitions"
    )
    labelled_days: int = option(
        0,
        help="cold start: learn from the last N days up to ds that hold labelled reviews in the source, however far "
        "apart (a dump of another year works as it is); 0 = the window_days calendar days ending at ds",
        minimum=0,
    )
    encoder: str = option(
        "minilm",
        help="minilm (English; model/sentiment_head, the 'en' route) or use-multilingual-v3 (16 languages; "
        "model/sentiment_multilingual, the '*' route)",
        enum=list(ENCODERS),
    )
    encoder_dir: str = option(
        "", help="with --encoder minilm: sentence encoder directory (default: the packaged all-MiniLM-L6-v2)"
    )
    test_fraction: float = option(
        0.2, help="newest share of the reviews (by creation time) held out for evaluation", minimum=0.05, maximum=0.5
    )
    seed: int = option(13, help="seed of the head's solver")
    c: float = option(
        4.0,
        help="inverse L2 regularisation strength of the logistic head (larger = weaker regularisation)",
        exclusiveMinimum=0,
    )
    language: str = option(
        "",
        help="evaluate on (and serve) reviews of this language (curated language_code, ISO 639-1); '*' = all; "
        "empty = en with minilm, '*' with use-multilingual-v3. Route the model with SHOPLAKE_SENTIMENT_MODELS",
    )
    train_language: str = option(
        "",
        help="the head learns from the labelled reviews of this language ('*' = every one); empty = --language with "
        "minilm, '*' with use-multilingual-v3 (every labelled language; the English-only head is reported beside it)",
    )
    mlflow_uri: str = option("", help="MLflow tracking URI; empty = SQLite under a local lake, 'none' = off")
    min_negatives: int = option(
        30, help="fewest held-out negatives (and positives) for an AUC to be reported per language group", minimum=1
    )
    compare_comprehend: bool = option(
        False,
        help="also score the held-out reviews with AWS Comprehend (its languages only; billed: about $0.0003 a short "
        "review) and report its AUC beside the model's and VADER's on the same rows; credentials from boto3's chain",
    )

    def __post_init__(self) -> None:
        super().__post_init__()
        multilingual = self.encoder != "minilm"
        if not self.language:
            object.__setattr__(self, "language", "*" if multilingual else "en")
        if not self.train_language:
            object.__setattr__(self, "train_language", "*" if multilingual else self.language)
        if self.language not in ("*", self.train_language) and self.train_language != "*":
            raise ValueError(
                f"--train-language {self.train_language} is not among the reviews read (--language {self.language})"
            )


Labelled = tuple[list[str], "np.ndarray", "np.ndarray", list[str]]


def _comprehend_by_language(texts: list[str], y: Any, test_idx: Any, test_langs: Any, cfg: SentimentTrainConfig):
    """AWS Comprehend's AUC per language (and ``all``) on the held-out rows in its languages."""
    import numpy as np

    from shoplake.ml.metrics import auc_by_group
    from shoplake.ml.sentiment.comprehend import ComprehendClassifier

    clf = ComprehendClassifier()
    scores, _ = clf.score([texts[i] for i in test_idx], list(test_langs))
    log.info("%s", clf.cost_line())
    kept = ~np.isnan(scores)  # refused documents and other languages are left out, and counted
    log.info("comprehend scored %d of %d held-out reviews (the rest: other languages or refused)", int(kept.sum()),
             len(kept))  # fmt: skip
    return auc_by_group(y[test_idx][kept], scores[kept], test_langs[kept], min_negatives=cfg.min_negatives,
                        seed=cfg.seed)  # fmt: skip


def load_curated(cfg: SentimentTrainConfig) -> Labelled:
    """Texts, labels, creation times and languages of the window's curated reviews in ``cfg.language``.

    Missing days are skipped.
    """
    import numpy as np
    import pyarrow as pa

    from shoplake.io.lake import existing_partitions, read_partition

    paths, _ = existing_partitions(
        window_partitions(cfg.lake_root, Zone.CURATED, STEAM_REVIEWS, cfg.ds, cfg.window_days)
    )
    if not paths:
        raise FileNotFoundError(f"no curated {STEAM_REVIEWS} partition in the {cfg.window_days} days up to {cfg.ds}")
    import pyarrow.compute as pc

    columns = ["review_text", "voted_up", "timestamp_created", "language_code"]
    t = pa.concat_tables([read_partition(p, columns=columns) for p in paths])
    n_all = t.num_rows
    if cfg.language != "*":
        t = t.filter(pc.equal(t["language_code"], cfg.language))
    log.info("read %s curated reviews (%s in %s) from %s partitions", n_all, t.num_rows, cfg.language, len(paths))
    return (
        t["review_text"].to_pylist(),
        np.array(t["voted_up"].to_pylist(), dtype=int),
        np.array(t["timestamp_created"].to_pylist()),
        t["language_code"].to_pylist(),
    )


def load_source(cfg: SentimentTrainConfig) -> Labelled:
    """Cold start: labelled reviews of the window's days in ``cfg.language`` from saved responses, cleaned like
    curated rows."""
    import numpy as np

    from shoplake.ingest.mongo_load import coerce_numbers
    from shoplake.ingest.steam_source import read_saved_responses
    from shoplake.transforms.steam_reviews import STEAM_LANGUAGES
    from shoplake.transforms.text import clean_review_text

    end = dt.datetime.fromisoformat(cfg.ds).replace(tzinfo=dt.UTC) + dt.timedelta(days=1)
    start_ts, end_ts = int((end - dt.timedelta(days=cfg.window_days)).timestamp()), int(end.timestamp())
    if cfg.labelled_days:
        start_ts = labelled_window_start(cfg.steam_source, end_ts, cfg.labelled_days, cfg.language)
    texts, labels, created, langs, skipped = [], [], [], [], 0
    for rec in read_saved_responses(cfg.steam_source):
        r = coerce_numbers(rec.review)[0] if isinstance(rec.review, dict) else None
        ok = isinstance(r, dict) and isinstance(r.get("voted_up"), bool) and isinstance(r.get("timestamp_created"), int)
        text = clean_review_text(r.get("review")) if ok else ""
        lang = STEAM_LANGUAGES.get(str(r.get("language", "")).strip().lower(), "und") if ok else "und"
        in_language = cfg.language in ("*", lang)
        if not ok or not text or not in_language or not start_ts <= r["timestamp_created"] < end_ts:
            skipped += 1
            continue
        texts.append(text)
        labels.append(int(r["voted_up"]))
        created.append(r["timestamp_created"])
        langs.append(lang)
    log.info(
        "read %s labelled %s reviews from %s (%s skipped: unlabelled, empty, other language or outside the window)",
        len(texts),
        cfg.language,
        cfg.steam_source,
        skipped,
    )
    return texts, np.array(labels, dtype=int), np.array(created), langs


def labelled_window_start(source_dir: str, end_ts: int, days: int, language: str) -> int:
    """Start (unix seconds, a UTC midnight) of the last ``days`` days before ``end_ts`` with labelled reviews.

    Raises:
        ValueError: the source holds no labelled review of ``language`` before ``end_ts``.
    """
    from shoplake.ingest.mongo_load import coerce_numbers
    from shoplake.ingest.steam_source import read_saved_responses
    from shoplake.transforms.steam_reviews import STEAM_LANGUAGES

    seen: set[dt.date] = set()
    for rec in read_saved_responses(source_dir):
        r = coerce_numbers(rec.review)[0] if isinstance(rec.review, dict) else None
        if not isinstance(r, dict) or not isinstance(r.get("voted_up"), bool):
            continue
        ts = r.get("timestamp_created")
        lang = STEAM_LANGUAGES.get(str(r.get("language", "")).strip().lower(), "und")
        if isinstance(ts, int) and 0 <= ts < end_ts and language in ("*", lang):
            seen.add(dt.datetime.fromtimestamp(ts, dt.UTC).date())
    if not seen:
        end_day = dt.datetime.fromtimestamp(end_ts, dt.UTC).date()
        raise ValueError(f"{source_dir} holds no labelled {language} review before {end_day}: nothing to learn from")
    first = sorted(seen)[-days:][0]
    log.info("cold start: the last %s days with labelled reviews start on %s", min(days, len(seen)), first)
    return int(dt.datetime.combine(first, dt.time(), dt.UTC).timestamp())


def time_split(cfg: SentimentTrainConfig, y: Any, created: Any, langs: list[str]) -> tuple[Any, Any]:
    """``(train, test)`` row indices: the newest ``test_fraction`` by creation time held out; training rows of
    ``train_language`` only (every language with ``*``).

    Raises:
        ValueError: the held-out split is too small or holds one class, or no training row is left.
    """
    import numpy as np

    order = np.argsort(created, kind="stable")  # time-based split: train on the past, test on the newest
    cut = int(len(order) * (1 - cfg.test_fraction))
    train_idx, test_idx = order[:cut], order[cut:]
    if len(test_idx) < 20 or len(np.unique(y[test_idx])) < 2:
        raise ValueError(f"held-out split too small or single-class ({len(test_idx)} rows); widen the window")
    if cfg.train_language != "*":
        train_idx = train_idx[np.array([langs[i] for i in train_idx], dtype=object) == cfg.train_language]
    if len(train_idx) == 0:
        raise ValueError(f"no labelled {cfg.train_language} review before the held-out split; widen the window")
    return train_idx, test_idx


def held_out_by_language(
    cfg: SentimentTrainConfig, x: Any, y: Any, texts: list[str], langs: list[str], split: tuple[Any, Any], scores: dict
) -> dict[str, Any]:
    """Per language, the AUC (with its interval) of each scorer in ``scores`` on the held-out rows, of the
    English-only head beside a head trained on every language, and of Comprehend when asked."""
    import numpy as np

    from shoplake.ml.metrics import auc_by_group, format_auc
    from shoplake.ml.sentiment_head import fit_head

    train_idx, test_idx = split
    test_langs = np.array([langs[i] for i in test_idx], dtype=object)

    def groups(p: Any) -> dict[str, Any]:
        return auc_by_group(y[test_idx], p, test_langs, min_negatives=cfg.min_negatives, seed=cfg.seed)

    by_language = {name: groups(p) for name, p in scores.items()}
    english = np.array([langs[i] for i in train_idx], dtype=object) == "en"
    if cfg.train_language == "*" and 0 < english.sum() < len(train_idx):  # the gain of every language's labels
        english_only = fit_head(x[train_idx[english]], y[train_idx[english]], seed=cfg.seed, c=cfg.c)
        by_language["model_english_only"] = groups(english_only.positive_proba(x[test_idx]))
    if cfg.compare_comprehend:  # the managed alternative, on the same held-out rows (those in its languages)
        by_language["comprehend"] = _comprehend_by_language(texts, y, test_idx, test_langs, cfg)
    for name, found in by_language.items():
        for group, m in found.items():
            log.info("held-out %s, %s: %s", name, group, format_auc(m))
    return by_language


def train_multilingual_sentiment_head(cfg: SentimentTrainConfig) -> dict[str, Any]:
    """:func:`train_sentiment_head` with the multilingual encoder (``use-multilingual-v3``, whatever ``--encoder``
    says): the head of every language the English head does not serve, in ``model/sentiment_multilingual``."""
    from dataclasses import replace

    return train_sentiment_head(replace(cfg, encoder="use-multilingual-v3"))


def train_sentiment_head(cfg: SentimentTrainConfig) -> dict[str, Any]:
    """Embed, fit the head, evaluate against VADER, publish and gate.

    Returns:
        ``{"ds", "path", "auc", "promoted", "revision", "rows"}`` (the full metrics are in the version's
        ``metrics.json`` and the log).

    Raises:
        ValueError: the held-out split is too small or holds one class.
    """
    import numpy as np

    from shoplake.ml.sentiment import USE_MULTILINGUAL, engine_config
    from shoplake.ml.sentiment_head import default_encoder_dir, embed_texts, evaluate, fit_head, vader_scores

    np.random.seed(cfg.seed)
    texts, y, created, langs = load_source(cfg) if cfg.steam_source else load_curated(cfg)
    train_idx, test_idx = time_split(cfg, y, created, langs)
    encoder = USE_MULTILINGUAL if cfg.encoder != "minilm" else cfg.encoder_dir or default_encoder_dir()
    x = embed_texts(encoder, texts, engine_config(cfg))
    head = fit_head(x[train_idx], y[train_idx], seed=cfg.seed, c=cfg.c)
    p_test = head.positive_proba(x[test_idx])
    p_vader = vader_scores([texts[i] for i in test_idx])
    scores = {"model": p_test, "vader": p_vader}
    by_language = held_out_by_language(cfg, x, y, texts, langs, (train_idx, test_idx), scores)
    train_languages = sorted({langs[i] for i in train_idx})
    metrics = {
        "model": evaluate(y[test_idx], p_test),
        "vader": evaluate(y[test_idx], p_vader),
        "by_language": by_language,
        "language": cfg.language,
        "encoder": cfg.encoder,
        "train_language": cfg.train_language,
        # held-out languages the head never saw a label of: their AUC is cross-lingual transfer
        "transfer_languages": sorted({str(langs[i]) for i in test_idx} - set(train_languages)),
        "train_rows": len(train_idx),
        "train_rows_by_language": dict(sorted(Counter(langs[i] for i in train_idx).items())),
        "split": f"time-based: newest {cfg.test_fraction:.0%} by timestamp_created held out",
        "test_created_from": dt.datetime.fromtimestamp(int(created[test_idx].min()), dt.UTC).isoformat(),
    }
    published = _publish(cfg, encoder, head, metrics, y[test_idx], scores, train_languages)
    log.info("metrics %s", json.dumps(metrics))
    return {"ds": cfg.ds, "auc": metrics["model"]["auc"], "rows": len(texts), **published}


def _publish(
    cfg: SentimentTrainConfig, encoder: str, head: Any, metrics: dict[str, Any], y_test: Any, scores: dict,
    train_languages: list[str],
) -> dict[str, Any]:  # fmt: skip
    """Save the head beside its encoder with the ROC plot and publish it, gated on AUC against VADER."""
    from shoplake.ml.plots import plot_roc
    from shoplake.ml.publishing import Gate, Tracking, publish_model_version
    from shoplake.ml.sentiment_head import save_head_model

    model_name, model_id, curve = ENCODERS[cfg.encoder]
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "model"
        revision = save_head_model(
            out,
            encoder,
            head,
            model_id=model_id,
            extra={"trained_for_ds": cfg.ds, "max_length": cfg.max_length, "languages": [cfg.language],
                   "train_languages": train_languages},
        )  # fmt: skip
        metrics["revision"] = revision
        curves = {curve: (y_test, scores["model"]), "VADER": (y_test, scores["vader"])}
        plot_roc(out / "roc.png", curves, "Steam voted_up, held-out split")
        published = publish_model_version(
            lake_root=cfg.lake_root, name=model_name, ds=cfg.ds, metrics=metrics, config=cfg, local_dir=out,
            gate=Gate("auc", metrics["model"]["auc"], baselines={"VADER": metrics["vader"]["auc"]}),
            tracking=Tracking(
                cfg.mlflow_uri, params={**asdict(cfg), "revision": revision},
                metrics={k: v for k, v in metrics.items() if k in ("model", "vader", "train_rows")},
                tags={"language": cfg.language, "train_language": cfg.train_language, "encoder": cfg.encoder,
                      "revision": revision},
                skip_artifacts=("encoder", "head.safetensors"),
            ),
        )  # fmt: skip
    return {"revision": revision, **published}
