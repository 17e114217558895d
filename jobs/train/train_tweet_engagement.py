"""Entry point, tweets step ``train``: four engagement models compared on the newest tweets, gated on MAE.

    python jobs/train/train_tweet_engagement.py --ds 2022-12-22 --lake-root ./lake

Flags: ``--help`` (``shoplake.pipelines.tweets.EngagementTrainConfig``); the step:
``shoplake.pipelines.tweets.train_tweet_engagement``.
"""

from shoplake.jobconfig import run_job, run_main
from shoplake.pipelines import tweets


def main(argv=None) -> dict:
    return run_job(tweets.EngagementTrainConfig, tweets.train_tweet_engagement, argv, doc=__doc__)


if __name__ == "__main__":
    run_main(main)
