"""spark-submit entry point, churn step ``features``: curated window → per-user features and churn labels.

    spark-submit jobs/spark/build_churn_features.py --source telco --ds 2018-11-30 --lake-root ./lake

Flags: ``shoplake.ml.churn_config.ChurnJobConfig`` (``--help``); the step: ``shoplake.ml.churn_pipeline.features``.
"""

import sys

from shoplake.ml.churn_pipeline import main

if __name__ == "__main__":
    main("features", sys.argv[1:])
