"""Whole DAG runs with the lake on object stores (the only whole-run tests of product_reviews_daily, and the rerun
tests of steam_reviews_daily): ``steam_reviews_daily`` with ``SHOPLAKE_LAKE_ROOT=s3://…`` against
moto's S3 server, and ``product_reviews_daily`` there too — Mongo, the Spark jobs (spark-submit; their IO staged
through local scratch, the pyspark wheel having no S3A connector) and the scoring job in its own process, every zone
a Delta table in the bucket, and a rerun that leaves identical data. (Delta tables on ``gs://`` are not run here: no
local GCS emulator takes delta-rs's XML-API requests; see docs/lake.md.)"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import pytest
from test_steam_reviews_daily import _collection

from shoplake.io.lake import filesystem, read_counts, read_partition
from shoplake.paths import Zone, partition_path, quarantine_path

pytestmark = [pytest.mark.objectstore, pytest.mark.integration, pytest.mark.spark]

pytest.importorskip("s3fs")
pytest.importorskip("moto")


@contextmanager
def _lake_in(endpoint, monkeypatch) -> Iterator[str]:
    """A bucket on ``endpoint`` (``s3_endpoint`` / ``gcs_endpoint``) as ``SHOPLAKE_LAKE_ROOT`` while the test runs."""
    from shoplake_airflow.settings import settings

    with endpoint("shoplake-dag-run") as bucket:
        monkeypatch.setenv("SHOPLAKE_LAKE_ROOT", f"{bucket}/lake")
        settings.cache_clear()
        yield f"{bucket}/lake"
    settings.cache_clear()


@pytest.fixture
def s3_lake(monkeypatch):
    from object_stores import s3_endpoint

    with _lake_in(s3_endpoint, monkeypatch) as lake:
        yield lake


def _zones(lake: str) -> set[str]:
    fs, root = filesystem(lake)
    fs.invalidate_cache()
    return {p[len(root) + 1 :].split("/")[0] for p in fs.find(root)}


def _counts(path: str) -> dict | None:
    try:
        return read_counts(path)
    except FileNotFoundError:  # a partition written without bookkeeping
        return None


def _snapshot(paths: dict[str, str]) -> dict[str, tuple]:
    return {k: (read_partition(p), _counts(p)) for k, p in paths.items()}


def test_steam_reviews_daily_runs_on_an_s3_lake_and_reruns_identically(s3_lake, steam_dag, run_day):
    ds = "2019-03-02"
    run_day(steam_dag, ds)
    paths = {
        "raw": partition_path(s3_lake, Zone.RAW, "steam_reviews", ds),
        "curated": partition_path(s3_lake, Zone.CURATED, "steam_reviews", ds),
        "quarantine": quarantine_path(s3_lake, "curated", "steam_reviews", ds),
        "enriched": partition_path(s3_lake, Zone.ENRICHED, "steam_reviews", ds),
        "features": partition_path(s3_lake, Zone.ENRICHED, "steam_purchase_features", ds),
    }
    first = _snapshot(paths)
    assert first["raw"][0].num_rows == 363  # the sample's reviews of that UTC day
    assert first["curated"][1] == {"in": 363, "curated": first["curated"][0].num_rows, "quarantined": 0}
    assert first["curated"][0].num_rows == 363
    curated_ids = first["curated"][0]["recommendationid"].to_pylist()
    assert first["enriched"][0]["recommendationid"].to_pylist() == curated_ids
    assert sorted(first["features"][0]["recommendationid"].to_pylist()) == sorted(curated_ids)
    assert {"raw", "curated", "enriched", "quarantine"} <= _zones(s3_lake)

    run_day(steam_dag, ds)  # rerun: same partitions, same data, nothing duplicated in Mongo
    again = _snapshot(paths)
    assert _collection().count_documents({}) == 363
    for key, (table, counts) in first.items():
        assert again[key][0].equals(table), key
        assert again[key][1] == counts, key


def test_product_reviews_daily_lands_scores_and_reruns_identically_on_an_s3_lake(
    s3_lake, airflow_db, tiny_sentiment_model, monkeypatch
):
    from airflow.dag_processing.dagbag import DagBag

    from conftest import DAGS
    from shoplake_airflow.settings import settings

    monkeypatch.setenv("SHOPLAKE_SENTIMENT_MODEL", tiny_sentiment_model)
    settings.cache_clear()
    dag = DagBag(dag_folder=str(DAGS)).dags["product_reviews_daily"]
    day = "2026-02-24"
    paths = {
        "raw": partition_path(s3_lake, Zone.RAW, "product_reviews", day),
        "curated": partition_path(s3_lake, Zone.CURATED, "product_reviews", day),
        "enriched": partition_path(s3_lake, Zone.ENRICHED, "product_reviews", day),
    }
    snapshots = []
    for _ in range(2):
        dr = dag.test(run_conf={"ds": day})
        assert dr.state == "success"
        tasks = (
            "resolve_partition",
            "curate_product_reviews",
            "check_reviews",
            "score_product_reviews",
            "check_sentiment",
        )
        assert {ti.task_id: ti.state for ti in dr.get_task_instances()} == dict.fromkeys(tasks, "success")
        snapshots.append(_snapshot(paths))
    first, again = snapshots
    raw, curated = first["raw"][1], first["curated"][1]
    assert raw["good"] == curated["in"] == curated["curated"] + curated["quarantined"] > 0
    result = dr.get_task_instances()[0].xcom_pull(task_ids="check_reviews")
    assert result["rows"] == curated["curated"]
    assert result["catalog_rows"] > 0
    scored = first["enriched"][0]
    assert scored.num_rows == first["curated"][0].num_rows == curated["curated"]
    assert set(scored.column("sentiment_status").to_pylist()) == {"scored"}  # the source is English
    assert set(scored.column("review_id").to_pylist()) == set(first["curated"][0]["review_id"].to_pylist())
    assert {"raw", "curated", "enriched"} <= _zones(s3_lake)
    for key, (table, counts) in first.items():
        assert again[key][0].equals(table), key
        assert again[key][1] == counts, key
