"""DAG-run fixtures shared by the whole-DAG tests."""

import datetime as dt
from pathlib import Path

import pytest

DAGS = Path(__file__).resolve().parents[2] / "dags"


@pytest.fixture
def steam_dag(monkeypatch, mongo_port, airflow_db, tiny_sentiment_model, request):
    """The parsed DAG, with a collection of its own for this test and a tiny offline sentiment model."""
    from airflow.dag_processing.dagbag import DagBag

    from shoplake_airflow.settings import settings

    monkeypatch.setenv("SHOPLAKE_STEAM_COLLECTION", f"steam_{request.node.name[:40]}")
    monkeypatch.setenv("SHOPLAKE_SENTIMENT_MODEL", tiny_sentiment_model)
    settings.cache_clear()
    yield DagBag(dag_folder=str(DAGS)).dags["steam_reviews_daily"]
    settings.cache_clear()


@pytest.fixture
def run_day():
    return run_steam_day


def run_steam_day(dag, ds: str):
    """A run whose data interval is the UTC day ``ds`` (a manual run at ds+1 covers the day before)."""
    run_at = dt.datetime.fromisoformat(ds).replace(tzinfo=dt.UTC) + dt.timedelta(days=1)
    dr = dag.test(logical_date=run_at)
    assert dr.state == "success", f"run for {ds} ended {dr.state}"
    assert dr.data_interval_start.date().isoformat() == ds
    return dr
