"""GPU worker entry point: curated/steam_reviews/ds=… → enriched/steam_reviews/ds=… (sentiment per review).

    python jobs/gpu/score_sentiment.py --ds 2019-03-01 --lake-root ./lake --model ./lake/model/sentiment_head

Runs in a fresh process (CUDA is initialised here, never in a forked scheduler worker). Picks CUDA + bf16 when
a GPU is visible, else CPU fp32 (``--precision int8`` for dynamic quantisation on CPU). The last stdout line is
JSON ``{"ds", "path", "rows", "model_id", "model_revision"}`` (the task's XCom).
"""

from __future__ import annotations

import json
import logging
import sys
from dataclasses import asdict, dataclass

from shoplake.jobconfig import parse_job_args
from shoplake.paths import Zone, partition_path, validate_ds

log = logging.getLogger("score_sentiment")

DATASET = "steam_reviews"


@dataclass(frozen=True)
class ScoreConfig:
    """Arguments of the job (CLI flags are the kebab-case field names)."""

    ds: str
    lake_root: str
    model: str
    revision: str = ""
    batch_size: int = 64
    max_length: int = 256
    chunk_rows: int = 4096
    device: str = "auto"
    precision: str = "auto"
    model_cache: str = "/tmp/shoplake-model-cache"

    def __post_init__(self) -> None:
        validate_ds(self.ds)

    @classmethod
    def from_args(cls, argv: list[str] | None = None) -> ScoreConfig:
        return parse_job_args(cls, argv, __doc__)


def run(cfg: ScoreConfig) -> dict:
    from shoplake.io.lake import read_counts
    from shoplake.ml.sentiment import EngineConfig, load_classifier, score_partition

    engine = EngineConfig(
        batch_size=cfg.batch_size,
        max_length=cfg.max_length,
        chunk_rows=cfg.chunk_rows,
        device=cfg.device,
        precision=cfg.precision,
    )
    clf = load_classifier(cfg.model, revision=cfg.revision or None, cfg=engine, cache_dir=cfg.model_cache)
    src = partition_path(cfg.lake_root, Zone.CURATED, DATASET, cfg.ds)
    result = score_partition(clf, src, partition_path(cfg.lake_root, Zone.ENRICHED, DATASET, cfg.ds))
    curated_rows = read_counts(src)["curated"]
    if result["rows"] != curated_rows:
        raise RuntimeError(f"scored {result['rows']} rows but curated ds={cfg.ds} has {curated_rows}")
    return {"ds": cfg.ds, **result}


def main(argv: list[str] | None = None) -> dict:
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    cfg = ScoreConfig.from_args(argv)
    log.info("config %s", asdict(cfg))
    result = run(cfg)
    sys.stdout.write(json.dumps(result) + "\n")
    return result


if __name__ == "__main__":
    main(sys.argv[1:])
