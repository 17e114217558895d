"""Build the local Spark driver's class-data-sharing archive (``shoplake.spark_cds``); ``make install`` runs it.

python scripts/spark_cds.py [ARCHIVE]     # default: SHOPLAKE_SPARK_CDS_ARCHIVE, else <repo>/.spark-cds/spark.jsa
"""

import logging
import sys

from shoplake.config import Settings
from shoplake.spark_cds import build_archive

if __name__ == "__main__":
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    archive = sys.argv[1] if len(sys.argv) > 1 else Settings.from_env().spark_cds_archive
    build_archive(archive)
