"""steam_game_daily end to end with ``dag.test()``: the pipeline docs/architecture.md's "Adding a pipeline" built."""

from __future__ import annotations

import pytest
from purchase_data import write_feature_days

from shoplake.io.lake import read_counts
from shoplake.paths import STEAM_GAME_DAILY, Zone, partition_path

pytestmark = [pytest.mark.integration, pytest.mark.spark]

DAY = "2019-03-01"


def test_the_dag_builds_checks_and_emits_the_day(airflow_db, lake_root):
    from airflow.dag_processing.dagbag import DagBag

    from conftest import DAGS

    write_feature_days(lake_root, [DAY], n=200)
    dag = DagBag(dag_folder=str(DAGS)).dags["steam_game_daily"]
    dr = dag.test(run_conf={"ds": DAY, "min_reviews": 1})
    states = {ti.task_id: ti.state for ti in dr.get_task_instances()}
    assert states["build_steam_game_daily"] == states["check_steam_game_daily"] == "success", states
    assert states["run_other_event_days"] in ("skipped", "success")  # a manual run holds no folded days
    assert read_counts(partition_path(lake_root, Zone.ENRICHED, STEAM_GAME_DAILY, DAY))["in"] == 200
