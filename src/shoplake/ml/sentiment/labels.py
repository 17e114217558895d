"""What a sentiment score means: the label sets, the five-class mapping, the output schema and the status codes."""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence

import numpy as np
import pyarrow as pa

#: a shoplake embedding-head model directory holds this file
HEAD_MANIFEST = "shoplake_model.json"
#: a model version that adopts a hub model (or a directory) holds this file: ``{"uri", "revision"}``
MODEL_REF = "model_ref.json"

#: ``sentiment_status`` of a row a model supporting its language scored, and of one no configured model supports
SCORED, UNSUPPORTED = "scored", "unsupported_language"
#: a model refused the text (a managed API's per-document error): null scores, the row quarantined with the reason
MODEL_ERROR = "model_error"
#: the route of every language without a route of its own
ANY_LANGUAGE = "*"

#: the five sentiment classes, worst to best; class *i* stands for *i + 1* stars
FIVE_CLASSES = ("very_negative", "negative", "neutral", "positive", "very_positive")


def normalise_label(name: str) -> str:
    """``"Very Negative"`` / ``"very-negative"`` / ``"VERY_NEGATIVE"`` → ``"very_negative"`` (labels such as
    ``"1 star"`` or ``"LABEL_0"`` are mapped by :func:`five_class_order` from their order)."""
    return re.sub(r"[^a-z]+", "_", str(name).lower()).strip("_")


def five_class_order(labels: Sequence[str]) -> list[int] | None:
    """Indexes of a five-label model's outputs in :data:`FIVE_CLASSES` order, or ``None`` if it is not one.

    Named labels (``Very Negative`` … ``Very Positive``) are matched by name; otherwise five labels are taken in their
    own order (``1 star`` … ``5 stars``, ``LABEL_0`` … ``LABEL_4``: the hub's five-class review models list them
    worst first).
    """
    if len(labels) != 5:
        return None
    names = [normalise_label(x) for x in labels]
    if sorted(names) == sorted(FIVE_CLASSES):
        return [names.index(c) for c in FIVE_CLASSES]
    return list(range(5))


def five_class_positive_prob(probs: np.ndarray) -> np.ndarray:
    """THE mapping of five class probabilities (:data:`FIVE_CLASSES` order) to one ``positive_prob``:
    ``P(positive) + P(very positive) + ½ · P(neutral)``.

    A neutral review counts half positive, so a confident 3-star review scores 0.5 (the binary models' undecided
    point) and the value stays a probability-like score in [0, 1]. The Steam pipeline's language routing uses it when
    a five-class model scores a language, and the product review results carry it beside the five probabilities.
    """
    probs = np.asarray(probs, dtype=np.float32)
    return probs[:, 3] + probs[:, 4] + 0.5 * probs[:, 2]


#: what a model reads of a review: its text, or (a head fitted with ``inputs`` = this) its text and its title
TEXT_AND_TITLE = ("text", "title")


def titled(texts: Sequence[str], titles: Sequence[str] | None) -> list[str]:
    """One title per text (``""`` for none; every title empty when ``titles`` is None)."""
    if titles is None:
        return [""] * len(texts)
    if len(titles) != len(texts):
        raise ValueError(f"{len(titles)} titles for {len(texts)} texts")
    return [t or "" for t in titles]


def review_features(
    embed: Callable[[Sequence[str]], np.ndarray],
    texts: Sequence[str],
    titles: Sequence[str] | None,
    inputs: Sequence[str],
) -> np.ndarray:
    """What an embedding head reads: the texts' embeddings, and for a head of :data:`TEXT_AND_TITLE` the titles'
    beside them — built here for its fit and for every answer it serves alike."""
    x = embed(texts)
    if tuple(inputs) == TEXT_AND_TITLE:
        x = np.hstack([x, embed(titled(texts, titles))])
    return x


class ClassScores:
    """What every loaded sentiment model answers, given its output ``labels()`` and ``class_proba(texts)``: the
    positive class, the five classes in :data:`FIVE_CLASSES` order, one ``positive_prob`` per text.

    ``titles`` (one per text, ``""`` for none) reach only a model whose ``inputs`` name them (a head fitted on the
    review's text and title, :data:`TEXT_AND_TITLE`); any other model reads the text alone. A titled model asked
    without titles reads every title as empty — what it learnt from the reviews that had none."""

    model_id: str = ""
    inputs: tuple[str, ...] = ("text",)

    def labels(self) -> list[str]:
        raise NotImplementedError

    def class_proba(self, texts: Sequence[str], titles: Sequence[str] | None = None) -> np.ndarray:
        raise NotImplementedError

    def positive_index(self) -> int:
        """The output whose label starts with ``pos`` (else the last one)."""
        labels = dict(enumerate(x.lower() for x in self.labels()))
        for idx, name in labels.items():
            if name.startswith("pos"):
                return idx
        return max(labels) if labels else 1

    def five_class_proba(self, texts: Sequence[str], titles: Sequence[str] | None = None) -> np.ndarray:
        """The five class probabilities in :data:`FIVE_CLASSES` order; ``ValueError`` for a model of other labels."""
        order = five_class_order(self.labels())
        if order is None:
            raise ValueError(f"{self.model_id} has labels {self.labels()}, not five sentiment classes")
        return self.class_proba(texts, titles)[:, order]

    def positive_proba(self, texts: Sequence[str]) -> np.ndarray:
        """Probability of the positive class for each text, in input order (a five-class model's five probabilities
        mapped by :func:`five_class_positive_prob`)."""
        if len(self.labels()) == 5:
            return five_class_positive_prob(self.five_class_proba(texts))
        return self.class_proba(texts)[:, self.positive_index()]


SENTIMENT_SCHEMA = pa.schema(
    [
        pa.field("recommendationid", pa.string()),
        pa.field("language_code", pa.string()),
        pa.field("sentiment_status", pa.string()),  # scored | unsupported_language | model_error (scores null)
        pa.field("sentiment_label", pa.string()),
        pa.field("sentiment_score", pa.float32()),  # probability of the predicted label
        pa.field("positive_prob", pa.float32()),
        pa.field("model_id", pa.string()),
        pa.field("model_revision", pa.string()),
        pa.field("model_language", pa.string()),  # the route that chose the model: a language code or "*"
    ]
)
