import datetime as dt
from types import SimpleNamespace

import pytest

from shoplake_airflow.context import resolve_ds, run_window, xcom_ds

START = dt.datetime(2019, 3, 1, tzinfo=dt.UTC)


def test_run_window_from_the_data_interval():
    ctx = {"data_interval_start": START, "data_interval_end": START + dt.timedelta(days=1)}
    w = run_window(ctx)
    assert (w.ds, w.end_ts - w.start_ts) == ("2019-03-01", 86400)
    assert resolve_ds(ctx) == "2019-03-01"


def test_asset_triggered_runs_take_ds_from_the_event():
    event = SimpleNamespace(extra={"ds": "2019-03-02", "path": "/lake/x", "rows": 3})
    ctx = {"data_interval_start": None, "data_interval_end": None, "triggering_asset_events": {"a": [event]}}
    assert resolve_ds(ctx) == "2019-03-02"
    with pytest.raises(ValueError, match="no data interval"):
        run_window(ctx)
    with pytest.raises(ValueError, match="cannot resolve ds"):
        resolve_ds({"triggering_asset_events": {}})


def test_xcom_ds_template():
    assert xcom_ds("extract_reviews") == "{{ ti.xcom_pull(task_ids='extract_reviews')['ds'] }}"


def test_emit_partition_event_puts_only_small_metadata_in_the_event():
    from collections import defaultdict

    from shoplake_airflow.context import emit_partition_event

    events = defaultdict(lambda: SimpleNamespace(extra=None))
    result = {"ds": "2019-03-01", "path": "/lake/raw/x/ds=2019-03-01", "rows": 3, "quarantined": 1}
    assert emit_partition_event({"outlet_events": events}, "raw.x", result) is result
    assert events["raw.x"].extra == {"ds": "2019-03-01", "path": "/lake/raw/x/ds=2019-03-01", "rows": 3}
