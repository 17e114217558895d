"""spark-submit entry point, engagement step ``train_engagement_model``: user × product × session levels → a classifier.

    spark-submit jobs/spark/train_engagement_model.py --ds 2019-10-01 --window-days 1 --lake-root ./lake

Flags: ``--help`` (``shoplake.pipelines.engagement.EngagementJobConfig``); the step:
``shoplake.pipelines.engagement.train_engagement_model``.
"""

from shoplake.jobconfig import run_job, run_main
from shoplake.pipelines.engagement import EngagementJobConfig, train_engagement_model


def main(argv=None, spark=None) -> dict:
    return run_job(EngagementJobConfig, train_engagement_model, argv, doc=__doc__, spark=spark, with_spark=True)


if __name__ == "__main__":
    run_main(main)
