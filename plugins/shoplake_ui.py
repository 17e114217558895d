"""Airflow plugin: the shoplake Lake page (models, metrics, plots, partitions) in the Airflow UI's navigation."""

from __future__ import annotations

from typing import ClassVar

from airflow.plugins_manager import AirflowPlugin

from shoplake_airflow.ui import URL_PREFIX, app


class ShoplakeUiPlugin(AirflowPlugin):
    """Mounts :mod:`shoplake_airflow.ui` in the API server and links it from the navigation bar."""

    name = "shoplake"
    fastapi_apps: ClassVar[list[dict]] = [{"app": app, "url_prefix": URL_PREFIX, "name": "shoplake lake"}]
    external_views: ClassVar[list[dict]] = [
        {
            "name": "Lake",
            "href": f"{URL_PREFIX}/",
            "destination": "nav",
            "url_route": "shoplake-lake",
        }
    ]
