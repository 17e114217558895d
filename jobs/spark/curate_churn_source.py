"""spark-submit entry point, churn step ``curate``: source → raw → curated (+ quarantine) for one day.

    spark-submit jobs/spark/curate_churn_source.py --source telco --ds 2018-11-30 --lake-root ./lake

Flags: ``shoplake.ml.churn_config.ChurnJobConfig`` (``--help``); the step: ``shoplake.ml.churn_pipeline.curate``.
"""

import sys

from shoplake.ml.churn_pipeline import main

if __name__ == "__main__":
    main("curate", sys.argv[1:])
