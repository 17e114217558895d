"""Resolve what partition a task run owns, for scheduled, manual, backfill and asset-triggered runs."""

from __future__ import annotations

from typing import Any

from shoplake.window import Window


def run_window(context: dict[str, Any]) -> Window:
    """The run's data interval as a :class:`~shoplake.window.Window`.

    Raises:
        ValueError: the run has no data interval (asset-triggered runs: use :func:`resolve_ds`).
    """
    start, end = context.get("data_interval_start"), context.get("data_interval_end")
    if start is None or end is None:
        raise ValueError("this run has no data interval; asset-triggered runs take ds from the asset event")
    return Window.from_interval(start, end)


def resolve_ds(context: dict[str, Any]) -> str:
    """Partition date of a run: the data interval's, else the ``ds`` a producer put in the triggering event."""
    if context.get("data_interval_start") is not None and context.get("data_interval_end") is not None:
        return run_window(context).ds
    for events in (context.get("triggering_asset_events") or {}).values():
        for event in events:
            ds = (event.extra or {}).get("ds")
            if ds:
                return ds
    raise ValueError("cannot resolve ds: no data interval and no triggering asset event carries one")


def xcom_ds(task_id: str) -> str:
    """Template of the ``ds`` a task returned in its XCom dict.

    Downstream operators (a Spark job) use it so they work on exactly the partition the upstream task wrote,
    also in manual runs that have no logical date.
    """
    return f"{{{{ ti.xcom_pull(task_ids='{task_id}')['ds'] }}}}"


def emit_partition_event(context: dict[str, Any], asset: Any, result: dict[str, Any]) -> dict[str, Any]:
    """Attach ``{"ds", "path", "rows"}`` of a written partition to the task's event for ``asset``.

    Asset-triggered consumers read it back with :func:`resolve_ds`. Returns ``result`` unchanged (the XCom).
    """
    context["outlet_events"][asset].extra = {k: result[k] for k in ("ds", "path", "rows")}
    return result
