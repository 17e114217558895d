"""bench/scale.py at factor 10 with a 1 GB Spark driver: the recommendations pipeline's real jobs complete, and the
grown copies (disjoint users, products and sessions) behave like ten samples side by side."""

from __future__ import annotations

import glob
import json
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = [pytest.mark.spark, pytest.mark.integration]

ROOT = Path(__file__).resolve().parents[2]
FACTOR = 10


def test_recommendations_at_factor_10_complete_with_a_1g_driver(tmp_path):
    from shoplake.config import Settings
    from shoplake.ml.registry import version_files

    source = Settings.from_env().churn_source("clickstream")
    sample_rows = sum(len(Path(f).read_text(encoding="utf-8").splitlines()) - 1 for f in glob.glob(source))
    lake = tmp_path / "lake"
    run = [sys.executable, str(ROOT / "bench" / "scale.py"), "--pipeline", "recommendations", "--factor", str(FACTOR)]
    done = subprocess.run(
        [*run, "--driver-memory", "1g", "--lake", str(lake)], capture_output=True, text=True, timeout=900, check=False
    )
    assert done.returncode == 0, done.stderr[-3000:]
    result = json.loads(done.stdout.strip().splitlines()[-1])
    assert (result["pipeline"], result["factor"], result["driver_memory"]) == ("recommendations", FACTOR, "1g")
    assert result["rows"] == FACTOR * sample_rows
    steps = {"curate_churn_source", "check_window", "train_recommenders", "check_recommendations"}
    assert set(result["steps"]) == steps
    assert result["driver_peak_rss_mb"] > 0
    assert result["worker_peak_rss_mb"] > 0

    metrics = json.loads(Path(version_files(str(lake), "recommender", "2019-10-01"), "metrics.json").read_text())
    # ten disjoint copies of one shop: every count of the split is ten times a copy's
    for name, count in metrics["split"].items():
        assert count % FACTOR == 0, (name, count)
    assert metrics["split"]["events"] > 0.9 * result["rows"]  # the curate step kept (almost) every event
    # item-item neighbours never cross copies, so each copy's users get the same picks: hits come in tens
    item_item = metrics["item_item_cf"]
    hits = item_item["hit_rate"] * item_item["users"]
    assert round(hits) % FACTOR == 0
    assert hits == pytest.approx(round(hits), abs=1e-6)
    assert round(hits) > 0
