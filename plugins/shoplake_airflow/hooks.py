"""Connections to the platform's stores, through Airflow's hooks (so connections come from Airflow)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from shoplake_airflow.settings import settings

if TYPE_CHECKING:
    from pymongo.collection import Collection


def steam_collection() -> Collection:
    """The Steam reviews collection behind the ``mongo_default`` connection (``SHOPLAKE_MONGO_CONN_ID``).

    The database is the connection's schema, else ``SHOPLAKE_MONGO_DB``.
    """
    from airflow.providers.mongo.hooks.mongo import MongoHook

    cfg = settings()
    hook = MongoHook(mongo_conn_id=cfg.mongo_conn_id)
    return hook.get_collection(cfg.steam_collection, mongo_db=hook.connection.schema or cfg.mongo_db)
