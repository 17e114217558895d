"""The purchase model trained from a constant and from each game's rate (the base margin), on the same lake window:
the time split and the games held out whole, each beside its baselines with the model's lead intervals.

    python scripts/compare_purchase_start.py --lake-root lake --ds 2019-03-03 --window-days 3

Both trainings publish version ``ds`` in turn (tracking off); the second, with the default (``start_from_rate``
on), is the one left in the lake. docs/purchase_model.md quotes its output for the demo's days and for 2019-02-08..10.
"""

from __future__ import annotations

import argparse
import json
import logging
import sys

log = logging.getLogger("compare_purchase_start")


def _interval(lead: dict | None) -> str:
    ci = (lead or {}).get("ci95")
    return f"[{ci[0]:+.3f}, {ci[1]:+.3f}]" if ci else "—"


def main(argv: list[str] | None = None) -> int:
    from shoplake.ml.registry import version_files
    from shoplake.pipelines.purchase_model import PurchaseTrainConfig, train_purchase_model

    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--lake-root", required=True)
    ap.add_argument("--ds", required=True)
    ap.add_argument("--window-days", type=int, default=3)
    args = ap.parse_args(argv)
    logging.basicConfig(level=logging.WARNING, format="%(message)s")
    log.setLevel(logging.INFO)
    for start in (False, True):
        cfg = PurchaseTrainConfig(ds=args.ds, lake_root=args.lake_root, window_days=args.window_days, mlflow_uri="none",
                                  start_from_rate=start)  # fmt: skip
        train_purchase_model(cfg)
        with open(f"{version_files(args.lake_root, cfg.model_name, args.ds)}/metrics.json") as fh:
            m = json.load(fh)
        rows = {k: v["rows"] for k, v in m["split"].items()}
        log.info("starts from %s (rows %s)", m["starts_from"], rows)
        log.info(
            "  time split: model AUC %.3f; %s",
            m[cfg.target]["auc"],
            ", ".join(
                f"{b} {auc:.3f} (lead {_interval(m['baseline_leads'].get(b))})" for b, auc in m["baselines"].items()
            ),
        )
        u = m.get("unseen_games") or {}
        if "model_auc" in u:
            log.info("  unseen games (%d games, %d reviews): model AUC %.3f; %s", u["games"], u["rows"], u["model_auc"],
                     ", ".join(f"{b} {auc:.3f} (lead {_interval(u['leads'].get(b))})"
                               for b, auc in u["baselines"].items()))  # fmt: skip
        else:
            log.info("  unseen games: %s", u.get("note", "not evaluated"))
        log.info("  gate: %s", m["gate"]["reason"])
    return 0


if __name__ == "__main__":
    sys.exit(main())
