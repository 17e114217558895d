"""The one rule for the partition a run owns (``ds``), for scheduled, manual, backfill and asset-triggered runs.

``ds`` is, in this order: the run's ``ds`` Param (manual runs from the UI or the REST API); else the last whole
UTC day of the run's data interval (the day itself for a daily run, the Sunday for a weekly run ending Monday);
else the ``ds`` a producer put in the triggering asset event. Every DAG starts with :func:`resolve_partition`,
and every other task and job takes ``ds`` from its XCom (:data:`PARTITION_DS` in templates).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from shoplake.paths import validate_ds
from shoplake.window import Window

#: task id of every DAG's first task
RESOLVE_TASK = "resolve_partition"
#: ``start_date`` of every DAG: any day a source holds can be backfilled or run by hand (a logical date before a
#: DAG's start_date silently runs no task). ``catchup=False`` keeps unpausing from scheduling that history.
HISTORY_START = dt.datetime(2000, 1, 1, tzinfo=dt.UTC)


def resolve_ds(context: dict[str, Any]) -> str:
    """Partition date of a run: the ``ds`` Param, else the data interval's last day, else the oldest ``ds`` of the
    asset events that triggered it (the others get runs of their own: :func:`run_other_event_days`).

    Raises:
        ValueError: a malformed ``ds`` Param, or no day can be derived (a run with no logical date and no Param).
    """
    ds = (context.get("params") or {}).get("ds")
    if ds:
        return validate_ds(str(ds))
    start, end = context.get("data_interval_start"), context.get("data_interval_end")
    if start is not None and end is not None and start < end:
        return Window.from_interval(start, end).last_day
    days = event_days(context)
    if days:
        return days[0]
    raise ValueError(
        "cannot tell which day to process: the run has no ds Param, no data interval and no asset event with a ds; "
        "trigger it with a logical date or set the ds Param (YYYY-MM-DD)"
    )


def event_days(context: dict[str, Any]) -> list[str]:
    """The days (``ds``) of every asset event that triggered the run, oldest first, each once.

    Airflow folds the events queued before an asset-triggered run starts into that one run (a backfill of the
    producer queues one per day), so a run may carry several days.
    """
    days = set()
    for events in (context.get("triggering_asset_events") or {}).values():
        for event in events:
            event_ds = (getattr(event, "extra", None) or {}).get("ds")
            if event_ds:
                days.add(validate_ds(str(event_ds)))
    return sorted(days)


def run_other_event_days(partition: Any, dag_id: str) -> Any:
    """In an asset-scheduled DAG: a run of ``dag_id`` (``ds`` Param) for every day of the triggering events other than
    the one this run processes, so that no folded day is left unprocessed. Nothing runs (the mapped trigger is
    skipped) when the run has one day, or none from events."""
    from airflow.providers.standard.operators.trigger_dagrun import TriggerDagRunOperator
    from airflow.sdk import task

    @task(task_id="other_event_days")
    def other_days(partition: dict, **context: Any) -> list[dict[str, str]]:
        return [{"ds": day} for day in event_days(context) if day != partition["ds"]]

    return TriggerDagRunOperator.partial(task_id="run_other_event_days", trigger_dag_id=dag_id).expand(
        conf=other_days(partition)
    )


def check_conf(conf: dict[str, Any] | None, known: set[str] | list[str]) -> None:
    """Refuse run conf keys the DAG has no Param for (a typo such as ``windowdays`` would be silently ignored).

    Raises:
        ValueError: naming the unknown keys and the known ones.
    """
    unknown = sorted(set(conf or {}) - set(known))
    if unknown:
        raise ValueError(f"unknown conf key(s) {unknown}: this DAG takes {sorted(known)}")


def xcom_ds(task_id: str) -> str:
    """Template of the ``ds`` a task returned in its XCom dict."""
    return f"{{{{ ti.xcom_pull(task_ids='{task_id}')['ds'] }}}}"


#: template of the run's partition date, for operator arguments (rendered at run time)
PARTITION_DS = xcom_ds(RESOLVE_TASK)


def resolve_partition(**task_kwargs: Any) -> Any:
    """The first task of every DAG: ``{"ds": resolve_ds(context)}``.

    It fails at once, without retries, when no day can be derived or the run conf names a key the DAG has no Param
    for; every later task of the run then stays ``upstream_failed``.
    """
    from airflow.sdk import task

    @task(task_id=RESOLVE_TASK, **task_kwargs)
    def resolve(**context: Any) -> dict[str, str]:
        with fail_without_retry():
            # the DAG's declared Params (the run's params also hold the conf's keys, unknown ones included)
            declared = context["task"].dag.params if context.get("task") is not None else context.get("params")
            check_conf(getattr(context.get("dag_run"), "conf", None), list(declared or {}))
            return {"ds": resolve_ds(context)}

    return resolve()


def emit_partition_event(context: dict[str, Any], asset: Any, result: dict[str, Any]) -> dict[str, Any]:
    """Attach ``{"ds", "path", "rows"}`` of a written partition to the task's event for ``asset``.

    Asset-triggered consumers read it back with :func:`resolve_ds`. Returns ``result`` unchanged (the XCom).
    """
    context["outlet_events"][asset].extra = {k: result[k] for k in ("ds", "path", "rows")}
    return result


@contextmanager
def fail_without_retry(*errors: type[Exception]) -> Iterator[None]:
    """Inside a task: a deterministic error (``ValueError`` unless named) fails the task once, not retried —
    bad Params, rows unaccounted for, a failed quality check: retrying would only fail the same way."""
    from airflow.sdk.exceptions import AirflowFailException

    caught = errors or (ValueError,)
    try:
        yield
    except caught as exc:
        raise AirflowFailException(str(exc)) from exc


def skip_empty_day(result: dict[str, Any]) -> dict[str, Any]:
    """Return a step's ``result``; when it says the day's source holds nothing (``empty``: the reason), end the task
    skipped with that reason: the tasks after it skip too, so no empty partition is written downstream and no asset
    event goes out (an empty day is not an error to retry)."""
    from airflow.sdk.exceptions import AirflowSkipException

    if result.get("empty"):
        raise AirflowSkipException(result["empty"])
    return result


def empty_day(result: dict[str, Any], what: str) -> None:
    """After a curate job: end the task skipped when the day's source held no ``what`` at all (no raw row, none
    quarantined), so that nothing downstream runs on an empty partition and no asset event goes out."""
    if result.get("raw_rows") == 0 and not result.get("quarantined"):
        reason = f"the source holds no {what} of {result['ds']} (UTC): nothing downstream runs; pick a day it holds"
        skip_empty_day({**result, "empty": reason})


def resolve_event_partition(dag_id: str) -> Any:
    """The first tasks of an asset-scheduled DAG: :func:`resolve_partition`, and a run of ``dag_id`` for every other
    day the triggering events hold (:func:`run_other_event_days`: days folded into this run get runs of their own).
    Returns the partition task's output."""
    partition = resolve_partition()
    run_other_event_days(partition, dag_id)
    return partition


def skip_unless_trainable(result: dict[str, Any]) -> dict[str, Any]:
    """Return a window check's ``result``; when it says ``trainable: False``, end the task skipped with its
    ``reason`` (too little data is not an error to retry)."""
    from airflow.sdk.exceptions import AirflowSkipException

    if not result["trainable"]:
        raise AirflowSkipException(result["reason"])
    return result
