"""GPU worker entry point: curated/product_reviews/ds=… → enriched/product_reviews/ds=… (sentiment per review).

    python jobs/gpu/score_product_reviews.py --ds 2026-02-24 --lake-root ./lake --models en=./lake/model/sentiment_head

The same engine and language routing as the Steam scoring job (``jobs/gpu/score_sentiment.py``): each review goes to
the model of its ``language_code``; a language without a model gets null scores. Flags: ``--help``
(``shoplake.pipelines.product_reviews.ReviewScoreConfig``).
"""

from shoplake.jobconfig import run_job, run_main
from shoplake.pipelines.product_reviews import ReviewScoreConfig, score_product_reviews


def main(argv=None) -> dict:
    return run_job(ReviewScoreConfig, score_product_reviews, argv, doc=__doc__)


if __name__ == "__main__":
    run_main(main)
