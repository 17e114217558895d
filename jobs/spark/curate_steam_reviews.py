"""spark-submit entry point: raw/steam_reviews/ds=… → curated/steam_reviews/ds=… (+ quarantine).

spark-submit jobs/spark/curate_steam_reviews.py --ds 2019-03-01 --lake-root ./lake
"""

from __future__ import annotations

import argparse
import logging
import sys
from dataclasses import asdict, dataclass

from shoplake.paths import Zone, partition_path, quarantine_path, validate_ds

log = logging.getLogger("curate_steam_reviews")

DATASET = "steam_reviews"


@dataclass(frozen=True)
class CurateConfig:
    """Arguments of the job (CLI flags are the kebab-case field names)."""

    ds: str
    lake_root: str
    output_files: int = 1
    shuffle_partitions: int = 4

    def __post_init__(self) -> None:
        validate_ds(self.ds)
        if self.output_files < 1 or self.shuffle_partitions < 1:
            raise ValueError("--output-files and --shuffle-partitions must be >= 1")

    @classmethod
    def from_args(cls, argv: list[str] | None = None) -> CurateConfig:
        p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
        p.add_argument("--ds", required=True, help="partition date YYYY-MM-DD (the run's data interval start)")
        p.add_argument("--lake-root", required=True, help="lake root: a path or s3://, gs:// URI")
        p.add_argument("--output-files", type=int, default=cls.output_files, help="Parquet files per partition")
        p.add_argument(
            "--shuffle-partitions",
            type=int,
            default=cls.shuffle_partitions,
            help="spark.sql.shuffle.partitions for this job",
        )
        a = p.parse_args(argv)
        return cls(
            ds=a.ds,
            lake_root=a.lake_root,
            output_files=a.output_files,
            shuffle_partitions=a.shuffle_partitions,
        )


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
