"""Train shoplake's multilingual sentiment model → model/sentiment_multilingual/version=<ds>/ (+ current.json).

    python jobs/train/train_multilingual_sentiment_head.py --ds 2019-03-03 --lake-root ./lake --window-days 28

The English head's training (``jobs/train/train_sentiment_head.py``) with the packaged Universal Sentence Encoder
multilingual v3 (numpy on the CPU) whatever ``--encoder`` says: the head of every language the English head does
not serve (the ``*`` route). Flags: ``--help`` (``shoplake.pipelines.sentiment_model.SentimentTrainConfig``); the
step: ``shoplake.pipelines.sentiment_model.train_multilingual_sentiment_head``.
"""

from shoplake.jobconfig import run_job, run_main
from shoplake.pipelines.sentiment_model import SentimentTrainConfig, train_multilingual_sentiment_head


def main(argv=None) -> dict:
    return run_job(SentimentTrainConfig, train_multilingual_sentiment_head, argv, doc=__doc__)


if __name__ == "__main__":
    run_main(main)
