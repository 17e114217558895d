"""spark-submit entry point, churn step ``predict``: current churn model × features → batch predictions in enriched/.

    spark-submit jobs/spark/predict_churn.py --source telco --ds 2018-11-30 --lake-root ./lake

Flags: ``shoplake.ml.churn_config.ChurnJobConfig`` (``--help``); the step: ``shoplake.ml.churn_pipeline.predict``.
"""

import sys

from shoplake.ml.churn_pipeline import main

if __name__ == "__main__":
    main("predict", sys.argv[1:])
