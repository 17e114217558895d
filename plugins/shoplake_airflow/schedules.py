"""When DAGs run: every DAG may run any day since :data:`~shoplake_airflow.context.HISTORY_START` (backfills and
manual runs of old days) without catching that history up when unpaused; cron DAGs own one data interval a run."""

from __future__ import annotations

from typing import Any

from shoplake_airflow.context import HISTORY_START

#: ``@dag`` keywords of every DAG: any day since :data:`HISTORY_START` may run, and no catch-up of that history
SINCE_HISTORY: dict[str, Any] = {"start_date": HISTORY_START, "catchup": False}


def on_cron(cron: str) -> Any:
    """A cron schedule as a data-interval timetable: each run owns ``[start, end)`` of its UTC interval (a cron
    *trigger* has none)."""
    from airflow.sdk import CronDataIntervalTimetable

    return CronDataIntervalTimetable(cron, timezone="UTC")
