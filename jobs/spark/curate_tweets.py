"""spark-submit entry point, tweets step ``curate``: a day of tweets → raw → curated (decoded, hashed authors).

    spark-submit jobs/spark/curate_tweets.py --ds 2022-12-22 --lake-root ./lake

Flags: ``--help`` (``shoplake.pipelines.tweets.TweetsJobConfig``); the step:
``shoplake.pipelines.tweets.curate_tweets``.
"""

from shoplake.jobconfig import run_job, run_main
from shoplake.pipelines import tweets


def main(argv=None, spark=None) -> dict:
    return run_job(tweets.TweetsJobConfig, tweets.curate_tweets, argv, doc=__doc__, spark=spark, with_spark=True)


if __name__ == "__main__":
    run_main(main)
