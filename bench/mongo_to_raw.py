"""Mongo → raw Parquet throughput: shoplake's extract vs a naive ``list(find())`` + pandas baseline.

Both read the same window of the same collection and write one Parquet file, in the same run; the report is
rows/s of each and the ratio. Two tables:

* end to end — server included (with the embedded secantusdb the server's own BSON encoding, in Python,
  dominates both paths);
* client side — the same raw BSON batches, fetched once, turned into a validated Parquet partition by each path:
  what is left once the server is fast (mongod).

Needs a Mongo server (``make bench`` starts the embedded secantusdb).

    python bench/mongo_to_raw.py --port 27018 [--repeat 5]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

from shoplake.config import Settings
from shoplake.ingest.mongo_extract import extract_window
from shoplake.ingest.mongo_load import load_reviews
from shoplake.ingest.steam_source import read_saved_responses
from shoplake.io.lake import write_partition

WINDOWS = {
    "one day (2019-03-02)": (1551484800, 1551571200),
    "whole sample (2010-2019)": (0, 2_000_000_000),
}


def shoplake_extract(coll, lo, hi, out: Path) -> int:
    res = extract_window(coll, start_ts=lo, end_ts=hi)
    write_partition(res.good, str(out), sort_by="recommendationid")
    return res.good.num_rows + res.quarantine.num_rows


def naive_extract(coll, lo, hi, out: Path) -> int:
    import pandas as pd

    docs = list(coll.find({"timestamp_created": {"$gte": lo, "$lt": hi}}))
    df = pd.json_normalize(docs)
    out.mkdir(parents=True, exist_ok=True)
    df.to_parquet(out / "part.parquet")
    return len(df)


def shoplake_client_side(batches: list[bytes], out: Path) -> int:
    """pymongoarrow's BSON→Arrow on the raw batches, then the value checks and the partition write."""
    from pymongoarrow.api import Schema
    from pymongoarrow.context import PyMongoArrowContext

    from shoplake.ingest import mongo_extract as mx

    ctx = PyMongoArrowContext(Schema(mx.document_schema(mx.STEAM_REVIEW_FIELDS)))
    for batch in batches:
        ctx.process_bson_stream(batch)
    table = mx._flatten(ctx.finish(), mx.STEAM_REVIEW_FIELDS)
    reasons = mx._value_reasons(table, mx.STEAM_REVIEW_FIELDS, 20_000)
    if any(reasons):
        raise SystemExit("the bench sample should be clean")
    write_partition(table, str(out), sort_by="recommendationid")
    return table.num_rows


def naive_client_side(batches: list[bytes], out: Path) -> int:
    import bson
    import pandas as pd

    docs = [d for batch in batches for d in bson.decode_all(batch)]
    df = pd.json_normalize(docs)
    out.mkdir(parents=True, exist_ok=True)
    df.to_parquet(out / "part.parquet")
    return len(df)


def timed(fn, *args, repeat: int) -> tuple[float, int]:
    times, rows = [], 0
    for _ in range(repeat):
        t0 = time.perf_counter()
        rows = fn(*args)
        times.append(time.perf_counter() - t0)
    return statistics.median(times), rows


def main(argv: list[str] | None = None) -> int:
    from pymongo import MongoClient

    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--port", type=int, default=27018)
    p.add_argument("--repeat", type=int, default=5)
    a = p.parse_args(argv)
    coll = MongoClient(f"mongodb://127.0.0.1:{a.port}")["shoplake_bench"]["steam_reviews"]
    coll.drop()
    loaded = load_reviews(
        coll, read_saved_responses(Settings.from_env().steam_source_dir), start_ts=0, end_ts=2_000_000_000
    )
    print(f"loaded {loaded.inserted} sample reviews into shoplake_bench.steam_reviews")  # noqa: T201
    print(f"{'window':28} {'rows':>6} {'shoplake rows/s':>16} {'naive rows/s':>13} {'speed-up':>9}")  # noqa: T201
    with tempfile.TemporaryDirectory() as tmp:
        for name, (lo, hi) in WINDOWS.items():
            t_new, n_new = timed(shoplake_extract, coll, lo, hi, Path(tmp) / "new", repeat=a.repeat)
            t_old, n_old = timed(naive_extract, coll, lo, hi, Path(tmp) / "old", repeat=a.repeat)
            if n_new != n_old:
                raise SystemExit(f"row counts differ: shoplake {n_new}, naive {n_old}")
            print(f"{name:28} {n_new:6d} {n_new / t_new:16.0f} {n_old / t_old:13.0f} {t_old / t_new:8.2f}x")  # noqa: T201
        print("client side only (same raw BSON batches, fetched once):")  # noqa: T201
        for name, (lo, hi) in WINDOWS.items():
            batches = list(coll.find_raw_batches({"timestamp_created": {"$gte": lo, "$lt": hi}}))
            t_new, n_new = timed(shoplake_client_side, batches, Path(tmp) / "cnew", repeat=a.repeat)
            t_old, n_old = timed(naive_client_side, batches, Path(tmp) / "cold", repeat=a.repeat)
            if n_new != n_old:
                raise SystemExit(f"row counts differ: shoplake {n_new}, naive {n_old}")
            print(f"{name:28} {n_new:6d} {n_new / t_new:16.0f} {n_old / t_old:13.0f} {t_old / t_new:8.2f}x")  # noqa: T201
    coll.drop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
