"""spark-submit entry point, churn step ``predict_churn``: the current model × features → predictions.

    spark-submit jobs/spark/predict_churn.py --source telco --ds 2018-11-30 --lake-root ./lake

Flags: ``--help`` (``shoplake.pipelines.churn.ChurnJobConfig``); the step: ``shoplake.pipelines.churn.predict_churn``.
"""

from shoplake.jobconfig import run_job, run_main
from shoplake.pipelines.churn import ChurnJobConfig, predict_churn


def main(argv=None, spark=None) -> dict:
    return run_job(ChurnJobConfig, predict_churn, argv, doc=__doc__, spark=spark, with_spark=True)


if __name__ == "__main__":
    run_main(main)
