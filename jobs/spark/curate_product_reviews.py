"""spark-submit entry point, product reviews step ``curate_product_reviews``: a day of reviews → curated; catalogue.

    spark-submit jobs/spark/curate_product_reviews.py --ds 2026-02-24 --lake-root ./lake

Flags: ``--help`` (``shoplake.pipelines.product_reviews.ReviewsJobConfig``); the step:
``shoplake.pipelines.product_reviews.curate_product_reviews``.
"""

from shoplake.jobconfig import run_job, run_main
from shoplake.pipelines.product_reviews import ReviewsJobConfig, curate_product_reviews


def main(argv=None, spark=None) -> dict:
    return run_job(ReviewsJobConfig, curate_product_reviews, argv, doc=__doc__, spark=spark, with_spark=True)


if __name__ == "__main__":
    run_main(main)
