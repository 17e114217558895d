import datetime as dt
from types import SimpleNamespace

import pytest

from shoplake_airflow.context import PARTITION_DS, check_conf, resolve_ds, xcom_ds

START = dt.datetime(2019, 3, 1, tzinfo=dt.UTC)


def test_a_daily_run_owns_the_day_of_its_data_interval():
    ctx = {"data_interval_start": START, "data_interval_end": START + dt.timedelta(days=1), "params": {"ds": None}}
    assert resolve_ds(ctx) == "2019-03-01"


def test_a_weekly_run_owns_the_last_whole_day_of_its_interval():
    start, end = dt.datetime(2019, 2, 25, 4, tzinfo=dt.UTC), dt.datetime(2019, 3, 4, 4, tzinfo=dt.UTC)
    assert resolve_ds({"data_interval_start": start, "data_interval_end": end}) == "2019-03-03"


def test_the_ds_param_wins_over_the_data_interval():
    ctx = {
        "data_interval_start": START,
        "data_interval_end": START + dt.timedelta(days=1),
        "params": {"ds": "2017-11-23"},
    }
    assert resolve_ds(ctx) == "2017-11-23"
    with pytest.raises(ValueError, match="ds must be YYYY-MM-DD"):
        resolve_ds({**ctx, "params": {"ds": "23/11/2017"}})


def test_asset_triggered_runs_take_ds_from_the_event():
    event = SimpleNamespace(extra={"ds": "2019-03-02", "path": "/lake/x", "rows": 3})
    ctx = {"data_interval_start": None, "data_interval_end": None, "triggering_asset_events": {"a": [event]}}
    assert resolve_ds(ctx) == "2019-03-02"


def test_a_run_that_folded_several_events_takes_the_oldest_day_and_lists_the_others():
    from shoplake_airflow.context import event_days

    def ev(ds):
        return SimpleNamespace(extra={"ds": ds, "path": "/lake/x", "rows": 1})

    events = {"a": [ev("2019-03-03"), ev("2019-03-01")], "b": [ev("2019-03-01"), SimpleNamespace(extra=None)]}
    ctx = {"data_interval_start": None, "data_interval_end": None, "triggering_asset_events": events}
    assert event_days(ctx) == ["2019-03-01", "2019-03-03"]
    assert resolve_ds(ctx) == "2019-03-01"
    assert event_days({}) == []


def test_a_run_with_no_day_says_how_to_name_one():
    with pytest.raises(ValueError, match="set the ds Param"):
        resolve_ds({"data_interval_start": None, "data_interval_end": None, "triggering_asset_events": {}})
    # a trigger timetable's empty interval is not a day either
    with pytest.raises(ValueError, match="cannot tell which day"):
        resolve_ds({"data_interval_start": START, "data_interval_end": START})


def test_xcom_ds_template():
    assert xcom_ds("extract_reviews") == "{{ ti.xcom_pull(task_ids='extract_reviews')['ds'] }}"
    assert xcom_ds("resolve_partition") == PARTITION_DS


def test_emit_partition_event_puts_only_small_metadata_in_the_event():
    from collections import defaultdict

    from shoplake_airflow.context import emit_partition_event

    events = defaultdict(lambda: SimpleNamespace(extra=None))
    result = {"ds": "2019-03-01", "path": "/lake/raw/x/ds=2019-03-01", "rows": 3, "quarantined": 1}
    assert emit_partition_event({"outlet_events": events}, "raw.x", result) is result
    assert events["raw.x"].extra == {"ds": "2019-03-01", "path": "/lake/raw/x/ds=2019-03-01", "rows": 3}


def test_unknown_conf_keys_are_refused_with_the_known_ones():
    check_conf({"ds": "2019-03-01", "window_days": 7}, ["ds", "window_days", "seed"])
    check_conf(None, ["ds"])
    with pytest.raises(ValueError, match=r"unknown conf key\(s\) \['windowdays'\]: this DAG takes \['ds', 'seed'"):
        check_conf({"windowdays": 7}, ["ds", "window_days", "seed"])


def test_deterministic_errors_fail_once_and_thin_windows_skip():
    from airflow.sdk.exceptions import AirflowFailException, AirflowSkipException

    from shoplake_airflow.context import fail_without_retry, skip_unless_trainable

    with pytest.raises(AirflowFailException, match="rows unaccounted"), fail_without_retry():
        raise ValueError("rows unaccounted for")
    with pytest.raises(OSError, match="connection reset"), fail_without_retry():  # transient: left to retries
        raise OSError("connection reset")
    with pytest.raises(AirflowFailException), fail_without_retry(FileNotFoundError):
        raise FileNotFoundError("no partition")
    assert skip_unless_trainable({"trainable": True, "rows": 5})["rows"] == 5
    with pytest.raises(AirflowSkipException, match="too few"):
        skip_unless_trainable({"trainable": False, "reason": "too few tweets"})


def test_an_empty_day_skips_with_its_reason_and_a_day_with_rows_or_rejects_does_not():
    from airflow.sdk.exceptions import AirflowSkipException

    from shoplake_airflow.context import empty_day, skip_empty_day

    assert skip_empty_day({"ds": "2019-03-01", "rows": 3})["rows"] == 3
    with pytest.raises(AirflowSkipException, match="no Steam reviews"):
        skip_empty_day({"ds": "2001-01-01", "rows": 0, "empty": "no Steam reviews were created on 2001-01-01"})
    with pytest.raises(AirflowSkipException, match="holds no tweets of 2001-01-01"):
        empty_day({"ds": "2001-01-01", "raw_rows": 0, "quarantined": 0}, "tweets")
    empty_day({"ds": "2019-03-01", "raw_rows": 0, "quarantined": 4}, "tweets")  # all rejected: a real day
    empty_day({"ds": "2019-03-01", "raw_rows": 7, "quarantined": 0}, "tweets")


def test_a_runs_note_names_the_day_it_processes_and_where_that_came_from():
    from shoplake_airflow.run_notes import on_dag_run_running, run_day

    end = START + dt.timedelta(days=1)
    assert run_day({"ds": "2019-03-05"}, START, end, []) == ("2019-03-05", "ds Param")
    assert run_day({"ds": ""}, START, end, []) == ("2019-03-01", "data interval")
    assert run_day(None, None, None, [{"ds": "2019-03-02"}, {"ds": "2019-03-01"}]) == ("2019-03-01", "asset event")
    assert run_day({}, None, None, []) == ("", "")
    run = SimpleNamespace(note=None, conf={"ds": "2019-03-05"}, data_interval_start=START, data_interval_end=end,
                          consumed_asset_events=[], run_id="manual__x")  # fmt: skip
    on_dag_run_running(dag_run=run, msg="started")
    assert run.note == "ds=2019-03-05 (ds Param)"
    run.note = "a person's note"
    on_dag_run_running(dag_run=run, msg="started")
    assert run.note == "a person's note"  # never overwritten
    on_dag_run_running(dag_run=SimpleNamespace(note=None, conf=None), msg="started")  # never raises
