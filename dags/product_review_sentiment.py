"""
### product_review_sentiment — product reviews in five sentiment classes, judged against their star ratings

**Purpose.** Very negative … very positive for every product review, evaluated against the reviewer's own stars,
the results published as CSV + Parquet for the people and systems that read them.

**Inputs.** `curated/product_reviews/ds=…` — curated by `product_reviews_daily` (one partition per submission day,
the incentive disclosure taken off the text and kept as a flag); this DAG never curates.

**Schedule.** Data-aware: a `curated.product_reviews` event (a curated day, its `ds` in the event) triggers a run
for that day. Manual runs name the day with the `ds` Param. Airflow folds the events that arrive before a queued run
starts into that one run (a backfill of `product_reviews_daily` queues one per day): the run processes the oldest
day and `run_other_event_days` triggers a run (`ds` Param) for each of the others.

**Steps** (`ds` = the event's day or the `ds` Param):
1. `check_curated` — the day has a curated partition; otherwise the run ends *skipped* with the reason.
2. `check_window` — the `window_days` ending `ds` hold at least `min_rows` curated reviews; otherwise training is
   skipped with the reason (scoring still runs on the current model).
3. `train_review_sentiment` (queue/pool `gpu`) — unless the current version is younger than `retrain_days`: the newest
   `test_fraction` of the window's reviews held out; the offline default fits a five-class head on the packaged
   MiniLM embeddings of the older ones (labels = stars); with `SHOPLAKE_REVIEW_SENTIMENT_MODEL=<hub id>@<revision>`
   (e.g. a multilingual five-class model) that model is evaluated and adopted instead. Accuracy, macro-F1,
   per-class F1, quadratic weighted kappa, Spearman, the three-class collapse and a confusion matrix PNG, beside a
   majority baseline and a VADER-binned one, per product where a product has `min_group_rows` held-out reviews →
   `model/review_sentiment/version=<ds>/`; `current.json` moves only if the macro-F1 is not below the champion's on
   the same reviews; MLflow like every model.
4. `score_review_sentiment` (queue/pool `gpu`) — the day's reviews through the current model →
   `enriched/product_review_sentiment/ds=` (stars, predicted class, five probabilities, `positive_prob`, model id,
   revision and version); `check_scores` checks one row per curated review and the value ranges.
5. `publish_results` — the same rows as the Delta table `<SHOPLAKE_RESULTS_ROOT>/product_review_sentiment` (the day
   replaced in one commit) and a CSV export `…/product_review_sentiment_csv/ds=…/part-0.csv` (default
   `<lake>/results`; any lake URI); `check_published` reads both back and compares them.

**Owner.** data-platform.
"""

from __future__ import annotations

from datetime import timedelta

from airflow.sdk import chain, dag, task

from shoplake_airflow.assets import (
    CURATED_PRODUCT_REVIEWS,
    ENRICHED_REVIEW_SENTIMENT,
    REVIEW_SENTIMENT_RESULTS,
)
from shoplake_airflow.context import (
    emit_partition_event,
    fail_without_retry,
    resolve_event_partition,
    skip_unless_trainable,
)
from shoplake_airflow.handoffs import validate_hand_offs
from shoplake_airflow.jobs import job_params, job_task
from shoplake_airflow.params import ds_param
from shoplake_airflow.schedules import SINCE_HISTORY
from shoplake_airflow.settings import settings


@dag(
    schedule=[CURATED_PRODUCT_REVIEWS],
    **SINCE_HISTORY,
    max_active_runs=1,  # runs gate against each other's champion: one at a time
    description="Product reviews in five sentiment classes vs star ratings: train or adopt, score, publish CSV+Parquet",
    tags=["sephora", "reviews", "sentiment", "training", "scoring", "gpu"],
    default_args={"owner": "data-platform", "retries": 2, "retry_delay": timedelta(minutes=2)},
    params={
        "ds": ds_param("UTC submission day of the reviews to score"),
        **job_params("train_review_sentiment"),
    },
    doc_md=__doc__,
)
def product_review_sentiment():
    @task
    def check_curated(partition: dict) -> dict:
        from airflow.sdk.exceptions import AirflowSkipException

        from shoplake.io.lake import existing_partitions
        from shoplake.paths import PRODUCT_REVIEWS, Zone, partition_path

        path = partition_path(settings().lake_root, Zone.CURATED, PRODUCT_REVIEWS, partition["ds"])
        if not existing_partitions([path])[0]:
            raise AirflowSkipException(
                f"no curated product reviews for {partition['ds']} ({path}): run product_reviews_daily for that day"
            )
        return {"ds": partition["ds"], "path": path}

    @task
    def check_window(partition: dict, **context) -> dict:
        from shoplake.pipelines import review_sentiment

        params = context["params"]
        return skip_unless_trainable(
            review_sentiment.check_window(
                settings().lake_root, partition["ds"], params["window_days"], params["min_rows"]
            )
        )

    @task(outlets=[ENRICHED_REVIEW_SENTIMENT])
    def check_scores(partition: dict, **context) -> dict:
        from shoplake.pipelines.review_sentiment import check_scored

        with fail_without_retry(RuntimeError):  # rows missing or out of range: rerunning the check changes nothing
            result = check_scored(settings().lake_root, partition["ds"])
        return emit_partition_event(context, ENRICHED_REVIEW_SENTIMENT, result)

    @task
    def publish_results(partition: dict) -> dict:
        from shoplake.pipelines.review_sentiment import publish

        return publish(settings().lake_root, partition["ds"], settings().results)

    @task(outlets=[REVIEW_SENTIMENT_RESULTS])
    def check_published(partition: dict, published: dict, **context) -> dict:
        from shoplake.pipelines import review_sentiment

        with fail_without_retry(RuntimeError):
            result = review_sentiment.check_published(settings().lake_root, partition["ds"], settings().results)
        return emit_partition_event(context, REVIEW_SENTIMENT_RESULTS, result)

    cfg = settings()
    flags = ["--model-cache", cfg.model_cache]
    flags += [f"--encoder-roots={cfg.encoder_roots}"] if cfg.encoder_roots else []
    flags += ["--model", cfg.review_sentiment_model] if cfg.review_sentiment_model else []
    partition = resolve_event_partition("product_review_sentiment")  # days folded into this run get runs of their own
    curated = check_curated(partition)
    train = job_task("train_review_sentiment", flags)
    score = job_task(
        "score_review_sentiment",
        ["--model-cache", cfg.model_cache, *cfg.sentiment_engine_args],
        trigger_rule="none_failed_min_one_success",  # after training, or without it when it was skipped
    )
    chain(partition, curated, check_window(partition), train, score)
    curated >> score
    published = publish_results(partition)
    chain(score, check_scores(partition), published, check_published(partition, published))


validate_hand_offs(product_review_sentiment())
