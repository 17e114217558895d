"""spark-submit entry point, Steam games step ``build_steam_game_daily``: a day's reviews by game → enriched/.

    spark-submit jobs/spark/build_steam_game_daily.py --ds 2019-03-01 --lake-root ./lake

Flags: ``--help`` (``shoplake.pipelines.steam_games.GameDailyConfig``); the step:
``shoplake.pipelines.steam_games.build_steam_game_daily``.
"""

from shoplake.jobconfig import run_job, run_main
from shoplake.pipelines.steam_games import GameDailyConfig, build_steam_game_daily


def main(argv=None, spark=None) -> dict:
    return run_job(GameDailyConfig, build_steam_game_daily, argv, doc=__doc__, spark=spark, with_spark=True)


if __name__ == "__main__":
    run_main(main)
