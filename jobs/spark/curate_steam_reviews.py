"""spark-submit entry point: raw/steam_reviews/ds=… → curated/steam_reviews/ds=… (+ quarantine).

    spark-submit jobs/spark/curate_steam_reviews.py --ds 2019-03-01 --lake-root ./lake

Flags: ``--help`` (``shoplake.pipelines.steam_reviews.CurateConfig``); the step:
``shoplake.pipelines.steam_reviews.curate_steam_reviews``.
"""

from shoplake.jobconfig import run_job, run_main
from shoplake.pipelines.steam_reviews import CurateConfig, curate_steam_reviews


def main(argv=None, spark=None) -> dict:
    return run_job(CurateConfig, curate_steam_reviews, argv, doc=__doc__, spark=spark, with_spark=True)


if __name__ == "__main__":
    run_main(main)
