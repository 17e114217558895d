"""Train the Steam purchase model → model/steam_purchase/version=<ds>/ (+ current.json, moved last if not worse).

    python jobs/train/train_purchase_model.py --ds 2019-03-03 --lake-root ./lake --window-days 28
    python jobs/train/train_purchase_model.py ... --export-uri s3://b/staging/ds=2019-03-03   # SageMaker channels
    python jobs/train/train_purchase_model.py ... --booster-path s3://b/out/job/output/model.tar.gz  # publish it

Reads ``enriched/steam_purchase_features`` partitions of the window, splits them by review creation time (oldest
train, then validation, newest held out), fits XGBoost ``hist`` (CUDA when present), evaluates (AUC, PR-AUC, F1,
ROC plot, feature importance), compares with the champion on the same held-out rows, writes the version with a
model card and config snapshot, tracks the run in MLflow (registered model, ``champion`` alias). The last stdout
line is the task's XCom: paths, figures and ids only.
"""

from __future__ import annotations

import json
import logging
import sys
from dataclasses import asdict

from shoplake.ml.purchase_config import PurchaseTrainConfig
from shoplake.ml.purchase_training import export_channels, run_training

log = logging.getLogger("train_purchase_model")


def main(argv: list[str] | None = None) -> dict:
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    cfg = PurchaseTrainConfig.from_args(argv, __doc__)
    log.info("config %s", asdict(cfg))
    result = export_channels(cfg, cfg.export_uri) if cfg.export_uri else run_training(cfg)
    sys.stdout.write(json.dumps(result, default=str) + "\n")
    return result


if __name__ == "__main__":
    main(sys.argv[1:])
