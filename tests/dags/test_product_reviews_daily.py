"""product_reviews_daily end to end with ``dag.test()`` on a day of the Sephora sample."""

from __future__ import annotations

import pytest

from shoplake.io.lake import read_counts
from shoplake.paths import Zone, partition_path

pytestmark = [pytest.mark.integration, pytest.mark.spark]

DAY = "2026-02-24"


def test_a_sample_day_lands_in_raw_and_curated_with_every_row_accounted_for(airflow_db, lake_root):
    from airflow.dag_processing.dagbag import DagBag

    from conftest import DAGS

    dag = DagBag(dag_folder=str(DAGS)).dags["product_reviews_daily"]
    dr = dag.test(run_conf={"ds": DAY})
    assert dr.state == "success"
    assert {ti.task_id: ti.state for ti in dr.get_task_instances()} == {
        "resolve_partition": "success",
        "curate_reviews": "success",
        "check_reviews": "success",
    }
    raw = read_counts(partition_path(lake_root, Zone.RAW, "product_reviews", DAY))
    curated = read_counts(partition_path(lake_root, Zone.CURATED, "product_reviews", DAY))
    assert raw["good"] == curated["in"] == curated["curated"] + curated["quarantined"] > 0
    result = dr.get_task_instances()[0].xcom_pull(task_ids="check_reviews")
    assert result["rows"] == curated["curated"]
    assert result["catalog_rows"] > 0
