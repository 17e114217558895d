"""Item-item cosine top-k: the sparse blocked build (shoplake.ml.recommend) vs a dense items × items baseline.

python bench/item_item.py [--sizes 1000,2000,4000,8000,32000] [--dense-max 8000] [--k 10]

Synthetic implicit feedback shaped like a shop clickstream: users = 2 × items, 3 interactions per user on average,
item popularity Zipf-like (a few best-sellers, a long tail). Both builds produce each item's top-k neighbours; the
dense baseline materialises the full items × items similarity matrix (numpy), the sparse one never does. Times are
medians of ``--repeat`` runs, peak memory is Python-tracked allocations (tracemalloc: numpy and scipy buffers
included) during one build. Ratios are dense / sparse in the same run; sizes above ``--dense-max`` run sparse only
(the dense matrix alone would be items² × 8 bytes).
"""

from __future__ import annotations

import argparse
import statistics
import time
import tracemalloc


def synthetic(items: int, seed: int = 0):
    import numpy as np

    from shoplake.ml.recommend import interaction_matrix

    rng = np.random.default_rng(seed)
    users = 2 * items
    n = 3 * users
    popularity = 1.0 / np.arange(1, items + 1) ** 0.8
    item = rng.choice(items, size=n, p=popularity / popularity.sum())
    user = rng.integers(0, users, n)
    return interaction_matrix(user, item, rng.choice([1.0, 3.0, 5.0], size=n, p=[0.9, 0.07, 0.03]), (users, items))


def dense_top_k(x, k: int):
    import numpy as np

    d = x.toarray()
    norms = np.linalg.norm(d, axis=0)
    d = d / np.where(norms > 0, norms, 1.0)
    sims = d.T @ d  # items × items
    np.fill_diagonal(sims, -1.0)
    top = np.argpartition(-sims, kth=min(k, sims.shape[1] - 1), axis=1)[:, :k]
    return top, np.take_along_axis(sims, top, axis=1)


def sparse_top_k(x, k: int):
    from shoplake.ml.recommend import item_item_neighbours

    return item_item_neighbours(x, k)


def measure(fn, x, k: int, repeat: int) -> tuple[float, float]:
    times = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        fn(x, k)
        times.append(time.perf_counter() - t0)
    tracemalloc.start()
    fn(x, k)
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    return statistics.median(times), peak / 2**20


def main() -> None:
    import logging

    logging.getLogger("shoplake").setLevel(logging.WARNING)  # no progress lines in the table
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--sizes", default="1000,2000,4000,8000,32000")
    ap.add_argument("--dense-max", type=int, default=8000)
    ap.add_argument("--k", type=int, default=10)
    ap.add_argument("--repeat", type=int, default=3)
    args = ap.parse_args()
    head = f"{'items':>7} {'users':>7} {'nnz':>8} | {'sparse s':>9} {'sparse MiB':>10} | {'dense s':>8} "
    print(head + f"{'dense MiB':>9} | {'time ×':>7} {'memory ×':>8}")  # noqa: T201
    for items in (int(s) for s in args.sizes.split(",")):
        x = synthetic(items)
        s_time, s_mem = measure(sparse_top_k, x, args.k, args.repeat)
        row = f"{items:>7} {x.shape[0]:>7} {x.nnz:>8} | {s_time:>9.3f} {s_mem:>10.1f} |"
        if items <= args.dense_max:
            d_time, d_mem = measure(dense_top_k, x, args.k, args.repeat)
            row += f" {d_time:>8.3f} {d_mem:>9.1f} | {d_time / s_time:>7.1f} {d_mem / s_mem:>8.1f}"
        else:
            row += f" {'—':>8} {'—':>9} | {'—':>7} {'—':>8}"
        print(row, flush=True)  # noqa: T201


if __name__ == "__main__":
    main()
