"""spark-submit entry point: raw/steam_reviews/ds=… → curated/steam_reviews/ds=… (+ quarantine).

spark-submit jobs/spark/curate_steam_reviews.py --ds 2019-03-01 --lake-root ./lake
"""

from __future__ import annotations

import logging
import sys
from dataclasses import asdict, dataclass, field

from shoplake.jobconfig import parse_job_args
from shoplake.paths import Zone, partition_path, quarantine_path, validate_ds

log = logging.getLogger("curate_steam_reviews")

DATASET = "steam_reviews"


@dataclass(frozen=True)
class CurateConfig:
    """Arguments of the job (CLI flags are the kebab-case field names)."""

    ds: str = field(metadata={"help": "partition date YYYY-MM-DD (the run's data interval start)"})
    lake_root: str = field(metadata={"help": "lake root: a path or s3://, gs:// URI"})
    output_files: int = field(default=1, metadata={"help": "Parquet files per partition"})
    shuffle_partitions: int = field(default=4, metadata={"help": "spark.sql.shuffle.partitions for this job"})

    def __post_init__(self) -> None:
        validate_ds(self.ds)
        if self.output_files < 1 or self.shuffle_partitions < 1:
            raise ValueError("--output-files and --shuffle-partitions must be >= 1")

    @classmethod
    def from_args(cls, argv: list[str] | None = None) -> CurateConfig:
        return parse_job_args(cls, argv, __doc__)


def run(spark, cfg: CurateConfig) -> dict[str, int]:
    """Curate one partition; returns ``{"in", "curated", "quarantined"}``."""
    from shoplake.io.lake import COUNTS_FILE
    from shoplake.io.spark_lake import write_json, write_partition
    from shoplake.transforms.steam_reviews import curate_reviews

    spark.conf.set("spark.sql.shuffle.partitions", str(cfg.shuffle_partitions))
    raw = spark.read.parquet(partition_path(cfg.lake_root, Zone.RAW, DATASET, cfg.ds))
    n_in = raw.count()
    result = curate_reviews(raw)
    curated = write_partition(
        result.curated,
        partition_path(cfg.lake_root, Zone.CURATED, DATASET, cfg.ds),
        files=cfg.output_files,
        sort_by="recommendationid",
    )
    quarantined = write_partition(
        result.quarantine, quarantine_path(cfg.lake_root, "curated", DATASET, cfg.ds), sort_by="record_id"
    )
    counts = {"in": n_in, "curated": curated, "quarantined": quarantined}
    if n_in != curated + quarantined:
        raise RuntimeError(f"row accounting broken for ds={cfg.ds}: {counts}")
    # bookkeeping for the Airflow check task, written last so it only exists for a finished run
    write_json(spark, f"{partition_path(cfg.lake_root, Zone.CURATED, DATASET, cfg.ds)}/{COUNTS_FILE}", counts)
    return counts


def main(argv: list[str] | None = None, spark=None) -> dict[str, int]:
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    cfg = CurateConfig.from_args(argv)
    log.info("config %s", asdict(cfg))
    if spark is None:
        from pyspark.sql import SparkSession

        spark = (
            SparkSession.builder.appName(f"curate_steam_reviews-{cfg.ds}")
            .config("spark.sql.session.timeZone", "UTC")
            .getOrCreate()
        )
    counts = run(spark, cfg)
    log.info("ds=%s counts %s", cfg.ds, counts)
    return counts


if __name__ == "__main__":
    main(sys.argv[1:])
