"""The engagement model's window read: bounded by a seeded sample, embeddings read in step with their tweets (or
joined by id where a day's are out of step), days without embeddings kept."""

from __future__ import annotations

import datetime as dt

import numpy as np
import pyarrow as pa
import pytest

from shoplake.io.lake import write_partition
from shoplake.paths import TWEET_EMBEDDINGS, TWEETS, Zone, partition_path
from shoplake.pipelines import tweets

DAYS = ["2022-12-20", "2022-12-21", "2022-12-22"]


def _day(lake: str, day: int, n: int, embeddings: str) -> None:
    start = dt.datetime.fromisoformat(DAYS[day]).replace(tzinfo=dt.UTC)
    ids = [f"{day}-{i:04d}" for i in range(n)]
    cols = {
        "tweet_id": ids,
        "platform": ["shopee"] * n,
        "created_at": [start + dt.timedelta(seconds=37 * i) for i in range(n)],
        "clean_text": [f"promo {i}" for i in range(n)],
        **{c: list(range(n)) for c in ("n_hashtags", "n_mentions", "n_urls", "text_chars", "hour", "followers")},
        "has_location": [i % 2 == 0 for i in range(n)],
        "engagement": [i % 5 for i in range(n)],
        "text": ["raw text never read"] * n,
    }
    write_partition(pa.table(cols), partition_path(lake, Zone.CURATED, TWEETS, DAYS[day]))
    if embeddings == "none":
        return
    # each tweet's embedding encodes its own id: [day, i, 0]
    vectors = np.array([[day, i, 0] for i in range(n)], dtype="float32")
    order = np.arange(n) if embeddings == "in step" else np.arange(n)[::-1]
    emb = pa.FixedSizeListArray.from_arrays(pa.array(vectors[order].ravel()), 3)
    table = pa.table({"tweet_id": pa.array(ids).take(pa.array(order)), "embedding": emb})
    write_partition(table, partition_path(lake, Zone.ENRICHED, TWEET_EMBEDDINGS, DAYS[day]))


@pytest.fixture
def lake(tmp_path) -> str:
    root = str(tmp_path / "lake")
    _day(root, 0, 300, "in step")
    _day(root, 1, 200, "reversed")  # out of step: joined by id
    _day(root, 2, 100, "none")
    return root


def test_the_whole_window_with_every_embedding_on_its_own_tweet(lake, monkeypatch):
    monkeypatch.setattr(tweets, "READ_CHUNK_ROWS", 64)  # several chunks a day
    df, with_emb, without, sample = tweets.read_window(lake, DAYS[-1], 3)
    assert (len(df), with_emb, without) == (600, 2, 1)
    assert sample == {"window_rows": 600, "read_rows": 600, "fraction": 1.0}
    assert df["created_at"].is_monotonic_increasing
    assert "text" not in df.columns
    for row in df[df["embedding"].notna()].itertuples():
        day, i = row.tweet_id.split("-")
        assert row.embedding.tolist() == [int(day), int(i), 0]
    assert df[df["tweet_id"].str.startswith("2-")]["embedding"].isna().all()


def test_a_window_over_the_bound_is_read_as_a_seeded_sample(lake, monkeypatch):
    monkeypatch.setattr(tweets, "READ_CHUNK_ROWS", 64)
    df, _, _, sample = tweets.read_window(lake, DAYS[-1], 3, max_rows=150, seed=3)
    assert sample["window_rows"] == 600
    assert sample["fraction"] == 0.25
    assert 100 <= len(df) <= 200  # a Bernoulli(0.25) sample of 600
    assert sample["read_rows"] == len(df)
    assert set(df["tweet_id"].str[0]) == {"0", "1", "2"}  # every day sampled, not the first ones only
    again, *_ = tweets.read_window(lake, DAYS[-1], 3, max_rows=150, seed=3)
    assert again["tweet_id"].tolist() == df["tweet_id"].tolist()
    for row in df[df["embedding"].notna()].itertuples():
        assert row.embedding.tolist()[:2] == [int(x) for x in row.tweet_id.split("-")]
