import datetime as dt

import pytest

from shoplake.config import Settings
from shoplake.paths import Zone, partition_path, quarantine_path, validate_ds
from shoplake.window import Window


def test_partition_path_is_exact_for_a_ds():
    assert partition_path("/lake", Zone.RAW, "steam_reviews", "2019-03-01") == "/lake/raw/steam_reviews/ds=2019-03-01"
    assert (
        partition_path("s3://bucket/lake/", "curated", "steam_reviews", "2019-03-01")
        == "s3://bucket/lake/curated/steam_reviews/ds=2019-03-01"
    )
    assert quarantine_path("/lake", "raw", "steam_reviews", "2019-03-01") == (
        "/lake/quarantine/raw_steam_reviews/ds=2019-03-01"
    )


@pytest.mark.parametrize("bad", ["2019-3-1", "2019-02-30", "20190301", "", "2019-03-01/../x"])
def test_bad_ds_is_refused(bad):
    with pytest.raises(ValueError, match=r"ds|day|month"):
        validate_ds(bad)


def test_dataset_names_are_checked():
    with pytest.raises(ValueError, match="lower_snake_case"):
        partition_path("/lake", Zone.RAW, "Steam Reviews", "2019-03-01")
    with pytest.raises(ValueError, match="bronze"):
        partition_path("/lake", "bronze", "steam_reviews", "2019-03-01")


def test_window_from_interval_uses_the_utc_start_date():
    start = dt.datetime(2019, 3, 1, tzinfo=dt.UTC)
    w = Window.from_interval(start, start + dt.timedelta(days=1))
    assert (w.ds, w.start_ts, w.end_ts) == ("2019-03-01", 1551398400, 1551484800)
    assert Window.for_day("2019-03-01") == w
    assert w.last_day == "2019-03-01"
    weekly = Window.from_interval(dt.datetime(2019, 2, 25, 4, tzinfo=dt.UTC), dt.datetime(2019, 3, 4, 4, tzinfo=dt.UTC))
    assert weekly.last_day == "2019-03-03"  # the Sunday: the last whole day before Monday 04:00


def test_window_refuses_naive_and_empty_intervals():
    start = dt.datetime(2019, 3, 1, tzinfo=dt.UTC)
    with pytest.raises(ValueError, match="timezone-aware"):
        Window.from_interval(start.replace(tzinfo=None), start.replace(tzinfo=None))
    with pytest.raises(ValueError, match="empty data interval"):
        Window.from_interval(start, start)


def test_settings_defaults_and_validation(tmp_path):
    cfg = Settings.from_env({"SHOPLAKE_LAKE_ROOT": str(tmp_path / "lk")})
    assert cfg.lake_root == str(tmp_path / "lk")
    assert cfg.spark_backend == "local"
    assert cfg.steam_source_dir.endswith("steam_reviews/reviews")
    assert Settings.from_env({"SHOPLAKE_LAKE_ROOT": "s3://b/lake"}).lake_root == "s3://b/lake"
    assert Settings.from_env({"SHOPLAKE_STEAM_APP_IDS": "10, 730 570"}).steam_app_ids == (10, 730, 570)
    with pytest.raises(ValueError, match="SHOPLAKE_SPARK_BACKEND"):
        Settings.from_env({"SHOPLAKE_SPARK_BACKEND": "yarn"})
    assert cfg.sentiment_engine_args == ["--precision", "auto", "--compile", "false"]
    fast = Settings.from_env({"SHOPLAKE_SENTIMENT_PRECISION": "bf16", "SHOPLAKE_SENTIMENT_COMPILE": "true"})
    assert fast.sentiment_engine_args == ["--precision", "bf16", "--compile", "true"]
    with pytest.raises(ValueError, match="SHOPLAKE_SENTIMENT_PRECISION"):
        Settings.from_env({"SHOPLAKE_SENTIMENT_PRECISION": "fp8"})
    env = {
        "SHOPLAKE_TRAIN_BACKEND": "sagemaker",
        "SHOPLAKE_SAGEMAKER_ROLE_ARN": "arn:x",
        "SHOPLAKE_MLFLOW_TRACKING_URI": "none",
    }
    sm = Settings.from_env(env)
    assert (sm.train_backend, sm.sagemaker.role_arn, sm.mlflow_tracking_uri) == ("sagemaker", "arn:x", "none")


def test_every_setting_is_read_from_its_shoplake_variable():
    import dataclasses

    from shoplake.config import EmrSettings, SageMakerSettings, ServeSettings

    env = {"SHOPLAKE_LAKE_ROOT": "s3://b/lake"}
    expected = {}
    for f in dataclasses.fields(Settings):
        if f.name in ("lake_root", "churn_sources", "emr", "sagemaker", "serve", "steam_app_ids"):
            continue
        name = f.metadata.get("env") or f"SHOPLAKE_{f.name.upper()}"
        typed = {"spark_backend": "emr", "train_backend": "spark", "max_review_chars": "123",
                 "sentiment_precision": "onnx-int8", "sentiment_compile": "true",
                 "spark_train_rows": "5000"}  # fmt: skip
        value = typed.get(f.name, f"x-{f.name}")
        env[name] = value
        expected[f.name] = {"max_review_chars": 123, "sentiment_compile": True, "spark_train_rows": 5000}.get(
            f.name, value
        )
    env["SHOPLAKE_EMR_CORE_INSTANCES"] = "5"
    env["SHOPLAKE_AWS_CONN_ID"] = "aws_lake"
    env["SHOPLAKE_EMR_RELEASE_LABEL"] = "emr-7.9.0"
    env["SHOPLAKE_SAGEMAKER_MAX_RUNTIME_S"] = "60"
    env["SHOPLAKE_TELCO_SOURCE"] = "/data/telco.csv"
    env["SHOPLAKE_SERVE_PORT"] = "8123"
    env["SHOPLAKE_SERVE_POINTER_TTL_S"] = "0.5"
    env["SHOPLAKE_SERVE_CACHE"] = "false"
    cfg = Settings.from_env(env)
    assert cfg.serve == ServeSettings(port=8123, pointer_ttl_s=0.5, cache=False)
    assert "x-api_key" not in repr(cfg)  # the API key never reaches a log through repr
    assert {k: getattr(cfg, k) for k in expected} == expected
    assert cfg.emr == EmrSettings(core_instance_count=5, aws_conn_id="aws_lake", release_label="emr-7.9.0")
    assert cfg.sagemaker == SageMakerSettings(max_runtime_s=60)
    assert cfg.churn_source("telco") == "/data/telco.csv"
    assert cfg.churn_source("sparkify").endswith("sparkify_log_data")
    # empty means "not set": the default applies
    assert Settings.from_env({"SHOPLAKE_SENTIMENT_MODEL": ""}).sentiment_model == Settings.sentiment_model


def test_the_model_map_routes_english_and_every_other_language():
    from shoplake.config import Settings

    base = {"SHOPLAKE_SENTIMENT_MODEL": "org/en-model", "SHOPLAKE_SENTIMENT_REVISION": "r1"}
    assert Settings.from_env(base).sentiment_model_map == "en=org/en-model@r1"  # other languages: no route
    both = {**base, "SHOPLAKE_SENTIMENT_MULTILINGUAL_MODEL": "/l/model/sentiment_multilingual"}
    assert Settings.from_env(both).sentiment_model_map == "en=org/en-model@r1,*=/l/model/sentiment_multilingual"
    lake_head = {**base, "SHOPLAKE_SENTIMENT_MODEL": "/l/model/sentiment_head"}  # a directory carries its own version
    assert Settings.from_env(lake_head).sentiment_model_map == "en=/l/model/sentiment_head"
    explicit = {**both, "SHOPLAKE_SENTIMENT_MODELS": "en=a@1,de=b@2"}  # the map, when set, is the whole routing
    assert Settings.from_env(explicit).sentiment_model_map == "en=a@1,de=b@2"


def test_the_catalog_names_every_dataset_once():
    from shoplake.paths import churn_names, version_path, window_days, window_partitions

    assert churn_names("telco") == ("telco_customers", "telco_churn_features", "telco_churn_predictions", "telco_churn")
    with pytest.raises(ValueError, match="churn source"):
        churn_names("crm")
    assert window_days("2019-03-01", 3) == ["2019-02-27", "2019-02-28", "2019-03-01"]
    assert window_partitions("/l", Zone.CURATED, "steam_reviews", "2019-01-01", 2) == [
        "/l/curated/steam_reviews/ds=2018-12-31",
        "/l/curated/steam_reviews/ds=2019-01-01",
    ]
    assert (
        version_path("s3://b/l", "steam_purchase", "2019-03-03") == "s3://b/l/model/steam_purchase/version=2019-03-03"
    )


def test_options_bound_the_job_flags_and_the_params_alike():
    from shoplake.jobconfig import parse_job_args
    from shoplake.pipelines.purchase_model import PurchaseTrainConfig

    base = ["--ds", "2019-03-03", "--lake-root", "/l"]
    assert parse_job_args(PurchaseTrainConfig, [*base, "--max-depth", "16"], None).max_depth == 16
    with pytest.raises(ValueError, match=r"--max-depth \(max_depth\) must be <= 16, got 17"):
        parse_job_args(PurchaseTrainConfig, [*base, "--max-depth", "17"], None)
    with pytest.raises(ValueError, match=r"--target .* must be one of"):
        PurchaseTrainConfig(ds="2019-03-03", lake_root="/l", target="refund")
    with pytest.raises(ValueError, match="ds must be"):
        PurchaseTrainConfig(ds="2019-3-3", lake_root="/l")
