"""The churn DAG factory: where check_features branches, and the job flags each task renders."""

import pytest

from shoplake.jobconfig import parse_job_args
from shoplake.pipelines.churn import ChurnJobConfig
from shoplake_airflow.churn import PREDICT, TRAIN, churn_params, churn_pipeline, next_steps
from shoplake_airflow.settings import settings

DS = "2019-10-01"


class FakeTI:
    def xcom_pull(self, task_ids=None, key="return_value", **_):
        return {"ds": DS}


@pytest.mark.parametrize(
    ("features", "expected"),
    [
        ({"trainable": True, "reason": "", "current_version": None}, [TRAIN, PREDICT]),
        ({"trainable": False, "reason": "0 churned", "current_version": "2019-09-30"}, [PREDICT]),
        ({"trainable": False, "reason": "0 churned", "current_version": None}, []),
    ],
)
def test_check_features_branches_on_labels_and_the_current_model(features, expected):
    assert next_steps(features) == expected


def rendered_args(dag, task_id, **params):
    task = dag.get_task(task_id)
    defaults = {name: dag.params[name] for name in dag.params}
    task.render_template_fields({"ti": FakeTI(), "params": {**defaults, **params}})
    flags, pending = {}, None
    for arg in task.application_args:  # "--flag value" or, for a Param, "--flag=value" (one argument)
        if pending is not None:
            flags[pending], pending = arg, None
        elif "=" in arg:
            key, value = arg.split("=", 1)
            flags[key] = value
        else:
            pending = arg
    assert pending is None
    return flags


def test_jobs_render_the_partition_and_params_into_flags_the_job_parses():
    from airflow.sdk import DAG

    with DAG("clickstream_t", schedule=None, params=churn_params("clickstream")) as dag:
        churn_pipeline("clickstream")
    flags = rendered_args(dag, "train_churn_models", models=["gbt", "linear_svc"], folds=4, label_horizon_hours=2.5)
    assert flags["--ds"] == DS
    assert flags["--lake-root"] == settings().lake_root  # the factory adds --ds and --lake-root
    assert flags["--models"] == "gbt,linear_svc"
    assert (flags["--folds"], flags["--label-horizon-hours"], flags["--window-days"]) == ("4", "2.5", "30")
    assert flags["--source-path"].endswith("rees46_ecommerce_events/*.csv")
    cfg = parse_job_args(ChurnJobConfig, [a for kv in flags.items() for a in kv], None)
    assert cfg.models == ("gbt", "linear_svc")
    assert cfg.label_horizon_hours == 2.5

    predict = rendered_args(dag, "predict_churn")
    assert "--models" not in predict
    assert predict["--source"] == "clickstream"


def test_source_specific_params():
    sparkify = churn_params("sparkify")
    assert sparkify["churn_pages"].value == "Cancellation Confirmation"
    assert "label_horizon_hours" not in sparkify
    assert "window_days" not in churn_params("telco")
    assert churn_params("clickstream", window_days=7)["window_days"].value == 7
