"""Load on the prediction service: req/s and p50/p95/p99 latency per endpoint, beside a naive baseline in the same run.

Both runs start ``shoplake serve`` as its own process on 127.0.0.1 over the same lake and drive it with a bounded
number of concurrent HTTP clients for a fixed time per endpoint:

* **service** — the service as shipped: models loaded once, pointers re-read every few seconds.
* **naive baseline** — the same service with ``SHOPLAKE_SERVE_CACHE=false``: every request loads its model from the
  lake (what a script that calls ``load → predict`` per request does; the seed projects' Flask page did this).

The lake: ``--lake`` (e.g. the demo lake after ``make demo``), else a fresh synthetic lake with a purchase and a
tweet engagement model trained by their real pipeline functions and recommendation partitions (the tests' lake).
Sentiment runs when ``SHOPLAKE_SENTIMENT_MODEL`` (or ``--sentiment-model``) names a model that exists.

    python bench/serve_load.py [--seconds 5] [--concurrency 8] [--lake DIR]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start(lake: str, sentiment: str, cache: bool) -> tuple[subprocess.Popen, str]:
    port = free_port()
    env = {**os.environ, "SHOPLAKE_LAKE_ROOT": lake, "SHOPLAKE_SERVE_CACHE": "true" if cache else "false"}
    if sentiment:
        env["SHOPLAKE_SENTIMENT_MODELS"] = f"*={sentiment}"
    proc = subprocess.Popen(
        [sys.executable, "-m", "shoplake.cli", "serve", "--port", str(port), "--log-level", "WARNING"],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    url = f"http://127.0.0.1:{port}"
    import httpx

    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            if httpx.get(url + "/healthz", timeout=1).status_code == 200:
                return proc, url
        except httpx.HTTPError:
            time.sleep(0.2)
    proc.kill()
    raise RuntimeError("the service did not start")


async def drive(url: str, method: str, path: str, body: dict | None, seconds: float, concurrency: int) -> dict:
    import httpx

    latencies: list[float] = []
    errors = 0
    stop = 0.0  # set after the warm-up request

    async def worker(client: httpx.AsyncClient) -> None:
        nonlocal errors
        while time.monotonic() < stop:
            t0 = time.perf_counter()
            r = await client.request(method, path, json=body)
            latencies.append(time.perf_counter() - t0)
            if r.status_code != 200:
                errors += 1

    limits = httpx.Limits(max_connections=concurrency)
    async with httpx.AsyncClient(base_url=url, timeout=120, limits=limits) as client:
        await client.request(method, path, json=body)  # warm: the first request loads the model
        started = time.monotonic()
        stop = started + seconds
        await asyncio.gather(*(worker(client) for _ in range(concurrency)))
        elapsed = time.monotonic() - started
    latencies.sort()

    def pct(p: float) -> float:
        return latencies[min(len(latencies) - 1, int(p * len(latencies)))] * 1000

    return {"n": len(latencies), "rps": len(latencies) / elapsed, "p50": pct(0.5), "p95": pct(0.95),
            "p99": pct(0.99), "errors": errors}  # fmt: skip


def endpoints(lake: str, sentiment: str) -> list[tuple[str, str, str, dict | None]]:
    sys.path.insert(0, str(ROOT / "tests" / "fixtures"))
    from purchase_data import feature_table

    from shoplake.io.lake import partition_days, read_partition
    from shoplake.paths import RECS_DATASETS, Zone, dataset_path, partition_path
    from shoplake.transforms.purchase_features import ALL_FEATURES

    row = feature_table("2019-03-04", 1, seed=5).to_pylist()[0]
    purchase = {"appid": row["appid"], **{f: row[f] for f in ALL_FEATURES if row[f] == row[f]}}  # NaN → omitted
    out = [
        ("purchase (1 row)", "POST", "/predict/purchase", {"rows": [purchase]}),
        ("engagement", "POST", "/predict/engagement",
         {"text": "Flash sale hari ini #shopee gratis ongkir https://t.co/x", "followers": 1200}),
    ]  # fmt: skip
    days = partition_days(dataset_path(lake, Zone.ENRICHED, RECS_DATASETS["als_user"]))
    if days:
        als = read_partition(partition_path(lake, Zone.ENRICHED, RECS_DATASETS["als_user"], days[-1]))
        items = read_partition(partition_path(lake, Zone.ENRICHED, RECS_DATASETS["item_item"], days[-1]))
        out.append(("recommendations", "GET", f"/recommendations/{als['user_id'][0]}", None))
        out.append(("similar", "GET", f"/similar/{items['product_id'][0]}", None))
    if sentiment:
        texts = ["Great game, 40 hours in and still fun", "Crashes every ten minutes, refunded", "ok"] * 3
        out.append(("sentiment (9 texts)", "POST", "/predict/sentiment", {"texts": texts}))
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--seconds", type=float, default=5.0, help="load time per endpoint and mode")
    parser.add_argument("--concurrency", type=int, default=8, help="requests in flight at once")
    parser.add_argument("--lake", default="", help="lake with current models (default: a synthetic one)")
    parser.add_argument("--sentiment-model", default=os.environ.get("SHOPLAKE_SENTIMENT_MODEL", ""))
    args = parser.parse_args()

    tmp = tempfile.TemporaryDirectory()
    lake = args.lake
    if not lake:
        sys.path.insert(0, str(ROOT / "tests" / "fixtures"))
        from serve_lake import build

        lake = f"{tmp.name}/lake"
        build(lake)
    sentiment = args.sentiment_model if args.sentiment_model and Path(args.sentiment_model).exists() else ""
    calls = endpoints(lake, sentiment)
    results: dict[str, dict[str, dict]] = {}
    for mode, cache in (("service", True), ("naive", False)):
        proc, url = start(lake, sentiment, cache)
        try:
            for name, method, path, body in calls:
                results.setdefault(name, {})[mode] = asyncio.run(
                    drive(url, method, path, body, args.seconds, args.concurrency)
                )
        finally:
            proc.terminate()
            proc.wait(10)
    lines = [
        f"shoplake serve load: {args.concurrency} concurrent clients, {args.seconds:g} s per endpoint and mode, "
        f"{os.cpu_count()} CPUs, client and server on this machine"
    ]
    if not sentiment:
        lines.append("(sentiment skipped: no SHOPLAKE_SENTIMENT_MODEL directory; `make sentiment-model` creates one)")
    lines.append(
        f"{'endpoint':<22}{'mode':<9}{'requests':>9}{'req/s':>9}{'p50 ms':>9}{'p95 ms':>9}{'p99 ms':>9}{'errors':>7}"
    )
    for name, modes in results.items():
        for mode, r in modes.items():
            lines.append(f"{name:<22}{mode:<9}{r['n']:>9}{r['rps']:>9.1f}{r['p50']:>9.1f}{r['p95']:>9.1f}"
                         f"{r['p99']:>9.1f}{r['errors']:>7}")  # fmt: skip
        ratio = modes["service"]["rps"] / max(modes["naive"]["rps"], 1e-9)
        lines.append(f"{'':<22}service / naive req/s: {ratio:.1f}x")
    print("\n".join(lines))  # noqa: T201
    tmp.cleanup()


if __name__ == "__main__":
    main()
