"""spark-submit entry point, churn step ``predict``: current churn model × features → batch predictions in enriched/.

    spark-submit jobs/spark/predict_churn.py --source telco --ds 2018-11-30 --lake-root ./lake

Flags: ``--help`` (``shoplake.pipelines.churn.ChurnJobConfig``); the step: ``shoplake.pipelines.churn.predict_churn``.
"""

from shoplake.jobconfig import run_job, run_main
from shoplake.pipelines import churn


def main(argv=None, spark=None) -> dict:
    return run_job(churn.ChurnJobConfig, churn.predict_churn, argv, doc=__doc__, spark=spark, with_spark=True)


if __name__ == "__main__":
    run_main(main)
