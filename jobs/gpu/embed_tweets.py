"""Entry point, tweets step ``embed_tweets``: sentence embeddings of a day's curated tweets (offline MiniLM).

    python jobs/gpu/embed_tweets.py --ds 2022-12-22 --lake-root ./lake

Flags: ``--help`` (``shoplake.pipelines.tweets.EmbedConfig``); the step: ``shoplake.pipelines.tweets.embed_tweets``.
"""

from shoplake.jobconfig import run_job, run_main
from shoplake.pipelines.tweets import EmbedConfig, embed_tweets


def main(argv=None) -> dict:
    return run_job(EmbedConfig, embed_tweets, argv, doc=__doc__)


if __name__ == "__main__":
    run_main(main)
