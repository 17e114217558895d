"""spark-submit entry point, product reviews step ``curate``: a day of reviews → raw → curated; the catalogue.

    spark-submit jobs/spark/curate_product_reviews.py --ds 2026-02-24 --lake-root ./lake

Flags: ``--help`` (``shoplake.pipelines.product_reviews.ReviewsJobConfig``); the step:
``shoplake.pipelines.product_reviews.curate_product_reviews``.
"""

from shoplake.jobconfig import run_job, run_main
from shoplake.pipelines import product_reviews


def main(argv=None, spark=None) -> dict:
    return run_job(
        product_reviews.ReviewsJobConfig,
        product_reviews.curate_product_reviews,
        argv,
        doc=__doc__,
        spark=spark,
        with_spark=True,
    )


if __name__ == "__main__":
    run_main(main)
