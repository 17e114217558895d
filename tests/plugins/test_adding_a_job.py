"""docs/architecture.md "Adding a job", followed as written with a new job, then run through its task."""

from __future__ import annotations

import datetime as dt
import os
import sys
import textwrap

STEP_MODULE = '''
from dataclasses import dataclass

from shoplake.jobconfig import PartitionJob, option


@dataclass(frozen=True, kw_only=True)
class WordCountConfig(PartitionJob):
    """Arguments of jobs/train/count_words.py."""

    ds: str = option(help="partition date YYYY-MM-DD")
    words: str = option("a b c", help="the words to count, space-separated", pattern=r"^[a-z ]+$")
    min_length: int = option(1, help="count only words this long or longer", minimum=1)


def count_words(cfg: WordCountConfig) -> dict:
    return {"ds": cfg.ds, "rows": sum(len(w) >= cfg.min_length for w in cfg.words.split())}
'''

SHIM = '''"""Count the words of a Param (the worked example of docs/architecture.md "Adding a job").

    python jobs/train/count_words.py --ds 2026-01-01 --lake-root ./lake --words "a bb ccc"
"""

from shoplake.jobconfig import run_job, run_main
from word_count import WordCountConfig, count_words


def main(argv=None) -> dict:
    return run_job(WordCountConfig, count_words, argv, doc=__doc__)


if __name__ == "__main__":
    run_main(main)
'''


def test_a_new_job_declared_as_the_docs_say_runs_as_its_own_task_with_its_params(tmp_path, monkeypatch):
    from airflow.sdk import DAG

    from shoplake.config import Settings
    from shoplake_airflow import jobs
    from shoplake_airflow.operators import JobOperator
    from shoplake_airflow.params import ds_param

    # 1. the step and its config (a pipeline module: here on a temporary path)
    (tmp_path / "word_count.py").write_text(textwrap.dedent(STEP_MODULE))
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.setenv("PYTHONPATH", os.pathsep.join([str(tmp_path), *sys.path]))
    from word_count import WordCountConfig

    # 2. the shim, named after the job
    (tmp_path / "jobs" / "train").mkdir(parents=True)
    (tmp_path / "jobs" / "train" / "count_words.py").write_text(SHIM)
    # 3. the declaration
    monkeypatch.setitem(
        jobs.JOBS, "count_words", jobs.Job("count_words", WordCountConfig, "cpu", ("words", "min_length"))
    )
    # 4. the DAG: its Params from the job, its task named by the job
    cfg = Settings(lake_root=str(tmp_path / "lake"), jobs_root=str(tmp_path))
    start = dt.datetime(2026, 1, 1, tzinfo=dt.UTC)
    with DAG(
        "word_counts", schedule=None, start_date=start, params={"ds": ds_param(), **jobs.job_params("count_words")}
    ):
        task = jobs.job_task("count_words", ds="2026-01-01", cfg=cfg)
    assert isinstance(task, JobOperator)
    assert task.task_id == "count_words"
    assert task.argv[1] == str(tmp_path / "jobs" / "train" / "count_words.py")
    assert task.dag.params.get_param("words").schema["pattern"] == r"^[a-z ]+$"

    task.render_template_fields({"params": {"words": "a bb ccc", "min_length": 2}})
    assert task.argv[-2:] == ["--words=a bb ccc", "--min-length=2"]
    assert task.execute({}) == {"ds": "2026-01-01", "rows": 2}
