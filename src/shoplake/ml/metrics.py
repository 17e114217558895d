"""Binary-classification metrics shared by the models (sklearn underneath, imported when called)."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import numpy as np


def best_f1_threshold(y: np.ndarray, p: np.ndarray) -> float:
    """Threshold maximising F1 on ``(y, p)`` (chosen on validation rows, applied to the held-out ones)."""
    import numpy as np
    from sklearn.metrics import precision_recall_curve

    if len(np.unique(y)) < 2:
        return 0.5
    precision, recall, thresholds = precision_recall_curve(y, p)
    f1 = 2 * precision * recall / np.maximum(precision + recall, 1e-12)
    return float(thresholds[int(np.argmax(f1[:-1]))])


def binary_metrics(y: np.ndarray, p: np.ndarray, threshold: float = 0.5) -> dict[str, float]:
    """AUC, PR-AUC (average precision), F1 / precision / recall / accuracy at ``threshold``, base rate."""
    import numpy as np
    from sklearn.metrics import (
        accuracy_score,
        average_precision_score,
        f1_score,
        precision_score,
        recall_score,
        roc_auc_score,
    )

    y = np.asarray(y).astype(int)
    pred = (np.asarray(p) >= threshold).astype(int)
    return {
        "auc": float(roc_auc_score(y, p)),
        "pr_auc": float(average_precision_score(y, p)),
        "f1": float(f1_score(y, pred, zero_division=0)),
        "precision": float(precision_score(y, pred, zero_division=0)),
        "recall": float(recall_score(y, pred, zero_division=0)),
        "accuracy": float(accuracy_score(y, pred)),
        "threshold": float(threshold),
        "base_rate": float(y.mean()),
        "n": len(y),
    }


def auc_with_interval(
    y: np.ndarray, p: np.ndarray, *, min_negatives: int = 30, n_boot: int = 1000, seed: int = 0
) -> dict[str, object]:
    """AUC with its bootstrap 95 % interval and the class counts it rests on; no number below the floor.

    A day of reviews that are 98 % positive has a handful of negatives: its AUC is a number about those few
    reviews. Below ``min_negatives`` negatives (or positives) the AUC is ``None`` and ``note`` says why.

    Returns:
        ``{"n", "positives", "negatives", "auc", "auc_ci95", "note"}``; rows whose score is missing (NaN) are
        left out and ``n`` counts the rest.
    """
    import numpy as np
    from scipy.stats import rankdata

    y = np.asarray(y).astype(int)
    p = np.asarray(p, dtype=float)
    keep = ~np.isnan(p)
    y, p = y[keep], p[keep]
    pos, neg = int(y.sum()), int(len(y) - y.sum())
    out: dict[str, object] = {"n": len(y), "positives": pos, "negatives": neg, "auc": None, "auc_ci95": None}
    minority = min(pos, neg)
    if minority < min_negatives:
        which = "negatives" if neg <= pos else "positives"
        out["note"] = f"too few {which} ({minority} < {min_negatives}): no AUC reported"
        return out

    def auc(yy: np.ndarray, pp: np.ndarray) -> float:
        ranks = rankdata(pp)
        n_pos = yy.sum()
        return float((ranks[yy == 1].sum() - n_pos * (n_pos + 1) / 2) / (n_pos * (len(yy) - n_pos)))

    rng = np.random.default_rng(seed)
    boot = []
    for _ in range(n_boot):
        idx = rng.integers(0, len(y), len(y))
        if 0 < y[idx].sum() < len(idx):
            boot.append(auc(y[idx], p[idx]))
    out["auc"] = auc(y, p)
    out["auc_ci95"] = ci95(boot)
    out["note"] = ""
    return out


def auc_by_group(
    y: np.ndarray, p: np.ndarray, groups: np.ndarray, *, min_negatives: int = 30, seed: int = 0
) -> dict[str, dict[str, object]]:
    """:func:`auc_with_interval` per group (e.g. language), plus ``"all"`` over every row."""
    import numpy as np

    groups = np.asarray(groups, dtype=object)
    out = {"all": auc_with_interval(y, p, min_negatives=min_negatives, seed=seed)}
    for g in sorted({str(x) for x in groups}):
        mask = groups.astype(str) == g
        out[g] = auc_with_interval(np.asarray(y)[mask], np.asarray(p)[mask], min_negatives=min_negatives, seed=seed)
    return out


def paired_lead(
    y: np.ndarray,
    model: np.ndarray,
    baseline: np.ndarray,
    score: Callable[[np.ndarray, np.ndarray], float | None],
    *,
    higher_is_better: bool = True,
    n_boot: int = 1000,
    seed: int = 0,
    groups: np.ndarray | None = None,
) -> dict[str, object]:
    """The model's lead over a baseline on the same held-out rows, with a **paired** bootstrap 95 % interval:
    each resample of the rows scores both on the same rows, so what the two share (an easy or a hard draw of rows)
    cancels, and the interval is that of the *difference*. A lead whose interval holds zero is noise.

    Args:
        y: the held-out truth; ``model`` / ``baseline``: their predictions or scores of the same rows.
        score: the metric of ``(truth, prediction)``; None (or NaN) where a resample leaves it undefined (one class
            for an AUC): that resample is skipped for both.
        higher_is_better: False for an error (the lead is then baseline minus model: positive = the model better).
        groups: resample these whole (a cluster bootstrap: rows of one game move together, as they are not
            independent draws); None: rows.

    Returns:
        ``{"lead", "ci95", "resamples"}`` (``ci95`` None when no resample was defined).
    """
    import numpy as np

    y, a, b = np.asarray(y), np.asarray(model), np.asarray(baseline)
    sign = 1.0 if higher_is_better else -1.0

    def diff(rows: np.ndarray | slice) -> float | None:
        sa, sb = score(y[rows], a[rows]), score(y[rows], b[rows])
        if sa is None or sb is None or np.isnan(sa) or np.isnan(sb):
            return None
        return sign * (float(sa) - float(sb))

    rng = np.random.default_rng(seed)
    if groups is None:
        draws = (rng.integers(0, len(y), len(y)) for _ in range(n_boot))
    else:
        _, inverse = np.unique(np.asarray(groups), return_inverse=True)
        members = [np.flatnonzero(inverse == g) for g in range(inverse.max() + 1)]
        draws = (np.concatenate([members[g] for g in rng.integers(0, len(members), len(members))])
                 for _ in range(n_boot))  # fmt: skip
    boot = [d for d in (diff(rows) for rows in draws) if d is not None]
    return {"lead": diff(slice(None)), "ci95": ci95(boot), "resamples": len(boot)}


def ci95(values: Sequence[float] | np.ndarray) -> list[float] | None:
    """The 2.5th and 97.5th percentiles of bootstrap values (NaN ones — undefined resamples — left out); None
    when none is left."""
    import numpy as np

    values = np.asarray(values, dtype=float)
    values = values[~np.isnan(values)]
    return [float(np.percentile(values, 2.5)), float(np.percentile(values, 97.5))] if len(values) else None


def auc_or_none(y: np.ndarray, p: np.ndarray) -> float | None:
    """AUC of scores ``p`` against 0/1 labels ``y``; None when one class is missing (a resample of few rows)."""
    from sklearn.metrics import roc_auc_score

    return float(roc_auc_score(y, p)) if 0 < y.sum() < len(y) else None


def too_few_of_a_class(counts: dict[str, int], min_rows: int, noun: str = "rows") -> str:
    """Why held-out rows with these class ``counts`` cannot rank a model above a baseline (``""`` when they can):
    the rarest class (ties: the first name in order) has fewer than ``min_rows`` — any figure is then about those
    few: ``"4 retained users among the 119 held out (< 30)"``."""
    few, which = min((count, name) for name, count in counts.items())
    if few < min_rows:
        return f"{few} {which} {noun} among the {sum(counts.values())} held out (< {min_rows})"
    return ""


def auc_of_bins(pos: np.ndarray, neg: np.ndarray) -> np.ndarray:
    """AUC from counts of positives and negatives per score bin (bins in ascending score; the last axis): a
    positive above a negative counts 1, in the same bin one half (a tie). Any leading axes are resamples."""
    import numpy as np

    pos, neg = np.asarray(pos, dtype=float), np.asarray(neg, dtype=float)
    below = np.cumsum(neg, axis=-1) - neg
    wins = (pos * (below + 0.5 * neg)).sum(axis=-1)
    pairs = pos.sum(axis=-1) * neg.sum(axis=-1)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(pairs > 0, wins / np.maximum(pairs, 1), np.nan)


def binned_auc_lead(pos: np.ndarray, neg: np.ndarray, *, baseline: float = 0.5, n_boot: int = 1000, seed: int = 0):
    """A model's AUC lead over a constant score (AUC ``baseline``, 0.5: the majority class ranks no row above
    another) with its bootstrap 95 % interval, from per-bin counts of the held-out rows' scores — a summary whose
    size is the number of bins, however many rows (a Spark job collects it, never the rows). Resampling the rows
    is resampling the (bin, class) cells by a multinomial of the same total; rows in one cell are exchangeable.

    Returns ``{"lead", "ci95", "resamples"}`` like :func:`paired_lead`."""
    import numpy as np

    pos, neg = np.asarray(pos, dtype=float), np.asarray(neg, dtype=float)
    cells = np.concatenate([pos, neg])
    n = int(cells.sum())
    draws = np.random.default_rng(seed).multinomial(n, cells / max(n, 1), size=n_boot)
    aucs = auc_of_bins(draws[:, : len(pos)], draws[:, len(pos) :])
    boot = aucs[~np.isnan(aucs)] - baseline
    point = float(auc_of_bins(pos, neg)) - baseline
    return {"lead": None if np.isnan(point) else point, "ci95": ci95(boot), "resamples": len(boot)}


def paired_binned_auc_lead(cells: np.ndarray, *, bins: int, n_boot: int = 1000, seed: int = 0) -> dict[str, Any]:
    """Score A's AUC lead over score B on the same rows (a model over the champion) with its paired bootstrap 95 %
    interval, from counts of rows per (A's bin, B's bin, class): rows ``(a_bin, b_bin, y, count)``, at most
    ``bins``² × 2 of them however many rows there are (a Spark job collects them, never the rows). A resample of
    the rows is a multinomial resample of the cells, and both AUCs are taken from the same resample.

    Returns ``{"lead", "ci95", "resamples"}`` like :func:`paired_lead`."""
    import numpy as np

    cells = np.asarray(cells, dtype=float).reshape(-1, 4)
    a, b, y, count = cells[:, 0].astype(int), cells[:, 1].astype(int), cells[:, 2], cells[:, 3]
    pos = y == 1

    def per_bin(which: np.ndarray, mask: np.ndarray) -> np.ndarray:  # cells of one class → their bins (one-hot)
        onehot = np.zeros((int(mask.sum()), bins))
        onehot[np.arange(onehot.shape[0]), which[mask]] = 1
        return onehot

    maps = [(per_bin(x, pos), per_bin(x, ~pos)) for x in (a, b)]

    def lead_of(draws: np.ndarray) -> np.ndarray:
        (ap, an), (bp, bn) = maps
        d_pos, d_neg = draws[..., pos], draws[..., ~pos]
        return auc_of_bins(d_pos @ ap, d_neg @ an) - auc_of_bins(d_pos @ bp, d_neg @ bn)

    n = int(count.sum())
    rng = np.random.default_rng(seed)
    boot = np.concatenate(
        [lead_of(rng.multinomial(n, count / max(n, 1), size=min(200, n_boot - i))) for i in range(0, n_boot, 200)]
    )  # fmt: skip  (chunks: memory bounded by the cells)
    boot = boot[~np.isnan(boot)]
    point = float(lead_of(count))
    return {"lead": None if np.isnan(point) else point, "ci95": ci95(boot), "resamples": len(boot)}


def format_auc(m: dict[str, object]) -> str:
    """One line for logs and the demo: ``AUC 0.812 [0.78, 0.84] (n 812, 97 negatives)`` or the floor's note."""
    counts = f"n {m['n']}, {m['negatives']} negatives"
    if m["auc"] is None:
        return f"{m['note']} ({counts})"
    lo, hi = m["auc_ci95"]  # type: ignore[misc]
    return f"AUC {m['auc']:.3f} [95% CI {lo:.3f}, {hi:.3f}] ({counts})"


def confusion_matrix(pairs: list[tuple[float, float, int]], classes: int) -> list[list[int]]:
    """``(true, predicted, count)`` triples → a ``classes`` × ``classes`` matrix, rows = true class."""
    m = [[0] * classes for _ in range(classes)]
    for true, pred, count in pairs:
        m[int(true)][int(pred)] += int(count)
    return m


def multiclass_report(matrix: list[list[int]], names: tuple[str, ...]) -> dict:
    """Accuracy, per-class precision / recall / F1 / support and macro-F1 of a confusion matrix.

    Macro-F1 averages the classes that occur in the truth or the predictions (as scikit-learn does); a class that
    occurs in neither is listed with support 0 and ``None`` scores, and left out of the average.
    """
    k = len(matrix)
    n = sum(map(sum, matrix))
    per_class, f1s = {}, []
    for c in range(k):
        tp = matrix[c][c]
        support = sum(matrix[c])
        predicted = sum(matrix[r][c] for r in range(k))
        if support == 0 and predicted == 0:
            per_class[names[c]] = {"precision": None, "recall": None, "f1": None, "support": 0}
            continue
        precision = tp / predicted if predicted else 0.0
        recall = tp / support if support else 0.0
        f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
        per_class[names[c]] = {"precision": precision, "recall": recall, "f1": f1, "support": support}
        f1s.append(f1)
    return {
        "macro_f1": sum(f1s) / len(f1s) if f1s else 0.0,
        "accuracy": sum(matrix[c][c] for c in range(k)) / n if n else 0.0,
        "per_class": per_class,
        "classes_in_macro": len(f1s),
        "n": n,
        "confusion": matrix,
    }
