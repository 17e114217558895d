"""GPU worker entry point: curated/product_reviews/ds=… → enriched/product_review_sentiment/ds=… (five classes).

    python jobs/gpu/score_review_sentiment.py --ds 2026-02-24 --lake-root ./lake

The model is the lake's current ``model/review_sentiment`` version (the offline head, or the hub model it adopted).
Flags: ``--help`` (``shoplake.pipelines.review_sentiment.ReviewSentimentScoreConfig``).
"""

from shoplake.jobconfig import run_job, run_main
from shoplake.pipelines.review_sentiment import ReviewSentimentScoreConfig, score_review_sentiment


def main(argv=None) -> dict:
    return run_job(ReviewSentimentScoreConfig, score_review_sentiment, argv, doc=__doc__)


if __name__ == "__main__":
    run_main(main)
