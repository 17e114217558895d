"""Train the Steam purchase model → model/steam_purchase/version=<ds>/ (+ current.json, moved last if not worse).

    python jobs/train/train_purchase_model.py --ds 2019-03-03 --lake-root ./lake --window-days 28
    python jobs/train/train_purchase_model.py ... --export-uri s3://b/staging/ds=2019-03-03   # SageMaker channels
    python jobs/train/train_purchase_model.py ... --booster-path s3://b/out/job/output/model.tar.gz  # publish it

Reads ``enriched/steam_purchase_features`` partitions of the window, splits them by review creation time (oldest
train, then validation, newest held out), fits XGBoost ``hist`` (CUDA when present), evaluates (AUC, PR-AUC, F1,
ROC plot, feature importance), compares with the champion on the same held-out rows, writes the version with a
model card and config snapshot, tracks the run in MLflow (registered model, ``champion`` alias). The last stdout
line is the task's XCom: paths, figures and ids only. Flags: ``--help``
(``shoplake.pipelines.purchase_model.PurchaseTrainConfig``).
"""

from shoplake.jobconfig import run_job, run_main
from shoplake.pipelines.purchase_model import PurchaseTrainConfig, train_purchase_model


def main(argv=None) -> dict:
    return run_job(PurchaseTrainConfig, train_purchase_model, argv, doc=__doc__)


if __name__ == "__main__":
    run_main(main)
