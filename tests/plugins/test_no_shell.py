"""No Param value ever reaches a shell: jobs start as argument lists, string Params are bounded, path Params are
checked by the job (issue: a trigger's ``encoder`` ran ``$(…)`` on the worker)."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
DAGS = ROOT / "dags"
CANARY = "/tmp/shoplake-no-shell-canary"
#: what a user with the "User" role might type into the encoder field of the trigger form
HOSTILE = [
    f"minilm; touch {CANARY}",
    f"$(touch {CANARY})minilm",
    f"`touch {CANARY}`minilm",
    f"minilm\ntouch {CANARY}",
    "minilm' --lake-root '/elsewhere",
    "my encoder",
    f"/tmp/enc; touch {CANARY}",
    f"/tmp/$(touch {CANARY})",
    f"/tmp/`touch {CANARY}`",
    "/tmp/it's here",
    "/tmp/with space",
]


@pytest.fixture(scope="module")
def dagbag():
    from airflow.dag_processing.dagbag import DagBag

    bag = DagBag(dag_folder=str(DAGS))
    assert bag.import_errors == {}
    return bag


@pytest.fixture(autouse=True)
def no_canary():
    Path(CANARY).unlink(missing_ok=True)
    yield
    assert not Path(CANARY).exists(), "a Param value ran as a command"


def _validate(dag, conf: dict) -> dict:
    """The check a trigger's conf passes before a run is created (Airflow merges it into the DAG's Params)."""
    import copy

    params = copy.deepcopy(dag.params)
    for key, value in conf.items():
        params.get_param(key).value = value
    return params.validate()


def _param_values(dag, value: str) -> dict:
    """Every string Param of ``dag`` set to ``value`` (the others at their defaults)."""
    params = {k: dag.params.get_param(k).value for k in dag.params}
    for name in dag.params:
        kind = dag.params.get_param(name).schema.get("type")
        if kind == "string" or (isinstance(kind, list) and "string" in kind and name != "ds"):
            params[name] = value
    return params


def _render(task, params: dict):
    """A copy of ``task`` with its template fields rendered for a run with ``params``."""
    import copy

    from airflow.sdk.execution_time import macros

    task = copy.copy(task)

    class TI:
        def xcom_pull(self, task_ids=None, key="return_value", **_):
            return {"ds": "2026-02-25", "scale_pos_weight": 1.0, "Training": {}}

    task.render_template_fields({"params": params, "ti": TI(), "macros": macros, "ds": "2026-02-25"})
    return task


def test_no_dag_task_runs_a_shell_and_every_job_gets_each_value_as_one_argument(dagbag):
    """Every task of every DAG: no BashOperator, nothing with a ``bash_command``; a job task's argv is a list, and a
    hostile value given to every string Param reaches the job as one whole argument (``--flag=<value>``)."""
    from airflow.providers.standard.operators.bash import BashOperator

    from shoplake_airflow.operators import JobOperator, JobSparkSubmitOperator

    jobs = seen = 0
    for dag in dagbag.dags.values():
        for task in dag.tasks:
            assert not isinstance(task, BashOperator), f"{dag.dag_id}.{task.task_id} is a BashOperator"
            assert not hasattr(task, "bash_command"), f"{dag.dag_id}.{task.task_id} has a bash_command"
            if not isinstance(task, JobOperator | JobSparkSubmitOperator):
                continue
            jobs += 1
            for value in HOSTILE[:5]:
                params = _param_values(dag, value)
                rendered = _render(task, params)
                argv = rendered.argv if isinstance(task, JobOperator) else rendered.application_args
                assert isinstance(argv, list), (dag.dag_id, task.task_id)
                for a in argv:
                    assert isinstance(a, str)
                    if value in a:  # a templated Param: the whole value, as one argument, after its own flag
                        assert a.startswith("--"), (dag.dag_id, task.task_id, a)
                        assert a.endswith("=" + value), (dag.dag_id, task.task_id, a)
                        seen += 1
    assert jobs >= 20  # the walk saw the job tasks
    assert seen >= 5 * 3  # and hostile values reaching them (encoder, event_weights, churn_pages)


@pytest.mark.parametrize("value", HOSTILE)
def test_a_hostile_encoder_fails_validation_naming_the_param_or_reaches_the_job_literally(dagbag, value):
    """The trigger form's check (the Param's pattern) refuses names that are neither a known encoder nor an absolute
    path; an absolute path passes it, and the job then receives it as the literal string."""
    from airflow.sdk.exceptions import ParamValidationError

    dag = dagbag.dags["product_review_sentiment"]
    if not value.startswith("/"):
        with pytest.raises(ParamValidationError, match="encoder"):
            _validate(dag, {"encoder": value})
        return
    _validate(dag, {"encoder": value})
    task = _render(dag.get_task("train_review_sentiment"), _param_values(dag, "minilm") | {"encoder": value})
    assert f"--encoder={value}" in task.argv
    from shoplake_airflow.operators import JobOperator

    echo = JobOperator(
        task_id="echo",
        argv=[sys.executable, "-c", "import json, sys; print(json.dumps({'argv': sys.argv[1:]}))", *task.argv[2:]],
    )
    assert echo.execute({})["argv"] == task.argv[2:]  # the job's argv is exactly the list: nothing expanded


@pytest.mark.parametrize("value", [v for v in HOSTILE if v.startswith("/")])
def test_the_training_job_refuses_an_encoder_path_outside_its_roots_without_running_anything(tmp_path, value):
    """The real job, started as the DAG starts it: an encoder path that is no allowed directory fails once (exit 3,
    not retried) with a message saying what to give."""
    from airflow.sdk.exceptions import AirflowFailException

    from shoplake_airflow.operators import JobOperator

    job = JobOperator(
        task_id="train_review_sentiment",
        argv=[sys.executable, str(ROOT / "jobs/train/train_review_sentiment.py"), "--ds=2026-02-25",
              f"--lake-root={tmp_path}", f"--model-cache={tmp_path / 'cache'}", f"--encoder={value}"],
    )  # fmt: skip
    with pytest.raises(AirflowFailException, match="not retried"):
        job.execute({})


def test_an_encoder_directory_under_an_allowed_root_is_accepted_and_others_say_what_to_give(tmp_path):
    from shoplake.pipelines.review_sentiment import ReviewSentimentTrainConfig

    enc = tmp_path / "encoders" / "my encoder"
    enc.mkdir(parents=True)
    (enc / "config.json").write_text("{}")
    base = {"ds": "2026-02-25", "lake_root": str(tmp_path), "model_cache": str(tmp_path / "cache")}
    cfg = ReviewSentimentTrainConfig(**base, encoder=str(enc), encoder_roots=(str(tmp_path / "encoders"),))
    assert cfg.encoder == str(enc)
    with pytest.raises(ValueError, match="SHOPLAKE_ENCODER_ROOTS"):
        ReviewSentimentTrainConfig(**base, encoder=str(enc))
    (tmp_path / "encoders" / "escape").symlink_to(tmp_path / "elsewhere")
    (tmp_path / "elsewhere").mkdir()
    with pytest.raises(ValueError, match="not under an allowed directory"):  # a link out of the root is followed
        ReviewSentimentTrainConfig(**base, encoder=str(tmp_path / "encoders" / "escape"), encoder_roots=(
            str(tmp_path / "encoders"),))  # fmt: skip
    with pytest.raises(ValueError, match="does not match"):
        ReviewSentimentTrainConfig(**base, encoder="$(id)")


@pytest.mark.parametrize(
    ("dag_id", "conf"),
    [
        ("clickstream_recommendations_daily", {"event_weights": "view=1;rm -rf /"}),
        ("sparkify_churn_daily", {"churn_pages": "Cancel$(id)"}),
        ("steam_reviews_daily", {"ds": "2019-03-01$(id)"}),
    ],
)
def test_other_free_text_params_are_bounded_by_a_pattern(dagbag, dag_id, conf):
    from airflow.sdk.exceptions import ParamValidationError

    dag = dagbag.dags[dag_id]
    _validate(dag, {})  # the defaults pass
    with pytest.raises(ParamValidationError, match=next(iter(conf))):
        _validate(dag, conf)


def test_every_string_param_has_an_enum_or_a_pattern(dagbag):
    for dag in dagbag.dags.values():
        for name in dag.params:
            schema = dag.params.get_param(name).schema
            kind = schema.get("type")
            if kind == "string" or (isinstance(kind, list) and "string" in kind):
                assert "enum" in schema or "pattern" in schema, f"{dag.dag_id}: Param {name} is free text"
