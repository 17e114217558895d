"""Fixtures of the Airflow glue's tests."""

from __future__ import annotations

from pathlib import Path

import pytest

DAGS = Path(__file__).resolve().parents[2] / "dags"


@pytest.fixture
def dagbag_on(monkeypatch):
    """``dagbag_on(spark, train)``: every DAG parsed with that Spark and training backend (an s3:// lake, EMR's code
    and SageMaker's role set), the settings cache cleared around the parse; no import error allowed."""

    def parse(spark: str, train: str):
        from airflow.dag_processing.dagbag import DagBag

        from shoplake_airflow.settings import settings

        monkeypatch.setenv("SHOPLAKE_SPARK_BACKEND", spark)
        monkeypatch.setenv("SHOPLAKE_TRAIN_BACKEND", train)
        monkeypatch.setenv("SHOPLAKE_LAKE_ROOT", "s3://shoplake-test/lake")
        monkeypatch.setenv("SHOPLAKE_EMR_CODE_URI", "s3://shoplake-test/code")
        monkeypatch.setenv("SHOPLAKE_SAGEMAKER_ROLE_ARN", "arn:aws:iam::123456789012:role/shoplake-sagemaker")
        settings.cache_clear()
        try:
            bag = DagBag(dag_folder=str(DAGS))
        finally:
            settings.cache_clear()
        assert bag.import_errors == {}
        return bag

    return parse
