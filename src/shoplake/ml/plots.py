"""Evaluation plots written next to a model version (PNG, headless)."""

from __future__ import annotations

import textwrap
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

if TYPE_CHECKING:
    import pandas as pd


def plot_roc(path: Path, curves: dict[str, tuple[np.ndarray, np.ndarray]], title: str) -> None:
    """ROC curves of the model and its baselines, one PNG."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from sklearn.metrics import roc_auc_score, roc_curve

    fig, ax = plt.subplots(figsize=(5, 5), dpi=100)
    for name, (y, p) in curves.items():
        fpr, tpr, _ = roc_curve(y, p)
        ax.plot(fpr, tpr, label=f"{name} (AUC {roc_auc_score(y, p):.3f})")
    ax.plot([0, 1], [0, 1], "k:", lw=1)
    ax.set_xlabel("false positive rate")
    ax.set_ylabel("true positive rate")
    ax.set_title(title)
    ax.legend(loc="lower right")
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)


def plot_importance(path: Path, importance: pd.DataFrame, top: int = 20) -> None:
    """Horizontal bar chart of total gain, one PNG."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    df = importance.head(top).iloc[::-1]
    fig, ax = plt.subplots(figsize=(6, 0.3 * len(df) + 1.2), dpi=100)
    ax.barh(df["feature"], df["total_gain"])
    ax.set_xlabel("total gain")
    ax.set_title("XGBoost feature importance")
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)


def plot_model_comparison(path: Path, rows: list[dict[str, Any]], title: str) -> None:
    """Grouped bars of held-out weighted F1, churn F1, accuracy and AUC per model (``*`` = chosen), one PNG."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    metrics = ("f1_weighted", "f1_churn", "accuracy", "auc")
    x = np.arange(len(rows))
    fig, ax = plt.subplots(figsize=(8, 4), dpi=100)
    for i, m in enumerate(metrics):
        ax.bar(x + (i - 1.5) * 0.2, [r[m] for r in rows], width=0.2, label=m)
    ax.set_xticks(x, [r["model"] + (" *" if r["best"] else "") for r in rows], rotation=15)
    ax.set_ylim(0, 1.15)  # headroom for the legend above the bars
    ax.set_ylabel("held-out score")
    ax.set_title(title)
    ax.legend(loc="upper center", ncol=len(metrics), fontsize=8)
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)


def plot_ranking_comparison(path: Path, rows: list[dict[str, Any]], k: int, title: str) -> None:
    """Grouped bars of Precision@k, Recall@k, NDCG@k, hit rate and coverage per recommender (``*`` = best)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    metrics = (f"precision_at_{k}", f"recall_at_{k}", f"ndcg_at_{k}", "hit_rate", "coverage")
    x = np.arange(len(rows))
    width = 0.16
    fig, ax = plt.subplots(figsize=(8, 4), dpi=100)
    for i, m in enumerate(metrics):
        ax.bar(x + (i - 2) * width, [r[m] for r in rows], width=width, label=m)
    ax.set_xticks(x, [r["model"] + (" *" if r["best"] else "") for r in rows])
    top = max([r[m] for r in rows for m in metrics] + [0.01])
    ax.set_ylim(0, top * 1.3)  # headroom for the legend above the bars
    ax.set_ylabel("held-out score")
    ax.set_title(title)
    ax.legend(loc="upper center", ncol=len(metrics), fontsize=7)
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)


def plot_confusion(path: Path, matrix: list[list[int]], names: tuple[str, ...], title: str) -> None:
    """Confusion matrix as a heat map (rows = true class, share of the row), counts in the cells."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    m = np.asarray(matrix, dtype=float)
    shares = m / np.maximum(m.sum(axis=1, keepdims=True), 1)
    fig, ax = plt.subplots(figsize=(5, 4.5), dpi=100)
    ax.imshow(shares, cmap="Blues", vmin=0, vmax=1)
    for i in range(len(names)):
        for j in range(len(names)):
            colour = "white" if shares[i, j] > 0.5 else "black"
            ax.text(j, i, f"{int(m[i, j])}", ha="center", va="center", color=colour, fontsize=9)
    ax.set_xticks(range(len(names)), names, rotation=20)
    ax.set_yticks(range(len(names)), names)
    ax.set_xlabel("predicted")
    ax.set_ylabel("true")
    ax.set_title(textwrap.fill(title, 52), fontsize=10)  # a long title is wrapped, never cut at the figure's edge
    fig.tight_layout()
    fig.savefig(path, bbox_inches="tight")
    plt.close(fig)
