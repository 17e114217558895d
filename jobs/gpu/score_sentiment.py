"""GPU worker entry point: curated/steam_reviews/ds=… → enriched/steam_reviews/ds=… (sentiment per review).

    python jobs/gpu/score_sentiment.py --ds 2019-03-01 --lake-root ./lake --models en=./lake/model/sentiment_head
    python jobs/gpu/score_sentiment.py ... --models 'en=./lake/model/sentiment_head,*=org/multi@<commit>'

Each review goes to the model of its language (``*``: every other language); a language without a model gets
null scores and ``sentiment_status = 'unsupported_language'``. Runs in a fresh process (CUDA is initialised
here, never in a forked scheduler worker). Picks CUDA + bf16 when a GPU is visible, else CPU fp32
(``--precision bf16`` on a CPU with native bf16 instructions: about 4.5x one review per call, scores within
0.012). The last stdout line is JSON
``{"ds", "path", "rows", "scored", "unsupported_language", "models"}`` (the task's XCom). Flags: ``--help``
(``shoplake.pipelines.steam_reviews.ScoreConfig``).
"""

from shoplake.jobconfig import run_job, run_main
from shoplake.pipelines.steam_reviews import ScoreConfig, score_sentiment


def main(argv=None) -> dict:
    return run_job(ScoreConfig, score_sentiment, argv, doc=__doc__)


if __name__ == "__main__":
    run_main(main)
