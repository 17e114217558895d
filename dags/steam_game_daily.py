"""
### steam_game_daily — a day of Steam reviews summarised by game

**Purpose.** One row per game of a day's reviews (`enriched/steam_game_daily/ds=…`): reviews, the share
recommending the game and bought on Steam, mean sentiment, median author playtime, English share — the table
analysts and dashboards read instead of the review rows.

**Schedule.** Data-aware: each `enriched.steam_purchase_features` event (a day of features from
`steam_reviews_daily`) triggers a run for that day; days folded into one run get runs of their own.

**Steps.**
0. `resolve_partition` — decides `ds` (the same rule in every DAG); `run_other_event_days` triggers the folded days.
1. `build_steam_game_daily` — Spark job: the day's feature rows grouped by game (games under `min_reviews` left
   out, counted in the commit).
2. `check_steam_game_daily` — every feature row counted once, every rate in [0, 1]; emits `enriched.steam_game_daily`.

**Manual runs.** Trigger with `ds` (and `min_reviews`); a rerun replaces that day.

**Owner.** data-platform.
"""

from __future__ import annotations

from datetime import timedelta

from airflow.sdk import chain, dag, task

from shoplake_airflow.assets import ENRICHED_STEAM_GAME_DAILY, ENRICHED_STEAM_PURCHASE_FEATURES
from shoplake_airflow.context import emit_partition_event, fail_without_retry, resolve_event_partition
from shoplake_airflow.handoffs import validate_hand_offs
from shoplake_airflow.jobs import job_params, job_task
from shoplake_airflow.params import ds_param
from shoplake_airflow.schedules import SINCE_HISTORY
from shoplake_airflow.settings import settings


@dag(
    schedule=[ENRICHED_STEAM_PURCHASE_FEATURES],
    **SINCE_HISTORY,
    max_active_runs=2,
    description="Steam reviews of one day summarised by game: reviews, recommendation and purchase rates, sentiment",
    tags=["steam", "scoring", "spark"],
    default_args={"owner": "data-platform", "retries": 2, "retry_delay": timedelta(minutes=1)},
    params={"ds": ds_param("UTC day whose reviews to summarise"), **job_params("build_steam_game_daily")},
    doc_md=__doc__,
)
def steam_game_daily():
    @task(outlets=[ENRICHED_STEAM_GAME_DAILY])
    def check_steam_game_daily(partition: dict, **context) -> dict:
        from shoplake.pipelines import steam_games

        with fail_without_retry():  # a failed check: rerunning it reads the same rows
            result = steam_games.check_steam_game_daily(settings().lake_root, partition["ds"])
        return emit_partition_event(context, ENRICHED_STEAM_GAME_DAILY, result)

    partition = resolve_event_partition("steam_game_daily")
    build = job_task("build_steam_game_daily")
    chain(partition, build, check_steam_game_daily(partition))


validate_hand_offs(steam_game_daily())
