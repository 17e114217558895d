"""spark-submit entry point, churn step ``build_churn_features``: curated window → per-user features and churn labels.

    spark-submit jobs/spark/build_churn_features.py --source telco --ds 2018-11-30 --lake-root ./lake

Flags: ``--help`` (``shoplake.pipelines.churn.ChurnJobConfig``); the step:
``shoplake.pipelines.churn.build_churn_features``.
"""

from shoplake.jobconfig import run_job, run_main
from shoplake.pipelines.churn import ChurnJobConfig, build_churn_features


def main(argv=None, spark=None) -> dict:
    return run_job(ChurnJobConfig, build_churn_features, argv, doc=__doc__, spark=spark, with_spark=True)


if __name__ == "__main__":
    run_main(main)
