"""Entry point, tweets step ``embed``: sentence embeddings of a day's curated tweets (offline MiniLM).

    python jobs/gpu/embed_tweets.py --ds 2022-12-22 --lake-root ./lake

Flags: ``--help`` (``shoplake.pipelines.tweets.EmbedConfig``); the step: ``shoplake.pipelines.tweets.embed_tweets``.
"""

from shoplake.jobconfig import run_job, run_main
from shoplake.pipelines import tweets


def main(argv=None) -> dict:
    return run_job(tweets.EmbedConfig, tweets.embed_tweets, argv, doc=__doc__)


if __name__ == "__main__":
    run_main(main)
