import pyarrow as pa
import pytest

from shoplake.ingest.mongo_extract import RAW_STEAM_REVIEWS_SCHEMA
from shoplake.io.lake import read_counts, read_partition, write_partition
from shoplake.paths import Zone, partition_path, quarantine_path

pytestmark = pytest.mark.spark

DS = "2019-03-01"
T0 = 1_551_398_400


def _raw(rid, author, review="ok game"):
    return {
        "recommendationid": rid,
        "appid": 10,
        "author_steamid": author,
        "author_num_games_owned": 1,
        "author_num_reviews": 1,
        "author_playtime_forever": 1,
        "author_playtime_last_two_weeks": 0,
        "author_last_played": T0,
        "language": "english",
        "review": review,
        "timestamp_created": T0,
        "timestamp_updated": T0,
        "voted_up": False,
        "votes_up": 0,
        "votes_funny": 0,
        "weighted_vote_score": "0",
        "comment_count": 0,
        "steam_purchase": False,
        "received_for_free": True,
        "written_during_early_access": False,
        "developer_response": None,
        "timestamp_dev_responded": None,
    }


def test_job_writes_curated_and_quarantine_and_reruns_identically(spark, tmp_path):
    import curate_steam_reviews as job

    lake = str(tmp_path / "lake")
    rows = [_raw("1", "a"), _raw("2", "b"), _raw("3", "c", review="[b][/b]")]
    write_partition(
        pa.Table.from_pylist(rows, schema=RAW_STEAM_REVIEWS_SCHEMA),
        partition_path(lake, Zone.RAW, "steam_reviews", DS),
    )
    result = job.main(["--ds", DS, "--lake-root", lake], spark=spark)
    counts = {k: result[k] for k in ("in", "curated", "quarantined")}
    assert counts == {"in": 3, "curated": 2, "quarantined": 1}
    assert (result["ds"], result["rows"]) == (DS, 2)
    curated_path = partition_path(lake, Zone.CURATED, "steam_reviews", DS)
    assert read_counts(curated_path) == counts
    first = read_partition(curated_path)
    assert first["recommendationid"].to_pylist() == ["1", "2"]
    bad = read_partition(quarantine_path(lake, "curated", "steam_reviews", DS)).to_pylist()
    assert [(r["record_id"], r["reason"]) for r in bad] == [("3", "review text empty after cleaning")]

    assert job.main(["--ds", DS, "--lake-root", lake], spark=spark) == result
    assert read_partition(curated_path).equals(first)
    leftovers = sorted(p.name for p in (tmp_path / "lake" / "curated" / "steam_reviews").iterdir())
    assert leftovers == ["_delta_log", f"ds={DS}"]
    from shoplake.io import delta

    assert [c["ds"] for c in delta.history(str(tmp_path / "lake" / "curated" / "steam_reviews"), 2)] == [DS, DS]


def test_job_refuses_bad_arguments():
    import curate_steam_reviews as job

    from shoplake.pipelines.steam_reviews import CurateConfig

    with pytest.raises(ValueError, match="ds must be"):
        job.main(["--ds", "yesterday", "--lake-root", "/x"])
    with pytest.raises(ValueError, match=">= 0"):
        CurateConfig(ds=DS, lake_root="/x", output_files=-1)
