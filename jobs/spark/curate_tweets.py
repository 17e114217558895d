"""spark-submit entry point, tweets step ``curate_tweets``: a day of tweets → raw → curated (decoded, hashed authors).

    spark-submit jobs/spark/curate_tweets.py --ds 2022-12-22 --lake-root ./lake

Flags: ``--help`` (``shoplake.pipelines.tweets.TweetsJobConfig``); the step:
``shoplake.pipelines.tweets.curate_tweets``.
"""

from shoplake.jobconfig import run_job, run_main
from shoplake.pipelines.tweets import TweetsJobConfig, curate_tweets


def main(argv=None, spark=None) -> dict:
    return run_job(TweetsJobConfig, curate_tweets, argv, doc=__doc__, spark=spark, with_spark=True)


if __name__ == "__main__":
    run_main(main)
