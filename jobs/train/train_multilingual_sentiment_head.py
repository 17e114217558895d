"""Train shoplake's multilingual sentiment model → model/sentiment_multilingual/version=<ds>/ (+ current.json).

    python jobs/train/train_multilingual_sentiment_head.py --ds 2019-03-03 --lake-root ./lake --window-days 28

The step ``shoplake.pipelines.sentiment_model.train_sentiment_head`` with ``--encoder use-multilingual-v3`` (the
packaged Universal Sentence Encoder multilingual v3, numpy on the CPU): a head for every language the English head
does not serve (the ``*`` route). Its own entry point so that the DAG task, the file and the job share one name
beside ``train_sentiment_head``. Flags: ``--help`` (``shoplake.pipelines.sentiment_model.SentimentTrainConfig``).
"""

from shoplake.jobconfig import run_job, run_main
from shoplake.ml.sentiment.multilingual import USE_MULTILINGUAL
from shoplake.pipelines.sentiment_model import SentimentTrainConfig, train_sentiment_head


def main(argv=None) -> dict:
    import sys

    argv = sys.argv[1:] if argv is None else argv
    return run_job(SentimentTrainConfig, train_sentiment_head, [f"--encoder={USE_MULTILINGUAL}", *argv], doc=__doc__)


if __name__ == "__main__":
    run_main(main)
