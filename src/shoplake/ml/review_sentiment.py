"""Five-class review sentiment judged against star ratings: the report, the baselines, the figures per group.

Classes are :data:`shoplake.ml.sentiment.FIVE_CLASSES` (very negative … very positive); class *i* stands for
*i + 1* stars, so a prediction is compared with the review's own rating.

* :func:`five_class_report` — accuracy, macro-F1 and per-class F1 (the five classes), quadratic weighted kappa
  (disagreements weigh by the square of their distance in stars: 1 vs 5 costs 16 times 1 vs 2), Spearman between
  predicted class and stars, and the three-class collapse (1–2 negative / 3 neutral / 4–5 positive).
* Baselines on the same rows: :func:`majority_stars` (the training window's most common rating — on ratings that are
  mostly five stars its accuracy is high and its macro-F1 low, which is why accuracy alone flatters) and
  :func:`vader_stars` (the VADER lexicon's compound score cut into five bins at −0.6, −0.2, 0.2, 0.6).
* :func:`report_by_group` — the report per product (or any group) with at least ``min_rows`` held-out rows.
* :func:`choose_class_bias` — the decision rule of a class-balanced head, chosen on out-of-fold rows for macro-F1,
  every rating with enough training reviews kept.
* :func:`per_class_intervals` — each class's precision / recall / F1 with bootstrap intervals, thin classes called
  anecdotes; :func:`macro_f1_lead` — the model's lead over a baseline by a paired bootstrap (the gate's).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from shoplake.ml.metrics import ci95, multiclass_report
from shoplake.ml.sentiment import FIVE_CLASSES

THREE_CLASSES = ("negative", "neutral", "positive")
#: VADER compound score → stars: (-1, -0.6] 1, (-0.6, -0.2] 2, (-0.2, 0.2) 3, [0.2, 0.6) 4, [0.6, 1] 5
VADER_CUTS = (-0.6, -0.2, 0.2, 0.6)


def _matrix(truth: np.ndarray, pred: np.ndarray, k: int) -> list[list[int]]:
    m = np.zeros((k, k), dtype=int)
    np.add.at(m, (truth, pred), 1)
    return m.tolist()


def three_class(stars: np.ndarray) -> np.ndarray:
    """1–2 stars → 0 (negative), 3 → 1 (neutral), 4–5 → 2 (positive)."""
    return np.digitize(np.asarray(stars), [3, 4])


def five_class_report(stars: Sequence[int], predicted: Sequence[int]) -> dict[str, Any]:
    """The report of predicted classes (as stars 1–5) against the ratings (module docstring)."""
    from scipy.stats import spearmanr
    from sklearn.metrics import cohen_kappa_score

    y = np.asarray(stars, dtype=int)
    p = np.asarray(predicted, dtype=int)
    if len(y) == 0:
        raise ValueError("no rows to evaluate")
    if y.min() < 1 or y.max() > 5 or p.min() < 1 or p.max() > 5:
        raise ValueError("stars and predicted classes must be whole numbers 1-5")
    five = multiclass_report(_matrix(y - 1, p - 1, 5), FIVE_CLASSES)
    three = multiclass_report(_matrix(three_class(y), three_class(p), 3), THREE_CLASSES)
    constant = np.ptp(y) == 0 or np.ptp(p) == 0
    if np.array_equal(y, p) and np.ptp(y) == 0:
        qwk = None  # one class on both sides: agreement beyond chance is undefined
    else:
        qwk = float(cohen_kappa_score(y, p, weights="quadratic", labels=[1, 2, 3, 4, 5]))
    return {
        "accuracy": five["accuracy"],
        "macro_f1": five["macro_f1"],
        "per_class_f1": {c: v["f1"] for c, v in five["per_class"].items()},
        "per_class": five["per_class"],
        "qwk": qwk,
        "spearman": None if constant else float(spearmanr(y, p).statistic),
        "three_class": {
            "accuracy": three["accuracy"],
            "macro_f1": three["macro_f1"],
            "per_class_f1": {c: v["f1"] for c, v in three["per_class"].items()},
            "confusion": three["confusion"],
        },
        "mean_abs_star_error": float(np.mean(np.abs(y - p))),
        "n": len(y),
        "confusion": five["confusion"],
    }


def majority_stars(train_stars: Sequence[int], n: int) -> np.ndarray:
    """``n`` predictions of the most common training rating (ties: the higher rating)."""
    values, counts = np.unique(np.asarray(train_stars, dtype=int), return_counts=True)
    best = values[counts == counts.max()].max()
    return np.full(n, best, dtype=int)


def vader_stars(texts: Sequence[str]) -> np.ndarray:
    """The VADER lexicon's compound score of each text cut into stars at :data:`VADER_CUTS`."""
    from vaderSentiment.vaderSentiment import SentimentIntensityAnalyzer

    sia = SentimentIntensityAnalyzer()
    compound = np.array([sia.polarity_scores(t or "")["compound"] for t in texts], dtype=float)
    return stars_from_compound(compound)


def stars_from_compound(compound: np.ndarray) -> np.ndarray:
    """Compound scores in [-1, 1] → stars 1–5 (bins of :data:`VADER_CUTS`; a cut belongs to the bin above it,
    except −0.6 and −0.2, which close the bins below)."""
    c = np.asarray(compound, dtype=float)
    return np.select([c <= -0.6, c <= -0.2, c < 0.2, c < 0.6], [1, 2, 3, 4], default=5).astype(int)


def _resampled_matrices(stars: Sequence[int], predicted: Sequence[int], idx: np.ndarray) -> np.ndarray:
    """One 5 × 5 confusion matrix per row of ``idx`` (row indices of one resample each): ``(n_boot, 5, 5)``."""
    y, p = np.asarray(stars, dtype=int) - 1, np.asarray(predicted, dtype=int) - 1
    n_boot = len(idx)
    cells = (y[idx] * 5 + p[idx]) + 25 * np.arange(n_boot)[:, None]
    return np.bincount(cells.ravel(), minlength=25 * n_boot).reshape(n_boot, 5, 5)


def _macro_f1s(m: np.ndarray) -> np.ndarray:
    """Macro-F1 of each confusion matrix of ``m`` (averaging the classes occurring in its truth or predictions)."""
    tp = np.diagonal(m, axis1=1, axis2=2)
    truth, pred = m.sum(axis=2), m.sum(axis=1)
    occurs = (truth + pred) > 0
    f1 = np.where(occurs, 2 * tp / np.maximum(truth + pred, 1), 0.0)
    return f1.sum(axis=1) / occurs.sum(axis=1)


def _resamples(n: int, n_boot: int, seed: int) -> np.ndarray:
    return np.random.default_rng(seed).integers(0, n, (n_boot, n))


def macro_f1_interval(stars: Sequence[int], predicted: Sequence[int], *, n_boot: int = 1000, seed: int = 0) -> list:
    """Bootstrap 95 % interval of the five-class macro-F1 (rows resampled ``n_boot`` times; each resample's macro-F1
    averages the classes occurring in its truth or predictions, as :func:`five_class_report` does)."""
    return ci95(_macro_f1s(_resampled_matrices(stars, predicted, _resamples(len(stars), n_boot, seed))))


def macro_f1_lead(
    stars: Sequence[int], predicted: Sequence[int], baseline: Sequence[int], *, n_boot: int = 1000, seed: int = 0
) -> dict[str, Any]:
    """The model's macro-F1 lead over a baseline's predictions of the same reviews, with its **paired** bootstrap
    95 % interval (both scored on each resample of the rows): ``{"lead", "ci95", "resamples"}`` as
    :func:`shoplake.ml.metrics.paired_lead` gives, vectorised."""
    idx = _resamples(len(stars), n_boot, seed)
    diff = _macro_f1s(_resampled_matrices(stars, predicted, idx)) - _macro_f1s(
        _resampled_matrices(stars, baseline, idx)
    )
    point = five_class_report(stars, predicted)["macro_f1"] - five_class_report(stars, baseline)["macro_f1"]
    return {"lead": float(point), "ci95": ci95(diff), "resamples": n_boot}


def per_class_intervals(
    stars: Sequence[int], predicted: Sequence[int], *, min_rows: int, n_boot: int = 1000, seed: int = 0
) -> dict[str, dict[str, Any]]:
    """Each class's precision, recall and F1 on the held-out reviews with bootstrap 95 % intervals, its support
    (held-out reviews of that rating), how often it was predicted, and a ``note`` when its support is below
    ``min_rows``: its figures are then an anecdote about those few reviews, shown, not hidden."""
    y, p = np.asarray(stars, dtype=int), np.asarray(predicted, dtype=int)
    m = _resampled_matrices(y, p, _resamples(len(y), n_boot, seed))
    tp = np.diagonal(m, axis1=1, axis2=2).astype(float)
    truth, pred = m.sum(axis=2).astype(float), m.sum(axis=1).astype(float)
    with np.errstate(invalid="ignore", divide="ignore"):
        boot = {"precision": tp / pred, "recall": tp / truth, "f1": np.where(truth + pred > 0, 2 * tp / (truth + pred),
                                                                              np.nan)}  # fmt: skip
    point = five_class_report(y, p)["per_class"]
    out = {}
    for c, name in enumerate(FIVE_CLASSES):
        support = int((y == c + 1).sum())
        out[name] = {**point[name], "predicted": int((p == c + 1).sum()),
                     "ci95": {k: ci95(v[:, c]) for k, v in boot.items()},
                     "note": (f"an anecdote: {support} held-out {c + 1}-star reviews (< {min_rows})"
                              if support < min_rows else "")}  # fmt: skip
    return out


def report_by_group(
    groups: Sequence[str],
    stars: Sequence[int],
    predicted: Sequence[int],
    min_rows: int,
    *,
    interval: bool = False,
    min_negatives: int = 30,
) -> dict:
    """:func:`five_class_report`'s headline figures per group with ``min_rows`` or more rows; the others counted.

    With ``interval``, each group also gets ``macro_f1_ci95`` (:func:`macro_f1_interval`), ``negatives`` (its
    1–2 star reviews: the rows a sentiment model is most often wrong about, and the fewest) and a ``note`` when
    they are fewer than ``min_negatives``: the negative classes' F1 inside the macro-F1 are then anecdotes."""
    g = np.asarray(groups, dtype=object)
    y, p = np.asarray(stars, dtype=int), np.asarray(predicted, dtype=int)
    out: dict[str, Any] = {}
    small = 0
    for name in sorted(set(g.tolist())):
        idx = g == name
        if idx.sum() < min_rows:
            small += 1
            continue
        r = five_class_report(y[idx], p[idx])
        out[str(name)] = {k: r[k] for k in ("n", "accuracy", "macro_f1", "qwk", "spearman", "mean_abs_star_error")}
        out[str(name)]["mean_stars"] = float(y[idx].mean())
        if interval:
            negatives = int((y[idx] <= 2).sum())
            out[str(name)]["macro_f1_ci95"] = macro_f1_interval(y[idx], p[idx])
            out[str(name)]["negatives"] = negatives
            out[str(name)]["note"] = (
                f"too few negatives ({negatives} 1-2 star reviews < {min_negatives}): their classes' F1 are anecdotes"
                if negatives < min_negatives
                else ""
            )
    return {"min_rows": min_rows, "groups": out, "groups_below_min_rows": small}


#: the log-biases tried for each class by the decision rule's search (0 = the class-balanced head as fitted)
BIAS_GRID = tuple(round(-4.0 + 0.1 * i, 1) for i in range(61))
#: coordinate sweeps of the search: every class's bias is revisited this often
BIAS_SWEEPS = 4
#: how far below the class-balanced head's out-of-fold QWK a decision rule may go for macro-F1
RULE_TOLERANCE = 0.01
#: fewest training reviews of a rating for the rule to have to predict it (its out-of-fold recall kept above zero)
RULE_MIN_CLASS_ROWS = 10


def _rule_scores(stars: np.ndarray, log_probs: np.ndarray, bias: np.ndarray) -> dict[str, Any]:
    report = five_class_report(stars, np.argmax(log_probs + bias[None, :], axis=1) + 1)
    recall = [report["per_class"][c]["recall"] for c in FIVE_CLASSES]
    return {"accuracy": report["accuracy"], "macro_f1": report["macro_f1"], "qwk": report["qwk"], "recall": recall}


def choose_class_bias(stars: Sequence[int], probs: np.ndarray, train_stars: Sequence[int]) -> dict[str, Any]:
    """The decision rule of a class-balanced head: a log-bias per class added to its logits, chosen on
    out-of-fold probabilities of the training rows (never the held-out ones) for **macro-F1** — the gate's metric —
    under two conditions: every rating with :data:`RULE_MIN_CLASS_ROWS` or more training reviews keeps an
    out-of-fold recall above zero (a five-class model that never answers four stars is a three-class model), and
    QWK stays within :data:`RULE_TOLERANCE` of the balanced head's on the same rows. Accuracy is reported, never
    sought: on ratings that are mostly five stars it is bought by dropping classes.

    Coordinate search: the most common training rating keeps bias 0, each other class's bias runs over
    :data:`BIAS_GRID`, the search sweeps the classes :data:`BIAS_SWEEPS` times and moves only on a strict gain of
    ``(classes kept, QWK kept, macro-F1)`` in that order (the same rows give the same rule).

    Returns ``{"class_bias", "reason", "rows", "must_predict", "balanced", "chosen"}`` — the last two:
    ``{accuracy, macro_f1, qwk, recall}`` on the out-of-fold rows (``recall`` per class, very_negative first)."""
    y = np.asarray(stars, dtype=int)
    log_probs = np.log(np.maximum(np.asarray(probs, dtype=float), 1e-12))
    train = np.asarray(train_stars, dtype=int)
    top = int(majority_stars(train, 1)[0]) - 1
    must = [c for c in range(5) if (train == c + 1).sum() >= RULE_MIN_CLASS_ROWS]
    balanced = _rule_scores(y, log_probs, np.zeros(5))

    def key(r: dict[str, Any]) -> tuple[int, bool, float]:
        kept = sum(1 for c in must if r["recall"][c] and r["recall"][c] > 0)
        qwk_ok = r["qwk"] is None or balanced["qwk"] is None or r["qwk"] >= balanced["qwk"] - RULE_TOLERANCE
        return (kept, qwk_ok, r["macro_f1"])

    bias, best = np.zeros(5), balanced
    for _ in range(BIAS_SWEEPS):
        for c in (c for c in range(5) if c != top):
            for value in BIAS_GRID:
                trial = bias.copy()
                trial[c] = value
                scores = _rule_scores(y, log_probs, trial)
                if key(scores) > key(best):
                    bias, best = trial, scores
    kept, qwk_ok, _ = key(best)
    missing = [FIVE_CLASSES[c] for c in must if not (best["recall"][c] and best["recall"][c] > 0)]
    reason = (f"the per-class bias of the highest out-of-fold macro-F1 that keeps every rating with >= "
              f"{RULE_MIN_CLASS_ROWS} training reviews predicted ({kept} of {len(must)}"
              f"{'; never predicted: ' + ', '.join(missing) if missing else ''}) and QWK within {RULE_TOLERANCE} of "
              f"the class-balanced head's{'' if qwk_ok else ' (not reached)'}")  # fmt: skip
    return {"class_bias": [round(float(b), 2) for b in bias], "reason": reason, "rows": len(y),
            "must_predict": [FIVE_CLASSES[c] for c in must], "balanced": balanced, "chosen": best}  # fmt: skip


def bootstrap_intervals(stars: Sequence[int], predicted: Sequence[int], *, n_boot: int = 500, seed: int = 0) -> dict:
    """Bootstrap 95 % intervals of accuracy, macro-F1 and QWK (the same ``n_boot`` resamples of the rows for all
    three, so a model and a baseline scored with the same seed are compared on the same resamples)."""
    from sklearn.metrics import cohen_kappa_score

    y, p = np.asarray(stars, dtype=int), np.asarray(predicted, dtype=int)
    idx = np.random.default_rng(seed).integers(0, len(y), (n_boot, len(y)))
    accuracy = (y[idx] == p[idx]).mean(axis=1)
    qwk = []
    for rows in idx:
        if np.ptp(y[rows]) == 0 and np.ptp(p[rows]) == 0:
            continue  # agreement beyond chance is undefined on one class
        qwk.append(cohen_kappa_score(y[rows], p[rows], weights="quadratic", labels=[1, 2, 3, 4, 5]))

    return {"accuracy": ci95(accuracy), "macro_f1": macro_f1_interval(y, p, n_boot=n_boot, seed=seed), "qwk": ci95(qwk)}
