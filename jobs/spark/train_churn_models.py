"""spark-submit entry point, churn step ``train``: RF, GBT, LR, LinearSVC, CrossValidator on F1 → model zone.

    spark-submit jobs/spark/train_churn_models.py --source telco --ds 2018-11-30 --lake-root ./lake

Flags: ``shoplake.ml.churn_config.ChurnJobConfig`` (``--help``); the step: ``shoplake.ml.churn_pipeline.train``.
"""

import sys

from shoplake.ml.churn_pipeline import main

if __name__ == "__main__":
    main("train", sys.argv[1:])
