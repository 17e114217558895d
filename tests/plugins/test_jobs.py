"""Every job is declared once (``shoplake_airflow.jobs``): its name is its file's stem, its task id and its step."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


def test_every_job_file_is_declared_and_every_declaration_names_its_file_config_and_step():
    from shoplake_airflow.jobs import JOBS

    files = {p.relative_to(ROOT).as_posix() for p in (ROOT / "jobs").glob("*/*.py")}
    assert {job.path for job in JOBS.values()} == files
    for name, job in JOBS.items():
        text = (ROOT / job.path).read_text()
        call = re.search(r"run_job\(\s*(\w+),\s*(\w+)", text)
        assert call, f"{job.path} calls no run_job"
        assert call.group(1) == job.config.__name__, f"{job.path} parses {call.group(1)}, declared {job.config}"
        assert call.group(2) == name, f"{job.path} runs {call.group(2)}: the step shares the job's name"


@pytest.mark.parametrize(("spark", "train"), [("local", "auto"), ("emr", "sagemaker"), ("local", "spark")])
def test_every_job_task_is_named_after_its_job_file(dagbag_on, spark, train):
    """name = file = task id, on each backend's layout (an EMR task group and SageMaker's are named after the job)."""
    from shoplake_airflow.operators import JobOperator, JobSparkSubmitOperator

    bag = dagbag_on(spark, train)
    checked = 0
    for dag in bag.dags.values():
        for task in dag.tasks:
            if isinstance(task, JobOperator):
                path = task.argv[1]
            elif isinstance(task, JobSparkSubmitOperator):
                path = task.application
            elif type(task).__name__ == "EmrAddStepsOperator":
                path = next(a for a in task.steps[0]["HadoopJarStep"]["Args"] if a.endswith(".py"))
            else:
                continue
            checked += 1
            assert task.task_id.split(".")[0] == Path(path).stem, f"{dag.dag_id}.{task.task_id} runs {path}"
    assert checked >= 25


def test_a_dags_params_are_its_jobs_declared_params():
    from shoplake_airflow.jobs import job_params

    params = job_params("train_recommenders", "train_engagement_model")
    assert {"window_days", "seed", "k", "engagement_model"} <= set(params)  # shared ones once
    with pytest.raises(KeyError):
        job_params("train_model")  # an old task id names no job


def test_a_declaration_with_an_unknown_param_or_backend_is_refused():
    from shoplake.pipelines.churn import ChurnJobConfig
    from shoplake_airflow.jobs import Job

    with pytest.raises(ValueError, match="no fields of ChurnJobConfig"):
        Job("predict_churn", ChurnJobConfig, "spark", ("windowdays",))
    with pytest.raises(ValueError, match="backend 'ray'"):
        Job("predict_churn", ChurnJobConfig, "ray")


def test_every_job_that_tracks_in_mlflow_gets_the_deployments_uri_once_and_no_other_job_does(dagbag_on, monkeypatch):
    import dataclasses

    from shoplake_airflow.jobs import JOBS
    from shoplake_airflow.operators import JobOperator, JobSparkSubmitOperator

    monkeypatch.setenv("SHOPLAKE_MLFLOW_TRACKING_URI", "http://mlflow.internal:5000")
    bag = dagbag_on("local", "auto")
    tracked = 0
    for dag in bag.dags.values():
        for task in dag.tasks:
            if not isinstance(task, JobOperator | JobSparkSubmitOperator):
                continue
            argv = task.argv if isinstance(task, JobOperator) else task.application_args
            flags = [a for a in argv if a.startswith("--mlflow-uri")]
            config = JOBS[task.task_id].config
            if "mlflow_uri" in {f.name for f in dataclasses.fields(config)}:
                assert flags == ["--mlflow-uri=http://mlflow.internal:5000"], (dag.dag_id, task.task_id)
                tracked += 1
            else:
                assert flags == [], (dag.dag_id, task.task_id)
    assert tracked >= 8  # the trainings (and the churn jobs, whose one config carries the field)
