"""Train shoplake's default sentiment model → model/sentiment_head/version=<ds>/ (+ current.json, updated last).

    python jobs/train/train_sentiment_head.py --ds 2019-03-03 --lake-root ./lake --window-days 28
    python jobs/train/train_sentiment_head.py --ds 2019-03-06 --lake-root ./lake --steam-source DIR  # cold start

Embeds labelled reviews (``voted_up``) of the window with all-MiniLM-L6-v2, fits a logistic-regression head on the
older 80 % (by creation time), evaluates on the newest 20 % against VADER and publishes the version;
``current.json`` moves only if its held-out AUC is not worse. Flags: ``--help``
(``shoplake.pipelines.sentiment_model.SentimentTrainConfig``); the step:
``shoplake.pipelines.sentiment_model.train_sentiment_head``.
"""

from shoplake.jobconfig import run_job, run_main
from shoplake.pipelines.sentiment_model import SentimentTrainConfig, train_sentiment_head


def main(argv=None) -> dict:
    return run_job(SentimentTrainConfig, train_sentiment_head, argv, doc=__doc__)


if __name__ == "__main__":
    run_main(main)
