from pathlib import Path

import pendulum

DAGS = Path(__file__).resolve().parents[2] / "dags"


def test_training_task_renders_the_window_end_and_params():
    from airflow.dag_processing.dagbag import DagBag
    from airflow.sdk.execution_time import macros

    dag = DagBag(dag_folder=str(DAGS)).dags["sentiment_model_weekly"]
    task = dag.get_task("train_sentiment_head")
    assert (task.queue, task.pool) == ("gpu", "gpu")
    assert [a.name for a in task.outlets] == ["model.sentiment_head"]
    params = {"window_days": 14, "c": 2.0, "seed": 7}
    context = {"data_interval_end": pendulum.datetime(2019, 3, 4, 3, tz="UTC"), "macros": macros, "params": params}
    task.render_template_fields(context, jinja_env=dag.get_template_env())
    cmd = task.bash_command
    assert "jobs/train/train_sentiment_head.py --ds 2019-03-03 " in cmd
    assert "--window-days 14 --c 2.0 --seed 7" in cmd
