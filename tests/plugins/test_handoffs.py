"""Hand-offs between tasks are validated when a DAG parses (``shoplake_airflow.handoffs``)."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest

DAGS = Path(__file__).resolve().parents[2] / "dags"

PRODUCER_RENAMED = """
    from airflow.providers.standard.operators.bash import BashOperator
    from airflow.sdk import DAG

    from shoplake_airflow.handoffs import pulled, validate_hand_offs

    with DAG("handoff_{name}", schedule=None, description="hand-off", tags=["lake"]) as dag:
        export = BashOperator(task_id="{producer}", bash_command="echo 1")
        train = BashOperator(task_id="train", bash_command={template})
        export >> train
    validate_hand_offs(dag)
"""


def _bag(tmp_path: Path, **fields: str):
    from airflow.dag_processing.dagbag import DagBag

    (tmp_path / f"{fields['name']}.py").write_text(textwrap.dedent(PRODUCER_RENAMED.format(**fields)))
    return DagBag(dag_folder=str(tmp_path))


def test_a_renamed_producer_fails_the_dag_at_parse_not_at_run(tmp_path):
    """A consumer whose template still names the producer's old id: the file does not import, the error names it."""
    stale = "\"echo {{ ti.xcom_pull(task_ids='export_channels')['scale_pos_weight'] }}\""
    bag = _bag(tmp_path, name="stale", producer="export_training_channels", template=stale)
    assert "handoff_stale" not in bag.dags
    (error,) = bag.import_errors.values()
    assert "HandOffError" in error
    assert "'export_channels': no such task" in error


def test_a_pull_from_a_task_that_runs_after_the_reader_fails_too(tmp_path):
    from airflow.providers.standard.operators.bash import BashOperator
    from airflow.sdk import DAG

    from shoplake_airflow.handoffs import HandOffError, pulled, validate_hand_offs

    with DAG("handoff_order", schedule=None) as dag:
        first = BashOperator(task_id="first", bash_command="echo 1")
        later = BashOperator(task_id="later", bash_command="echo 2")
        first.bash_command = f"echo {pulled(later)}"
        first >> later
    with pytest.raises(HandOffError, match="'later', which is not upstream of it"):
        validate_hand_offs(dag)


def test_templates_built_from_the_producer_follow_its_rename(tmp_path):
    """``pulled(producer)`` spells the producer's id from the operator: renaming the producer needs no other edit."""
    template = "f\"echo {pulled(export, 'scale_pos_weight')}\""
    bag = _bag(tmp_path, name="follows", producer="export_training_channels", template=template)
    assert bag.import_errors == {}
    command = bag.dags["handoff_follows"].get_task("train").bash_command
    assert "task_ids='export_training_channels'" in command
    assert "['scale_pos_weight']" in command


@pytest.mark.parametrize(("spark", "train"), [("emr", "sagemaker"), ("local", "auto"), ("local", "spark")])
def test_every_dag_hands_off_cleanly_on_every_backend(dagbag_on, spark, train):
    """EMR's step id, SageMaker's artifact and scale_pos_weight, the run's partition: every templated pull names a
    task upstream of its reader, on each backend's task layout."""
    from shoplake_airflow.handoffs import hand_off_problems

    bag = dagbag_on(spark, train)
    pulls = 0
    for dag in bag.dags.values():
        assert hand_off_problems(dag) == []
        pulls += sum("xcom_pull" in str(getattr(t, f, "")) for t in dag.tasks for f in t.template_fields)
    assert pulls > 0  # the check saw templated hand-offs to validate
    if train == "sagemaker":
        group = bag.dags["steam_purchase_model_weekly"].task_group_dict["train_purchase_model"].children
        assert "train_purchase_model.export_channels" in str(group["train_purchase_model.train"].config)
