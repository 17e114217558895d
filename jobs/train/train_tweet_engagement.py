"""Entry point, tweets step ``train_tweet_engagement``: engagement models on the newest tweets, gated on RMSE (log1p).

    python jobs/train/train_tweet_engagement.py --ds 2022-12-22 --lake-root ./lake

Flags: ``--help`` (``shoplake.pipelines.tweets.EngagementTrainConfig``); the step:
``shoplake.pipelines.tweets.train_tweet_engagement``.
"""

from shoplake.jobconfig import run_job, run_main
from shoplake.pipelines.tweets import EngagementTrainConfig, train_tweet_engagement


def main(argv=None) -> dict:
    return run_job(EngagementTrainConfig, train_tweet_engagement, argv, doc=__doc__)


if __name__ == "__main__":
    run_main(main)
