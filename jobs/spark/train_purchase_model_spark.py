"""spark-submit entry point: train the Steam purchase model with xgboost.spark → model/steam_purchase/version=<ds>/.

    spark-submit jobs/spark/train_purchase_model_spark.py --ds 2019-03-03 --lake-root ./lake --backend spark

Same flags, split, evaluation, gating and MLflow tracking as ``jobs/train/train_purchase_model.py``; only the
fit runs on Spark (``shoplake.pipelines.purchase_model.train_purchase_model_spark``). The last stdout line is the run's
summary (JSON).
"""

from shoplake.jobconfig import run_job, run_main
from shoplake.pipelines.purchase_model import PurchaseTrainConfig, train_purchase_model_spark


def main(argv=None, spark=None) -> dict:
    return run_job(PurchaseTrainConfig, train_purchase_model_spark, argv, doc=__doc__, spark=spark, with_spark=True)


if __name__ == "__main__":
    run_main(main)
