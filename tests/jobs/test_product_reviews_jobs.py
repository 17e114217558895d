"""The product review jobs on the real Sephora sample day and a crafted clickstream of the next day."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest
from click_events import write_events

from shoplake.io.lake import read_counts, read_partition
from shoplake.paths import Zone, partition_path, quarantine_path

pytestmark = [pytest.mark.spark, pytest.mark.integration]

DAY, NEXT = "2026-02-24", "2026-02-25"
ROOT = Path(__file__).resolve().parents[2]


def _job(name: str, spark, lake: str, ds: str, *extra: str) -> dict:
    import importlib

    return importlib.import_module(name).main(["--ds", ds, "--lake-root", lake, *extra], spark=spark)


def test_a_sample_day_is_curated_scored_mapped_and_feeds_the_engagement_model(spark, tmp_path, tiny_sentiment_model):
    lake = str(tmp_path / "lake")
    curated = _job("curate_product_reviews", spark, lake, DAY)
    import importlib.util

    spec = importlib.util.spec_from_file_location(
        "score_product_reviews", ROOT / "jobs" / "gpu" / "score_product_reviews.py"
    )
    score_product_reviews = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(score_product_reviews)

    scored = score_product_reviews.main(["--ds", DAY, "--lake-root", lake, "--models", f"en={tiny_sentiment_model}"])
    assert scored["rows"] == scored["scored"] == curated["curated"]
    counts = read_counts(partition_path(lake, Zone.CURATED, "product_reviews", DAY))
    assert counts["in"] == counts["curated"] + counts["quarantined"] == curated["raw"]
    assert curated["raw"] > 0
    reviews = read_partition(partition_path(lake, Zone.CURATED, "product_reviews", DAY)).to_pandas()
    assert reviews["submitted_at"].dt.strftime("%Y-%m-%d").eq(DAY).all()
    assert reviews["rating"].between(1, 5).all()
    assert "author" not in reviews.columns
    assert Path(quarantine_path(lake, "curated", "product_reviews", DAY)).is_dir()
    catalog = read_counts(partition_path(lake, Zone.CURATED, "product_catalog", DAY))
    assert catalog["in"] == curated["catalog_products"] + curated["catalog_quarantined"]

    # the next day's clickstream names brands of the reviewed products, and two that are nowhere in the catalogue
    rows = [(f"u{u}", f"s{u}", p, "view", u) for u in range(6) for p in (1, 2, 3, 4)]
    rows += [(f"u{u}", f"s{u}", 1, "cart", 30 + u) for u in range(3)]
    write_events(lake, NEXT, rows)
    events = partition_path(lake, Zone.CURATED, "clickstream_events", NEXT)
    import pyarrow as pa

    from shoplake.io.lake import write_partition

    table = read_partition(events)
    brands = {1: "Valentino", 2: "yves saint-laurent", 3: "acme", 4: None}
    brand = pa.array([brands[p] for p in table["product_id"].to_pylist()], pa.string())
    table = table.set_column(table.schema.get_field_index("brand"), "brand", brand)
    no_category = pa.nulls(table.num_rows, pa.string())
    table = table.set_column(table.schema.get_field_index("category_code"), "category_code", no_category)
    write_partition(table, events)
    mapped = _job("build_product_review_map", spark, lake, NEXT, "--window-days", "1")
    assert (mapped["products"], mapped["products_matched"], mapped["products_unmatched"]) == (4, 2, 2)
    assert mapped["products_with_review_figures"] == 2
    assert read_counts(mapped["path"])["catalog_snapshot"] == DAY
    got = read_partition(mapped["path"]).to_pandas().set_index("product_id")
    catalogue = read_partition(partition_path(lake, Zone.CURATED, "product_catalog", DAY)).to_pandas()
    sentiment = read_partition(partition_path(lake, Zone.ENRICHED, "product_reviews", DAY)).to_pandas()
    joined = reviews.merge(catalogue[["product_id", "brand_key"]], on="product_id").merge(sentiment, on="review_id")
    by_hand = joined.groupby("brand_key")
    for product, key in ((1, "valentino"), (2, "yvessaintlaurent")):
        assert got.loc[product, "match_method"] == "brand"
        assert got.loc[product, "brand_reviews"] == by_hand["rating"].count()[key]
        assert got.loc[product, "brand_avg_rating"] == pytest.approx(by_hand["rating"].mean()[key])
        assert got.loc[product, "brand_sentiment"] == pytest.approx(by_hand["positive_prob"].mean()[key], rel=1e-5)
    assert list(got.loc[[3, 4], "match_method"]) == ["none", "none"]

    trained = _job("train_engagement_model", spark, lake, NEXT, "--window-days", "1", "--min-train-rows", "10",
                   "--mlflow-uri", "none", "--test-fraction", "0.3")  # fmt: skip
    metrics = json.loads((Path(trained["path"]) / "metrics.json").read_text())
    assert metrics["review_features"].startswith(
        "used: brand_reviews, brand_avg_rating, brand_positive_share, brand_sentiment"
    )
    assert "brand_avg_rating" in metrics["features"]["numeric"]
    # one session per user: no recency to learn from, and the model trains without it instead of failing
    assert metrics["features"]["dropped_all_null_in_training"] == ["user_recency_hours"]
    assert isinstance(pd.Timestamp(metrics["held_out_from"]), pd.Timestamp)
