"""XGBoost on the CPU vs CUDA: the purchase model's booster trained on its feature table grown to ``--rows``.

Reads the job's own window and time split of ``enriched/steam_purchase_features`` (``--lake-root``, ``--ds``),
replicates the training rows to ``--rows`` (exact copies: a larger real table's value spread is not known here,
and a histogram pass costs the same per row either way), and fits the job's booster (``fit_booster``: ``hist``,
train + validation AUC every round) for a fixed ``--rounds`` on each device in the same run. Prints fit seconds,
the ratio to the CPU and each booster's AUC on the held-out rows (not replicated). The CPU uses every core of the
machine (``nthread`` = all).

    python bench/xgb_device.py --lake-root lake --ds 2019-03-03 --rows 1000000 --rounds 200
"""

from __future__ import annotations

import argparse
import os
import sys
import time


def main(argv: list[str] | None = None) -> int:
    import numpy as np
    import pandas as pd
    import xgboost as xgb

    from shoplake.ml.metrics import binary_metrics
    from shoplake.ml.splits import TimeSplit
    from shoplake.ml.xgb import XgbParams, fit_booster, predict
    from shoplake.pipelines.purchase_model import PurchaseTrainConfig, split_apps, split_window

    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--lake-root", required=True)
    p.add_argument("--ds", required=True)
    p.add_argument("--window-days", type=int, default=28)
    p.add_argument("--rows", type=int, default=1_000_000, help="training rows after replication")
    p.add_argument("--rounds", type=int, default=200, help="boosting rounds (no early stopping: the same work)")
    p.add_argument("--devices", default="cpu,cuda")
    a = p.parse_args(argv)

    cfg = PurchaseTrainConfig(ds=a.ds, lake_root=a.lake_root, window_days=a.window_days)
    split = split_window(cfg)
    apps = split_apps(cfg, split)
    copies = -(-a.rows // len(split.train))
    grown = TimeSplit(pd.concat([split.train] * copies, ignore_index=True), split.valid, split.test)
    params = XgbParams(n_estimators=a.rounds, early_stopping_rounds=a.rounds)
    target = cfg.target
    y_test = split.test[target].to_numpy().astype(int)
    print(  # noqa: T201
        f"xgboost {xgb.__version__}; {len(grown.train):,} training rows ({len(split.train)} × {copies}), "
        f"{len(split.valid)} validation, {len(split.test)} held out; {a.rounds} rounds, depth {params.max_depth}; "
        f"CPU threads: {os.cpu_count()}"
    )
    results = {}
    for device in a.devices.split(","):
        fit_booster(split, target, XgbParams(n_estimators=5, early_stopping_rounds=5), device, apps)  # warm-up
        t0 = time.perf_counter()
        booster = fit_booster(grown, target, params, device, apps)
        seconds = time.perf_counter() - t0
        auc = binary_metrics(y_test, predict(booster, split.test))["auc"]
        results[device] = (seconds, auc)
    base = results[next(iter(results))][0]
    print(f"{'device':8} {'fit s':>8} {'x first':>8} {'held-out AUC':>13}")  # noqa: T201
    for device, (seconds, auc) in results.items():
        print(f"{device:8} {seconds:8.2f} {base / seconds:7.1f}x {auc:13.4f}")  # noqa: T201
    aucs = [auc for _, auc in results.values()]
    print(f"max AUC difference between devices: {np.ptp(aucs):.4f}")  # noqa: T201
    return 0


if __name__ == "__main__":
    sys.exit(main())
