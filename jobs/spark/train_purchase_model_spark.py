"""spark-submit entry point: train the Steam purchase model with xgboost.spark → model/steam_purchase/version=<ds>/.

    spark-submit jobs/spark/train_purchase_model_spark.py --ds 2019-03-03 --lake-root ./lake --backend spark

Same flags, split, evaluation, gating and MLflow tracking as ``jobs/train/train_purchase_model.py``; only the
fit runs on Spark. The last stdout line is the run's summary (JSON).
"""

from __future__ import annotations

import json
import logging
import sys
from dataclasses import asdict

from shoplake.ml.purchase_config import PurchaseTrainConfig

log = logging.getLogger("train_purchase_model_spark")


def main(argv: list[str] | None = None, spark=None) -> dict:
    from shoplake.ml.purchase_spark import train_on_spark

    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    cfg = PurchaseTrainConfig.from_args(argv, __doc__)
    log.info("config %s", asdict(cfg))
    if spark is None:
        from pyspark.sql import SparkSession

        spark = (
            SparkSession.builder.appName(f"train_purchase_model-{cfg.ds}")
            .config("spark.sql.session.timeZone", "UTC")
            .getOrCreate()
        )
    result = train_on_spark(spark, cfg)
    sys.stdout.write(json.dumps(result, default=str) + "\n")
    return result


if __name__ == "__main__":
    main(sys.argv[1:])
