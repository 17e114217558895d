"""spark-submit entry point, product reviews step ``build_product_review_map``: clickstream products ↔ review brands.

    spark-submit jobs/spark/build_product_review_map.py --ds 2019-10-01 --lake-root ./lake

Flags: ``--help`` (``shoplake.pipelines.product_reviews.ReviewsJobConfig``); the step:
``shoplake.pipelines.product_reviews.build_product_review_map``.
"""

from shoplake.jobconfig import run_job, run_main
from shoplake.pipelines.product_reviews import ReviewsJobConfig, build_product_review_map


def main(argv=None, spark=None) -> dict:
    return run_job(ReviewsJobConfig, build_product_review_map, argv, doc=__doc__, spark=spark, with_spark=True)


if __name__ == "__main__":
    run_main(main)
