from pathlib import Path

import pendulum

DAGS = Path(__file__).resolve().parents[2] / "dags"


class FakeTI:
    def xcom_pull(self, task_ids=None, key="return_value", **_):
        assert task_ids == "resolve_partition"
        return {"ds": "2019-03-03"}


def test_training_task_renders_the_window_end_and_params():
    from airflow.dag_processing.dagbag import DagBag

    from shoplake_airflow.context import resolve_ds

    dag = DagBag(dag_folder=str(DAGS)).dags["sentiment_model_weekly"]
    task = dag.get_task("train_sentiment_head")
    assert (task.queue, task.pool) == ("gpu", "gpu")
    assert [a.name for a in task.outlets] == ["model.sentiment_head"]
    assert task.upstream_task_ids == {"resolve_partition"}
    interval = {"data_interval_start": pendulum.datetime(2019, 2, 25, 3, tz="UTC")}
    interval["data_interval_end"] = pendulum.datetime(2019, 3, 4, 3, tz="UTC")
    assert resolve_ds({**interval, "params": {"ds": None}}) == "2019-03-03"  # the week's last whole day
    params = {"window_days": 14, "c": 2.0, "seed": 7, "min_negatives": 50}
    task.render_template_fields({"ti": FakeTI(), "params": params}, jinja_env=dag.get_template_env())
    argv = task.argv
    assert argv[1].endswith("jobs/train/train_sentiment_head.py")
    assert argv[2] == "--ds=2019-03-03"
    assert argv[-4:] == ["--window-days=14", "--c=2.0", "--seed=7", "--min-negatives=50"]


def test_the_multilingual_head_trains_beside_it_on_the_cpu_queue():
    from airflow.dag_processing.dagbag import DagBag

    dag = DagBag(dag_folder=str(DAGS)).dags["sentiment_model_weekly"]
    task = dag.get_task("train_multilingual_sentiment_head")
    assert task.queue != "gpu"
    assert task.pool != "gpu"
    assert [a.name for a in task.outlets] == ["model.sentiment_multilingual"]
    assert task.upstream_task_ids == {"resolve_partition"}
    params = {"window_days": 14, "c": 2.0, "seed": 7, "min_negatives": 50}
    task.render_template_fields({"ti": FakeTI(), "params": params}, jinja_env=dag.get_template_env())
    assert task.argv[1].endswith("jobs/train/train_multilingual_sentiment_head.py")
    assert task.argv[-1] == "--min-negatives=50"


def test_a_run_with_a_mistyped_conf_key_fails_once_naming_the_known_keys(airflow_db):
    """{"windowdays": 7} used to be ignored silently; now the run stops before any work, without retries."""
    from airflow.dag_processing.dagbag import DagBag

    dag = DagBag(dag_folder=str(DAGS)).dags["sentiment_model_weekly"]
    dr = dag.test(logical_date=pendulum.datetime(2019, 3, 4, 3, tz="UTC"), run_conf={"windowdays": 7})
    tis = {ti.task_id: ti for ti in dr.get_task_instances()}
    assert dr.state == "failed"
    assert (tis["resolve_partition"].state, tis["resolve_partition"].try_number) == ("failed", 1)
    assert tis["train_sentiment_head"].state == "upstream_failed"
    assert tis["train_multilingual_sentiment_head"].state == "upstream_failed"
