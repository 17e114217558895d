"""spark-submit entry point, churn step ``train``: RF, GBT, LR, LinearSVC, CrossValidator on F1 → model zone.

    spark-submit jobs/spark/train_churn_models.py --source telco --ds 2018-11-30 --lake-root ./lake

Flags: ``--help`` (``shoplake.pipelines.churn.ChurnJobConfig``); the step:
``shoplake.pipelines.churn.train_churn_models``.
"""

from shoplake.jobconfig import run_job, run_main
from shoplake.pipelines import churn


def main(argv=None, spark=None) -> dict:
    return run_job(churn.ChurnJobConfig, churn.train_churn_models, argv, doc=__doc__, spark=spark, with_spark=True)


if __name__ == "__main__":
    run_main(main)
