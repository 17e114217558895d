"""spark-submit entry point, churn step ``curate_churn_source``: source → raw → curated (+ quarantine) for one day.

    spark-submit jobs/spark/curate_churn_source.py --source telco --ds 2018-11-30 --lake-root ./lake

Flags: ``--help`` (``shoplake.pipelines.churn.ChurnJobConfig``); the step:
``shoplake.pipelines.churn.curate_churn_source``.
"""

from shoplake.jobconfig import run_job, run_main
from shoplake.pipelines.churn import ChurnJobConfig, curate_churn_source


def main(argv=None, spark=None) -> dict:
    return run_job(ChurnJobConfig, curate_churn_source, argv, doc=__doc__, spark=spark, with_spark=True)


if __name__ == "__main__":
    run_main(main)
