"""MLflow store set-up: every experiment's artifacts live in the lake, Default included."""

from __future__ import annotations

import sqlite3

import pytest

from shoplake.ml import tracking

pytest.importorskip("mlflow")


def _experiments(db) -> dict[str, str]:
    with sqlite3.connect(db) as con:
        return dict(con.execute("select name, artifact_location from experiments").fetchall())


def test_a_new_store_puts_the_default_experiment_in_the_lake_not_the_working_directory(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)  # an Airflow task's cwd is a temp dir that is deleted after the task
    uri = tracking.tracking_uri("", str(tmp_path / "lake"))
    tracking.prepare_local_store(uri)
    root = (tmp_path / "lake/model/mlflow/artifacts").as_uri()
    assert tracking.local_artifact_root(uri) == root
    assert _experiments(tmp_path / "lake/model/mlflow/mlflow.db") == {"Default": f"{root}/0"}


def test_an_older_store_whose_default_points_at_a_deleted_temp_dir_is_repaired(tmp_path):
    from mlflow.store.tracking.sqlalchemy_store import SqlAlchemyStore

    uri = tracking.tracking_uri("", str(tmp_path / "lake"))
    SqlAlchemyStore(uri, str(tmp_path / "gone" / "mlruns"))  # what MLflow did from a task's temp cwd
    db = tmp_path / "lake/model/mlflow/mlflow.db"
    assert _experiments(db)["Default"].startswith(str(tmp_path / "gone"))
    tracking.prepare_local_store(uri)
    tracking.prepare_local_store(uri)  # idempotent
    assert _experiments(db)["Default"] == f"{tracking.local_artifact_root(uri)}/0"


def test_a_tracking_server_is_left_alone():
    assert tracking.local_artifact_root("http://mlflow:5000") is None
    tracking.prepare_local_store("http://mlflow:5000")  # no call to a server, no error
