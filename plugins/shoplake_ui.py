"""Airflow plugin: the shoplake Lake page (models, metrics, plots, partitions) in the Airflow UI's navigation, and
the scheduler listener that writes each run's ``ds`` into its note."""

from __future__ import annotations

from typing import ClassVar

from airflow.plugins_manager import AirflowPlugin

from shoplake_airflow import run_notes
from shoplake_airflow.ui import URL_PREFIX, app


class ShoplakeUiPlugin(AirflowPlugin):
    """Mounts :mod:`shoplake_airflow.ui` in the API server and links it from the navigation bar."""

    name = "shoplake"
    # each run's ds in its note (the UI shows it on the run's page): plugins/shoplake_airflow/run_notes.py
    listeners: ClassVar[list] = [run_notes]
    fastapi_apps: ClassVar[list[dict]] = [{"app": app, "url_prefix": URL_PREFIX, "name": "shoplake lake"}]
    external_views: ClassVar[list[dict]] = [
        {
            "name": "Lake",
            "href": f"{URL_PREFIX}/",
            "destination": "nav",
            "url_route": "shoplake-lake",
        }
    ]
