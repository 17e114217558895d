"""The adopted-hub-model path through huggingface_hub's offline cache (``<org>/<name>@<commit>``), at the tiny size:
``bench/hub_model_e2e.py`` builds the model, lays it out as a downloaded revision and runs the jobs in fresh
processes with ``HF_HUB_OFFLINE=1``: adopted by product_review_sentiment, served through the pointer and by the
Steam ``*`` route (the real-size run's figures are in docs/product_reviews.md)."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest
from review_data import write_review_days

pytest.importorskip("transformers")
ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "bench"))

DAYS = [f"2026-02-{d:02d}" for d in range(10, 16)]


@pytest.mark.slow  # three jobs in fresh processes (about 25 s)
def test_a_hub_model_revision_is_adopted_and_served_from_the_offline_cache(tmp_path, monkeypatch):
    monkeypatch.setenv("SHOPLAKE_BASELINE_GATE", "off")  # a random tiny hub model: adoption and serving are the subject
    import hub_model_e2e as bench
    from shoplake.io.lake import read_partition
    from shoplake.paths import PRODUCT_REVIEW_SENTIMENT, STEAM_REVIEWS, Zone, partition_path

    lake = str(tmp_path / "lake")
    write_review_days(lake, DAYS)
    result = bench.run(lake, DAYS[-1], 6, "tiny", 40, tmp_path / "work")
    repo, commit = result["model"].split("@")
    assert len(commit) == 40
    assert result["model_ref"] == {"uri": repo, "revision": commit}
    adopt = result["steps"]["adopt_product_review_model"]
    assert (adopt["kind"], adopt["promoted"], adopt["held_out_rows"]) == ("adopted", True, 72)
    assert not (tmp_path / "work" / "model").exists()  # the jobs found it in the hub cache, nowhere else
    for dataset, rows in ((PRODUCT_REVIEW_SENTIMENT, 60), (STEAM_REVIEWS, 40)):
        scored = read_partition(partition_path(lake, Zone.ENRICHED, dataset, DAYS[-1]))
        assert scored.num_rows == rows
        assert set(scored["model_id"].to_pylist()) == {repo}
        assert set(scored["model_revision"].to_pylist()) == {commit}
    assert result["steps"]["score_steam_star_route"]["models"] == {"*": result["model"]}


def test_the_cache_layout_is_the_one_huggingface_hub_reads(tmp_path):
    from huggingface_hub import try_to_load_from_cache

    import hub_model_e2e as bench

    model = tmp_path / "m"
    model.mkdir()
    (model / "config.json").write_text("{}")
    commit = bench.install_in_hub_cache(model, tmp_path / "hub", "org/name")
    found = try_to_load_from_cache("org/name", "config.json", cache_dir=tmp_path / "hub", revision=commit)
    assert Path(found).read_text() == "{}"
    assert try_to_load_from_cache("org/name", "config.json", cache_dir=tmp_path / "hub") == found  # refs/main
