"""product_reviews_daily end to end with ``dag.test()`` on a day of the Sephora sample."""

from __future__ import annotations

import pytest

from shoplake.io.lake import read_counts, read_partition
from shoplake.paths import Zone, partition_path

pytestmark = [pytest.mark.integration, pytest.mark.spark]

DAY = "2026-02-24"


@pytest.fixture
def dag(airflow_db, tiny_sentiment_model, monkeypatch):
    from airflow.dag_processing.dagbag import DagBag

    from conftest import DAGS
    from shoplake_airflow.settings import settings

    monkeypatch.setenv("SHOPLAKE_SENTIMENT_MODEL", tiny_sentiment_model)
    settings.cache_clear()
    yield DagBag(dag_folder=str(DAGS)).dags["product_reviews_daily"]
    settings.cache_clear()


def test_a_sample_day_lands_in_raw_and_curated_and_every_review_is_scored(dag, lake_root):
    dr = dag.test(run_conf={"ds": DAY})
    assert dr.state == "success"
    tasks = ("resolve_partition", "curate_reviews", "check_reviews", "score_sentiment", "check_sentiment")
    assert {ti.task_id: ti.state for ti in dr.get_task_instances()} == dict.fromkeys(tasks, "success")
    raw = read_counts(partition_path(lake_root, Zone.RAW, "product_reviews", DAY))
    curated = read_counts(partition_path(lake_root, Zone.CURATED, "product_reviews", DAY))
    assert raw["good"] == curated["in"] == curated["curated"] + curated["quarantined"] > 0
    result = dr.get_task_instances()[0].xcom_pull(task_ids="check_reviews")
    assert result["rows"] == curated["curated"]
    assert result["catalog_rows"] > 0
    scored = read_partition(partition_path(lake_root, Zone.ENRICHED, "product_reviews", DAY))
    assert scored.num_rows == curated["curated"]
    assert set(scored.column("sentiment_status").to_pylist()) == {"scored"}  # the source is English
    ids = set(
        read_partition(partition_path(lake_root, Zone.CURATED, "product_reviews", DAY), ["review_id"])[
            "review_id"
        ].to_pylist()
    )
    assert set(scored.column("review_id").to_pylist()) == ids
