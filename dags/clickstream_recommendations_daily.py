"""
### clickstream_recommendations_daily — curated clickstream → four recommenders and engagement levels

**Purpose.** Personalised and "similar product" recommendations from the shop clickstream (view / cart /
remove_from_cart / purchase events), four recommenders compared on the same held-out users.

**Inputs.** `curated/clickstream_events/ds=…` for the `window_days` days ending at the run's day — curated once, by
`clickstream_churn_daily`'s `curate_churn_source` (this DAG never curates).

**Schedule.** Data-aware: each `curated.clickstream_events` event (a curated day, its `ds` in the event) triggers a
run for that day. Manual runs name the day with the `ds` Param. Events that arrive before a queued run starts are
folded into it by Airflow: the run processes the oldest day and `run_other_event_days` triggers a run for each other.

**Steps** (`ds` = the event's day, the `ds` Param, or the data interval's last day):
1. `check_window` — the window has curated partitions and at least `min_test_users` users with two or more
   products; otherwise the run ends *skipped* with the reason (not failed, not retried).
2. `train_recommenders` (Spark) — leave-last-out split by time; implicit weights per event type
   (`event_weights`); item-item cosine CF on a sparse user × product matrix (top `k` per product, scores);
   FP-Growth on sessions (itemsets and rules with support, confidence, lift); implicit ALS (top `k` per user); a
   popularity baseline. Precision/Recall/NDCG@k, hit rate and coverage per recommender → `enriched/recs_*/ds=` and
   `model/recommender/version=<ds>/` (tables, ALS model, `metrics.json`, comparison CSV/PNG); MLflow
   run + registered model `recommender` (the ALS factors). `current.json` moves last, only if the best
   recommender's NDCG@k is not below the champion's re-scored on the same held-out users.
3. `check_recommendations` — quality checks: scores in [0, 1], no product recommends itself, at most `k` ranked
   rows per product, rule confidence and lift recomputed from the itemsets, no user or product from outside the
   window, all four recommenders in `metrics.json`. Emits the `enriched.recs_*` and model Assets.

4. `build_product_review_map` (Spark, beside the recommenders) — the window's clickstream products ↔ the brands of
   `curated/product_catalog` (normalised brand name; category where it lines up; a conflicting category is no match)
   with each brand's review count, mean rating and share of 4–5 stars from `curated/product_reviews` up to `ds`
   (`product_reviews_daily` writes both) → `curated/product_review_map/ds=` with its coverage in the commit's counts.
5. `train_engagement_model` (Spark) — one row per user × product × session with its
   engagement level (0 low = view only, 1 medium = cart, 2 disengaged = removed from cart, 3 high = purchased; the
   furthest stage wins) and structured features; the newest `test_fraction` of rows held out by session start; a
   Spark MLlib classifier (`engagement_model`) with balanced class weights; macro-F1, per-class F1 and a confusion
   matrix beside the majority baseline; the map's brand review figures join as features where any product has
   them → `enriched/clickstream_engagement{,_predictions}/ds=` and
   `model/clickstream_engagement/version=<ds>/`, gated on macro-F1. `check_engagement` checks and emits them.

**Owner.** data-platform.
"""

from __future__ import annotations

from datetime import timedelta

from airflow.sdk import chain, dag, task

from shoplake_airflow.assets import (
    CURATED_CLICKSTREAM_EVENTS,
    ENGAGEMENT_ASSETS,
    PRODUCT_REVIEW_MAP,
    RECOMMENDER_MODEL,
    RECS_ASSETS,
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

CURATED = CURATED_CLICKSTREAM_EVENTS


@dag(
    schedule=[CURATED],
    **SINCE_HISTORY,
    max_active_runs=1,  # runs gate against each other's champion: one at a time
    description="Clickstream recommendations (item-item CF, FP-Growth, ALS, popularity) and engagement levels",
    tags=["clickstream", "recommendations", "training", "spark", "mllib"],
    default_args={"owner": "data-platform", "retries": 2, "retry_delay": timedelta(minutes=2)},
    params={
        "ds": ds_param("last day of the window"),
        **job_params("train_recommenders", "train_engagement_model"),
    },
    doc_md=__doc__,
)
def clickstream_recommendations_daily():
    @task(inlets=[CURATED])
    def check_window(partition: dict, **context) -> dict:
        from shoplake.pipelines import recommendations_checks as steps

        params = context["params"]
        return skip_unless_trainable(
            steps.check_window(settings().lake_root, partition["ds"], params["window_days"], params["min_test_users"])
        )

    @task(outlets=[*RECS_ASSETS.values(), RECOMMENDER_MODEL])
    def check_recommendations(partition: dict, **context) -> dict:
        from shoplake import paths
        from shoplake.pipelines import recommendations_checks as steps

        params, lake = context["params"], settings().lake_root
        with fail_without_retry():  # a failed quality check: retrying rewrites the same tables
            result = steps.check_recommendations(
                lake, partition["ds"], k=params["k"], window_days=params["window_days"]
            )
        ds = partition["ds"]
        for key, asset in RECS_ASSETS.items():
            path = paths.partition_path(lake, paths.Zone.ENRICHED, paths.RECS_DATASETS[key], ds)
            emit_partition_event(context, asset, {**result, "path": path})
        model = {**result, "path": paths.version_path(lake, paths.RECOMMENDER_MODEL, ds)}
        return emit_partition_event(context, RECOMMENDER_MODEL, model)

    @task(outlets=[PRODUCT_REVIEW_MAP, *ENGAGEMENT_ASSETS])
    def check_engagement(partition: dict, **context) -> dict:
        from shoplake import paths
        from shoplake.pipelines import engagement

        lake, ds = settings().lake_root, partition["ds"]
        with fail_without_retry():  # retrying rewrites the same rows
            result = engagement.check_engagement(lake, ds)
        rows, preds, model = ENGAGEMENT_ASSETS
        emit_partition_event(context, rows, result)
        mapped = paths.partition_path(lake, paths.Zone.CURATED, paths.PRODUCT_REVIEW_MAP, ds)
        emit_partition_event(context, PRODUCT_REVIEW_MAP, {**result, "path": mapped})
        path = paths.partition_path(lake, paths.Zone.ENRICHED, paths.ENGAGEMENT_PREDICTIONS, ds)
        emit_partition_event(context, preds, {**result, "path": path})
        model_path = paths.version_path(lake, paths.ENGAGEMENT_MODEL, ds)
        return emit_partition_event(context, model, {**result, "path": model_path})

    partition = resolve_event_partition(
        "clickstream_recommendations_daily"
    )  # days folded into this run get runs of their own
    window = check_window(partition)
    train = job_task("train_recommenders")
    chain(partition, window, train, check_recommendations(partition))
    build_map = job_task("build_product_review_map")
    engagement = job_task("train_engagement_model")
    chain(window, build_map, engagement, check_engagement(partition))


validate_hand_offs(clickstream_recommendations_daily())
