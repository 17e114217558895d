"""spark-submit entry point, recommendations step ``train_recommenders``: item-item CF, FP-Growth, ALS, popularity →
lake.

    spark-submit jobs/spark/train_recommenders.py --ds 2019-10-01 --window-days 1 --lake-root ./lake

Flags: ``--help`` (``shoplake.pipelines.recommendations.RecsJobConfig``); the step:
``shoplake.pipelines.recommendations.train_recommenders``.
"""

from shoplake.jobconfig import run_job, run_main
from shoplake.pipelines.recommendations import RecsJobConfig, train_recommenders


def main(argv=None, spark=None) -> dict:
    return run_job(RecsJobConfig, train_recommenders, argv, doc=__doc__, spark=spark, with_spark=True)


if __name__ == "__main__":
    run_main(main)
