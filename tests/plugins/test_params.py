"""DAG Params come from the library's config fields: same defaults, bounds and descriptions as the job flags."""

import pytest
from airflow.sdk import ParamsDict

from shoplake.jobconfig import parse_job_args
from shoplake.pipelines.churn import ChurnJobConfig
from shoplake.pipelines.purchase_model import PurchaseTrainConfig
from shoplake_airflow.jobs import JOBS
from shoplake_airflow.params import config_params, ds_param

TRAIN_PARAMS = JOBS["train_purchase_model"].params


def test_params_carry_the_fields_defaults_bounds_and_help():
    params = config_params(PurchaseTrainConfig, TRAIN_PARAMS)
    depth = params["max_depth"]
    assert depth.value == PurchaseTrainConfig.__dataclass_fields__["max_depth"].default
    assert (depth.schema["type"], depth.schema["minimum"], depth.schema["maximum"]) == ("integer", 1, 16)
    assert depth.description == PurchaseTrainConfig.__dataclass_fields__["max_depth"].metadata["help"]
    assert params["target"].schema["enum"] == ["steam_purchase", "voted_up"]
    assert params["learning_rate"].schema["type"] == "number"


def test_param_defaults_are_valid_job_flags():
    params = config_params(PurchaseTrainConfig, TRAIN_PARAMS)
    argv = ["--ds", "2019-03-03", "--lake-root", "/l"]
    for name, p in params.items():
        argv += ["--" + name.replace("_", "-"), str(p.value)]
    cfg = parse_job_args(PurchaseTrainConfig, argv, None)
    assert cfg == PurchaseTrainConfig(ds="2019-03-03", lake_root="/l")


def test_the_churn_models_param_is_a_multi_select_of_the_zoo():
    models = config_params(ChurnJobConfig, ("models",))["models"]
    assert models.schema["type"] == "array"
    assert models.schema["items"] == {"enum": ["logistic_regression", "random_forest", "gbt", "linear_svc"]}
    bag = ParamsDict({"models": models})
    bag["models"] = ["gbt"]
    with pytest.raises(ValueError, match="xgboost"):
        bag["models"] = ["xgboost"]  # the form refuses a model the zoo does not have
    with pytest.raises(ValueError, match="non-empty"):
        bag["models"] = []


def test_out_of_range_values_are_refused_by_the_param_as_by_the_job():
    bag = ParamsDict(config_params(ChurnJobConfig, ("folds",)))
    with pytest.raises(ValueError, match="less than the minimum of 2"):
        bag["folds"] = 1
    with pytest.raises(ValueError, match="--folds"):
        ChurnJobConfig(source="telco", ds="2019-01-01", lake_root="/l", folds=1)


def test_the_ds_param_is_optional_and_a_date():
    p = ds_param("the day")
    assert p.value is None
    assert p.schema["format"] == "date"
    assert "data interval" in p.description
