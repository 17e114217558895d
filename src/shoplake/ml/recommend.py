"""Recommenders over implicit feedback in one process — the reference the Spark ones are checked against.

The pipeline runs :mod:`shoplake.ml.recommend_spark` (nothing collected to the driver); this module keeps the same
models in plain Python / scipy — item-item cosine CF (sparse), rule and popularity picks, ranking metrics — for the
tests to compare with on random data and for ``bench/item_item.py``, plus the event weights' parsing the pipeline
uses. Everything here works on integer ids (``user_idx``, ``item_idx``). Heavy imports (numpy, scipy) happen inside
functions.

**Item-item cost.** ``X`` is the users × items matrix of implicit weights (CSR, ``nnz`` non-zeros). Its columns are
L2-normalised and the cosine similarities of a block of items are ``X[:, block]ᵀ X``, a sparse |block| × items
product whose non-zeros are the items co-occurring with the block; only each row's top ``neighbours`` survive the
block. The work is Σ over users of deg(u)² (co-occurring pairs), the memory O(nnz + block co-occurrences + items ×
neighbours) — never a dense items × items matrix (``bench/bench_item_item.py`` measures both).
"""

from __future__ import annotations

import logging
import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from shoplake.progress import Progress

log = logging.getLogger(__name__)

#: the names the evaluation and ``metrics.json`` use, in the comparison's order
MODELS = ("item_item_cf", "fp_growth", "als", "popularity")
#: implicit weight of each event type unless a run says otherwise
DEFAULT_WEIGHTS = "view=1,cart=3,remove_from_cart=0.5,purchase=5"
EVENT_TYPES = ("view", "cart", "remove_from_cart", "purchase")


def parse_weights(text: str) -> dict[str, float]:
    """``"view=1,cart=3,…"`` → ``{"view": 1.0, …}``; every event type needs a weight ≥ 0 and one must be > 0.

    Raises:
        ValueError: an unknown event type, a missing one, a bad number or all zeros — the message lists the form.
    """
    form = f"expected type=weight for each of {', '.join(EVENT_TYPES)}, e.g. {DEFAULT_WEIGHTS!r}"
    weights: dict[str, float] = {}
    for part in (p.strip() for p in str(text).split(",") if p.strip()):
        name, sep, value = part.partition("=")
        name = name.strip()
        if not sep or name not in EVENT_TYPES:
            raise ValueError(f"event weights: {part!r} is not a known type=weight ({form})")
        try:
            weights[name] = float(value)
        except ValueError:
            raise ValueError(f"event weights: {value.strip()!r} of {name} is not a number ({form})") from None
        if not math.isfinite(weights[name]) or weights[name] < 0:
            raise ValueError(f"event weights: {name}={value.strip()} must be a finite number >= 0")
    missing = [t for t in EVENT_TYPES if t not in weights]
    if missing:
        raise ValueError(f"event weights: no weight for {', '.join(missing)} ({form})")
    if not any(weights.values()):
        raise ValueError("event weights: at least one event type needs a weight > 0")
    return weights


# ---- item-item CF ------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Neighbours:
    """Top neighbours of every item: ``items[i]``'s ``rank``-th neighbour is ``neighbour`` with cosine ``score``."""

    item: Any  # numpy int arrays, one row per (item, rank)
    rank: Any
    neighbour: Any
    score: Any
    stats: dict[str, float]


def interaction_matrix(users: Sequence[int], items: Sequence[int], weights: Sequence[float], shape: tuple[int, int]):
    """The users × items CSR matrix of summed implicit weights (duplicates add up)."""
    import numpy as np
    from scipy import sparse

    m = sparse.coo_matrix(
        (np.asarray(weights, dtype=np.float64), (np.asarray(users), np.asarray(items))), shape=shape
    ).tocsr()
    m.sum_duplicates()
    m.eliminate_zeros()
    return m


def item_item_neighbours(x, neighbours: int, block_items: int = 2048) -> Neighbours:
    """Cosine top-``neighbours`` of every item of the users × items matrix ``x`` (CSR), block by block.

    An item never neighbours itself; items sharing no user have no similarity (not listed). Ties keep the lower
    item index first, so a rerun on the same input gives the same table.
    """
    import time

    import numpy as np
    from scipy import sparse

    started = time.monotonic()
    n_users, n_items = x.shape
    norms = np.sqrt(np.asarray(x.multiply(x).sum(axis=0)).ravel())
    inv = np.divide(1.0, norms, out=np.zeros_like(norms), where=norms > 0)
    xn = (x @ sparse.diags(inv)).tocsc()
    xt = xn.T.tocsr()
    out_item, out_rank, out_nb, out_score = [], [], [], []
    peak_block_nnz = 0
    progress = Progress(n_items, "item-item similarity rows", log)
    for lo in range(0, n_items, block_items):
        hi = min(lo + block_items, n_items)
        sims = (xt[lo:hi] @ xn).tocsr()  # |block| × items, sparse: only co-occurring items
        peak_block_nnz = max(peak_block_nnz, sims.nnz)
        for r in range(hi - lo):
            start, end = sims.indptr[r], sims.indptr[r + 1]
            cols, vals = sims.indices[start:end], sims.data[start:end]
            keep = cols != lo + r
            cols, vals = cols[keep], vals[keep]
            if not len(cols):
                continue
            order = np.lexsort((cols, -vals))[:neighbours]
            out_item.append(np.full(len(order), lo + r, dtype=np.int64))
            out_rank.append(np.arange(1, len(order) + 1, dtype=np.int32))
            out_nb.append(cols[order].astype(np.int64))
            out_score.append(np.clip(vals[order], 0.0, 1.0))
        progress.update(hi - lo)

    def cat(parts: list, dtype) -> Any:
        return np.concatenate(parts) if parts else np.zeros(0, dtype=dtype)

    stats = {
        "users": float(n_users),
        "items": float(n_items),
        "nnz": float(x.nnz),
        "density": float(x.nnz / max(n_users * n_items, 1)),
        "peak_block_nnz": float(peak_block_nnz),
        "seconds": time.monotonic() - started,
    }
    return Neighbours(
        cat(out_item, np.int64), cat(out_rank, np.int32), cat(out_nb, np.int64), cat(out_score, np.float64), stats
    )


def recommend_item_item(
    nb: Neighbours, history: Mapping[int, Mapping[int, float]], users: Iterable[int], k: int
) -> dict[int, list[int]]:
    """Top-``k`` unseen items per user: Σ over the user's items of weight × cosine to the candidate."""
    import numpy as np

    by_item: dict[int, tuple[Any, Any]] = {}
    order = np.argsort(nb.item, kind="stable")
    items, starts = np.unique(nb.item[order], return_index=True)
    bounds = [*starts.tolist(), len(order)]
    for i, item in enumerate(items):
        idx = order[bounds[i] : bounds[i + 1]]
        by_item[int(item)] = (nb.neighbour[idx], nb.score[idx])
    out: dict[int, list[int]] = {}
    for user in users:
        seen = history.get(user, {})
        scores: dict[int, float] = {}
        for item, weight in seen.items():
            cols, vals = by_item.get(item, ((), ()))
            for c, v in zip(cols, vals, strict=True):
                c = int(c)
                if c not in seen:
                    scores[c] = scores.get(c, 0.0) + weight * float(v)
        out[user] = [i for i, _ in sorted(scores.items(), key=lambda kv: (-kv[1], kv[0]))[:k]]
    return out


# ---- popularity, rules -------------------------------------------------------------------------------------------


def popularity_ranking(user_item_pairs: Iterable[tuple[int, int]]) -> list[int]:
    """Items by distinct users, most first (ties: lower index first)."""
    counts: dict[int, int] = {}
    for _, item in set(user_item_pairs):
        counts[item] = counts.get(item, 0) + 1
    return [i for i, _ in sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))]


def recommend_popular(ranking: Sequence[int], history: Mapping[int, Any], users: Iterable[int], k: int):
    """The ``k`` most popular items each user has not interacted with."""
    out = {}
    for user in users:
        seen = history.get(user, {})
        out[user] = [i for i in ranking if i not in seen][:k] if seen else list(ranking[:k])
    return out


def recommend_rules(
    rules: Sequence[tuple[frozenset[int], int, float, float]],
    history: Mapping[int, Any],
    users: Iterable[int],
    k: int,
) -> dict[int, list[int]]:
    """Top-``k`` consequents of the rules whose antecedent the user's items contain (confidence, then lift).

    ``rules`` are ``(antecedent, consequent, confidence, lift)``. A user whose items fire no rule gets no
    recommendation from this model (counted as a miss, not filled from elsewhere).
    """
    out = {}
    for user in users:
        seen = set(history.get(user, {}))
        best: dict[int, tuple[float, float]] = {}
        for antecedent, consequent, confidence, lift in rules:
            if consequent not in seen and antecedent <= seen:
                best[consequent] = max(best.get(consequent, (0.0, 0.0)), (confidence, lift))
        out[user] = [c for c, _ in sorted(best.items(), key=lambda kv: (-kv[1][0], -kv[1][1], kv[0]))[:k]]
    return out


# ---- metrics -----------------------------------------------------------------------------------------------------


def ranking_metrics(
    recommended: Mapping[int, Sequence[int]], held_out: Mapping[int, set[int]], k: int, catalogue: int
) -> dict[str, float]:
    """Precision@k, Recall@k, NDCG@k (binary gains), hit rate over the users of ``held_out``; catalogue coverage.

    A user with no recommendation counts with zeros. Coverage = distinct recommended items / ``catalogue``.
    """
    users = list(held_out)
    if not users:
        raise ValueError("no held-out users to evaluate")
    p = r = ndcg = hits = 0.0
    shown: set[int] = set()
    for user in users:
        recs = list(recommended.get(user, []))[:k]
        shown.update(recs)
        truth = held_out[user]
        gains = [1.0 if item in truth else 0.0 for item in recs]
        n_hit = sum(gains)
        p += n_hit / k
        r += n_hit / len(truth)
        dcg = sum(g / math.log2(i + 2) for i, g in enumerate(gains))
        ideal = sum(1.0 / math.log2(i + 2) for i in range(min(len(truth), k)))
        ndcg += dcg / ideal
        hits += 1.0 if n_hit else 0.0
    n = len(users)
    return {
        f"precision_at_{k}": p / n,
        f"recall_at_{k}": r / n,
        f"ndcg_at_{k}": ndcg / n,
        "hit_rate": hits / n,
        "coverage": len(shown) / catalogue if catalogue else 0.0,
        "users": float(n),
    }
