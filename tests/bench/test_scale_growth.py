"""bench/scale.py's growth: copy 0 is the sample itself, later copies get fresh ids, the days stay the same."""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path

import pandas as pd

ROOT = Path(__file__).resolve().parents[2]
_spec = importlib.util.spec_from_file_location("scale", ROOT / "bench" / "scale.py")
scale = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(scale)

CLICKS = """event_time,event_type,product_id,category_id,category_code,brand,price,user_id,user_session
2019-10-01 00:00:00 UTC,view,44600062,2103807459595387724,,shiseido,35.79,541312140,72d76fde
2019-10-01 02:59:00 UTC,cart,3900821,2053013552326770905,appliances,aqua,33.20,554748717,
2019-10-01 01:00:00 UTC,view,3900821,2053013552326770905,appliances,aqua,33.20,541312140,72d76fde
"""


def test_clickstream_copies_get_fresh_users_products_sessions_within_the_same_day(tmp_path):
    src = tmp_path / "events.csv"
    src.write_text(CLICKS)
    assert scale.grow_clickstream(str(src), 3, tmp_path / "out") == 9
    parts = [pd.read_csv(f, dtype=str, keep_default_na=False) for f in sorted((tmp_path / "out").glob("*.csv"))]
    assert parts[0].equals(pd.read_csv(src, dtype=str, keep_default_na=False))  # factor 1 is the sample
    for column in ("user_id", "product_id"):
        values = [set(p[column]) for p in parts]
        assert len(set.union(*values)) == sum(len(v) for v in values), column  # no id shared between copies
    assert list(parts[2]["product_id"]) == [str(44600062 * 1000 + 2), str(3900821 * 1000 + 2), str(3900821 * 1000 + 2)]
    assert list(parts[1]["user_session"]) == ["72d76fde-1", "", "72d76fde-1"]  # a missing session stays missing
    for p in parts:
        assert p["event_time"].str.startswith("2019-10-01 ").all()
    # one shift per copy keeps every gap between events: each copy's leave-last-out split is the sample's
    gaps = [pd.to_datetime(p["event_time"].str.removesuffix(" UTC")).diff().tolist()[1:] for p in parts]
    assert gaps[1] == gaps[0]
    assert gaps[2] == gaps[0]


def test_csv_copies_keep_file_names_and_give_text_ids_a_suffix(tmp_path):
    (tmp_path / "src").mkdir()
    (tmp_path / "src" / "shopee.csv").write_text("username,tweet_text\nb'ann',hi\nb'bob',yo\n")
    assert scale.grow_csv(str(tmp_path / "src" / "*.csv"), 2, tmp_path / "out", {"username": "text"}) == 4
    copy = pd.read_csv(tmp_path / "out" / "0001" / "shopee.csv", dtype=str)  # the file name is the platform
    assert list(copy["username"]) == ["b'ann'-1", "b'bob'-1"]
    assert list(copy["tweet_text"]) == ["hi", "yo"]


def test_the_summary_splits_wall_time_into_fixed_and_per_row_cost():
    lines = [
        json.dumps({"pipeline": "p", "factor": f, "partition_rows": 1000 * f, "wall_s": 10 + 0.5 * f,
                    "driver_peak_rss_mb": 900, "worker_peak_rss_mb": 60})
        for f in (1, 10, 100)
    ]  # fmt: skip
    table = scale.summarise(["not json", *lines])
    assert "| p | 1,000 · 10 · 900/60 | 10,000 · 15 · 900/60 | 100,000 · 60 · 900/60 | 10 + 0.500 |" in table
