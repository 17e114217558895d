"""A scheduler listener that writes each DAG run's partition day (``ds``) into the run's note, where the UI shows it.

A manual run from the UI's trigger form or a backfill run does not say, anywhere the UI shows, which ``ds`` it
processes; the rule is :func:`shoplake_airflow.context.resolve_ds`. When a run starts (``on_dag_run_running``, in the
scheduler, inside its session) this applies the same rule to the run's conf, data interval and triggering asset
events, and sets the note ``ds=YYYY-MM-DD (<where it came from>)`` unless a person already wrote one. It never fails
the scheduler: a run whose day cannot be told gets no note (its ``resolve_partition`` task fails with why).
"""

from __future__ import annotations

import logging
from typing import Any

from airflow.listeners import hookimpl

log = logging.getLogger(__name__)


def run_day(conf: dict[str, Any] | None, start: Any, end: Any, event_extras: list[dict[str, Any]]) -> tuple[str, str]:
    """``(ds, where it came from)`` by :func:`~shoplake_airflow.context.resolve_ds`'s rule; ``("", "")`` if none."""
    from shoplake_airflow.context import resolve_ds

    context: dict[str, Any] = {"params": {"ds": (conf or {}).get("ds")}, "data_interval_start": start,
                               "data_interval_end": end,
                               "triggering_asset_events": {"events": [_Event(e) for e in event_extras]}}  # fmt: skip
    try:
        ds = resolve_ds(context)
    except ValueError:
        return "", ""
    if (conf or {}).get("ds"):
        return ds, "ds Param"
    if start is not None and end is not None and start < end:
        return ds, "data interval"
    return ds, "asset event"


class _Event:
    def __init__(self, extra: dict[str, Any]) -> None:
        self.extra = extra


@hookimpl
def on_dag_run_running(dag_run: Any, msg: str) -> None:
    try:
        if dag_run.note:
            return
        extras = [dict(e.extra or {}) for e in (getattr(dag_run, "consumed_asset_events", None) or [])]
        ds, source = run_day(dag_run.conf, dag_run.data_interval_start, dag_run.data_interval_end, extras)
        if ds:
            dag_run.note = f"ds={ds} ({source})"
    except Exception:  # a listener must never stop the scheduler
        log.exception("could not note the ds of %s", getattr(dag_run, "run_id", dag_run))
