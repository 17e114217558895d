"""spark-submit entry point, churn step ``train_churn_models``: RF, GBT, LR, LinearSVC, CrossValidator → model zone.

    spark-submit jobs/spark/train_churn_models.py --source telco --ds 2018-11-30 --lake-root ./lake

Flags: ``--help`` (``shoplake.pipelines.churn.ChurnJobConfig``); the step:
``shoplake.pipelines.churn.train_churn_models``.
"""

from shoplake.jobconfig import run_job, run_main
from shoplake.pipelines.churn import ChurnJobConfig, train_churn_models


def main(argv=None, spark=None) -> dict:
    return run_job(ChurnJobConfig, train_churn_models, argv, doc=__doc__, spark=spark, with_spark=True)


if __name__ == "__main__":
    run_main(main)
