"""
### tweet_engagement_daily — e-commerce tweets → raw → curated (Spark) → embeddings (gpu) → engagement model

**Purpose.** Predict how much engagement (likes + retweets; the source has no reply counts) an e-commerce tweet
gets, from its text, hashtags, mentions, links, author followers, platform and hour.

**Inputs.** Tweet CSVs matching `SHOPLAKE_TWEETS_SOURCE` (the Indonesian Shopee / Tokopedia sample by default; the
file name is the platform). Texts and handles come as Python bytes literals; the scraper repeated its header rows
and overlapping runs repeated tweets.

**Steps** (`ds` = the run's day, or the `ds` Param):
1. `curate_tweets` (Spark) — the tweets of `ds` (UTC) → `raw/ecommerce_tweets/ds=` → `curated/ecommerce_tweets/ds=`
   (decoded text, cleaned text, hashtags, mention / URL counts, platform, hour, counts, `engagement`); repeated
   headers counted and dropped; unparseable records, bad times, undecodable texts, bad counts and duplicate tweets
   (the copy with the highest counts kept) → quarantine with a reason. Handles never leave the raw stage in clear.
2. `check_tweets` — every row accounted for.
3. `embed_tweets` (queue/pool `gpu`) — offline all-MiniLM-L6-v2 sentence embeddings → `enriched/tweet_embeddings/ds=`.
4. `train_tweet_engagement` — median baseline, a hashtag/followers linear model, XGBoost on TF-IDF + meta, XGBoost on
   embeddings + meta, on log1p(engagement) over `window_days`, the newest `test_fraction` held out; MAE and RMSE on the
   original scale, Spearman, MAE on non-zero tweets, a predicted-vs-actual PNG →
   `model/tweet_engagement/version=<ds>/`; `current.json` moves only if the MAE is not worse than the champion's on
   the same tweets; MLflow. `check_window` before it ends the run *skipped* with the reason when the window holds
   fewer than `min_rows` curated tweets (a quiet day is not an error to retry).

**Owner.** data-platform.
"""

from __future__ import annotations

from datetime import timedelta

from airflow.sdk import chain, dag, task

from shoplake_airflow.assets import CURATED_TWEETS, RAW_TWEETS
from shoplake_airflow.context import (
    emit_partition_event,
    empty_day,
    fail_without_retry,
    resolve_partition,
    skip_unless_trainable,
)
from shoplake_airflow.handoffs import validate_hand_offs
from shoplake_airflow.jobs import job_params, job_task
from shoplake_airflow.params import ds_param
from shoplake_airflow.schedules import SINCE_HISTORY, on_cron
from shoplake_airflow.settings import settings


@dag(
    schedule=on_cron("@daily"),
    **SINCE_HISTORY,
    max_active_runs=1,  # runs gate against each other's champion: one at a time
    description="E-commerce tweets: curate (Spark), embed (gpu), train and gate the engagement model",
    tags=["twitter", "tweets", "ingest", "training", "spark", "gpu", "xgboost"],
    default_args={"owner": "data-platform", "retries": 2, "retry_delay": timedelta(minutes=2)},
    params={"ds": ds_param("UTC day whose tweets to process"), **job_params("train_tweet_engagement")},
    doc_md=__doc__,
)
def tweet_engagement_daily():
    @task(outlets=[RAW_TWEETS, CURATED_TWEETS])
    def check_tweets(partition: dict, **context) -> dict:
        from shoplake.pipelines.tweets import check_curated

        with fail_without_retry():  # rows unaccounted for
            result = check_curated(settings().lake_root, partition["ds"])
        empty_day(result, "tweets")
        emit_partition_event(context, RAW_TWEETS, {**result, "path": result["raw_path"], "rows": result["raw_rows"]})
        return emit_partition_event(context, CURATED_TWEETS, result)

    @task
    def check_window(partition: dict, **context) -> dict:
        from shoplake.pipelines import tweets

        params = context["params"]
        return skip_unless_trainable(
            tweets.check_window(settings().lake_root, partition["ds"], params["window_days"], params["min_rows"])
        )

    cfg = settings()
    source = ["--source", cfg.tweets_source] if cfg.tweets_source else []
    partition = resolve_partition()
    curate = job_task("curate_tweets", source)
    embed = job_task("embed_tweets")
    train = job_task("train_tweet_engagement")
    chain(partition, curate, check_tweets(partition), embed, check_window(partition), train)


validate_hand_offs(tweet_engagement_daily())
