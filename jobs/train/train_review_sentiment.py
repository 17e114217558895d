"""Entry point, review sentiment step ``train_review_sentiment``: the five-class model fitted (or a hub model
adopted) and judged against star ratings on the newest reviews, gated on macro-F1.

    python jobs/train/train_review_sentiment.py --ds 2026-02-25 --lake-root ./lake [--model org/name@revision]

Flags: ``--help`` (``shoplake.pipelines.review_sentiment.ReviewSentimentTrainConfig``); the step:
``shoplake.pipelines.review_sentiment.train_review_sentiment``.
"""

from shoplake.jobconfig import run_job, run_main
from shoplake.pipelines.review_sentiment import ReviewSentimentTrainConfig, train_review_sentiment


def main(argv=None) -> dict:
    return run_job(ReviewSentimentTrainConfig, train_review_sentiment, argv, doc=__doc__)


if __name__ == "__main__":
    run_main(main)
