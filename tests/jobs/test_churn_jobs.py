"""The churn jobs (curate → features → train → predict) on the real shared samples, through ``main``."""

import json
from pathlib import Path

import pytest

from shoplake.io.lake import read_counts, read_partition, write_partition
from shoplake.ml.registry import read_current
from shoplake.paths import Zone, partition_path, quarantine_path
from shoplake.pipelines.churn import VERSION_FILES, check_curated, check_features, check_model, check_predictions

pytestmark = pytest.mark.spark

JOBS = {"curate": "curate_churn_source", "features": "build_churn_features", "train": "train_churn_models"}
JOBS["predict"] = "predict_churn"


def run(step: str, argv: list[str], spark) -> dict:
    """The step through its spark-submit entry point (``jobs/spark/``), on the test session."""
    import importlib

    return importlib.import_module(JOBS[step]).main(argv, spark=spark)


@pytest.fixture(scope="module")
def samples():
    from shoplake.config import Settings

    cfg = Settings.from_env()
    paths = {s: cfg.churn_source(s) for s in ("sparkify", "telco", "clickstream")}
    if not Path(paths["telco"]).is_file():
        pytest.skip(f"shared sample data not found under {cfg.sample_data_dir} (set SHOPLAKE_SAMPLE_DATA)")
    return paths


@pytest.fixture(scope="module")
def lake(tmp_path_factory):
    return str(tmp_path_factory.mktemp("churn_lake"))


def args(source, ds, lake, *extra):
    return ["--source", source, "--ds", ds, "--lake-root", lake, *extra]


def test_sparkify_sample_is_accounted_for_and_its_default_label_has_no_churners(spark, samples, lake):
    total = {"in": 0, "curated": 0}
    for day in range(1, 31):
        ds = f"2018-11-{day:02d}"
        result = run("curate", args("sparkify", ds, lake), spark)
        assert check_curated(lake, ds, "sparkify")["rows"] == result["curated"]
        total["in"] += result["in"]
        total["curated"] += result["curated"]
    assert total == {"in": 8056, "curated": 8056}  # the November 2018 sample: 8,056 clean events

    feats = run("features", args("sparkify", "2018-11-30", lake), spark)
    assert (feats["users"], feats["churned"], feats["partitions"]) == (97, 0, 30)
    gate = check_features(lake, "2018-11-30", "sparkify", min_class_users=10)
    assert gate["trainable"] is False
    assert gate["reason"].startswith("0 churned and 97 retained users")
    with pytest.raises(ValueError, match="0 churned"):
        run("train", args("sparkify", "2018-11-30", lake), spark)

    # another definition on the same events: users who opened the Downgrade page
    feats = run("features", args("sparkify", "2018-11-30", lake, "--churn-pages", "Downgrade"), spark)
    assert (feats["users"], feats["churned"]) == (97, 17)
    table = read_partition(feats["path"]).to_pylist()
    assert {r["downgrade_visits"] for r in table} == {0.0}  # the label page is not a feature
    assert check_features(lake, "2018-11-30", "sparkify", min_class_users=10)["trainable"] is True


def test_telco_sample_curates_every_customer(spark, samples, lake):
    result = run("curate", args("telco", "2026-11-16", lake), spark)
    assert (result["in"], result["curated"], result["quarantined"]) == (7043, 7043, 0)
    curated = read_partition(result["path"]).to_pylist()
    imputed = [r for r in curated if r["total_charges_imputed"]]
    assert len(imputed) == 11  # blank TotalCharges
    assert {r["tenure_months"] for r in imputed} == {0}
    feats = run("features", args("telco", "2026-11-16", lake), spark)
    assert (feats["users"], feats["churned"]) == (7043, 1869)


def test_clickstream_sample_trains_predicts_and_gates_on_the_same_users(spark, samples, lake):
    window = ["--window-days", "1", "--label-horizon-hours", "1"]
    oct1 = run("curate", args("clickstream", "2019-10-01", lake), spark)
    dec1 = run("curate", args("clickstream", "2019-12-01", lake), spark)
    assert (oct1["in"], oct1["curated"], oct1["quarantined"]) == (17434, 17429, 5)
    assert (dec1["in"], dec1["curated"], dec1["quarantined"]) == (100, 92, 8)
    # the shared stage bookkeeping: raw holds what landed, curated's "in" is raw's good rows
    raw = read_counts(partition_path(lake, Zone.RAW, "clickstream_events", "2019-12-01"))
    cur = read_counts(partition_path(lake, Zone.CURATED, "clickstream_events", "2019-12-01"))
    assert raw["in"] == raw["good"] + raw["quarantined"] == dec1["in"]
    assert (cur["in"], cur["curated"], cur["quarantined"]) == (raw["good"], 92, 8)
    assert check_curated(lake, "2019-12-01", "clickstream")["quarantined"] == raw["quarantined"] + 8
    reasons = {
        r["reason"]
        for r in read_partition(quarantine_path(lake, "curated", "clickstream_events", "2019-10-01")).to_pylist()
    }
    assert reasons == {"duplicate event"}

    feats = run("features", args("clickstream", "2019-10-01", lake, *window), spark)
    assert (feats["users"], feats["churned"]) == (472, 458)
    assert (feats["label_from"], feats["label_to"]) == ("2019-10-01T01:50:01", "2019-10-01T02:50:01")

    zoo = ["--models", "logistic_regression,random_forest", "--grid", "tiny", "--folds", "2", "--min-class-users", "4"]
    trained = run("train", args("clickstream", "2019-10-01", lake, *window, *zoo), spark)
    # 458 of 472 users churned: the held-out users hold a handful of retained ones, too few to rank any model above
    # always answering "churned" — whatever its AUC, the majority class is what gets served, and the verdict says why
    assert trained["promoted"] is True
    assert trained["serves"] == "majority class"
    assert trained["champion_auc"] is None
    assert trained["baseline"] == "majority class"
    assert "cannot rank" in trained["reason"]
    assert "retained users among the" in trained["reason"]
    model = check_model(lake, "2019-10-01", "clickstream")
    assert model["best_model"] in ("logistic_regression", "random_forest")
    root = Path(trained["path"])  # the committed files of version=2019-10-01 (model["path"] names the version)
    assert root.parent == Path(model["path"])
    assert all((root / f).exists() for f in VERSION_FILES)
    metrics = json.loads((root / "metrics.json").read_text())
    assert [m["model"] for m in metrics["models"]][-1] == "majority_baseline"
    lead = metrics["gate"]["leads"]["majority class"]  # its AUC's lead, with the interval the counts allow
    assert lead["ci95"][0] <= lead["lead"] <= lead["ci95"][1]
    assert metrics["gate"]["unranked"]
    assert metrics["held_out"]["f1_churn"] != metrics["held_out"]["f1_weighted"]
    assert (root / "comparison.png").read_bytes()[:4] == b"\x89PNG"
    assert "f1_churn" in (root / "comparison.csv").read_text().splitlines()[0]
    import sqlite3

    with sqlite3.connect(Path(lake) / "model" / "mlflow" / "mlflow.db") as con:  # tracked like every model
        versions = con.execute("select name, version, source from model_versions").fetchall()
        aliases = con.execute("select name, alias, version from registered_model_aliases").fetchall()
    assert versions == [("clickstream_churn", 1, f"{root}/model")]
    assert aliases == [("clickstream_churn", "champion", 1)]
    assert trained["mlflow_model_version"] == "1"

    predicted = run("predict", args("clickstream", "2019-10-01", lake, *window), spark)
    assert check_predictions(lake, "2019-10-01", "clickstream")["rows"] == 472
    rows = read_partition(predicted["path"]).to_pylist()
    assert {r["model_version"] for r in rows} == {"2019-10-01"}
    # the served baseline answers every user alike: the training share of churners, "churned"
    assert {r["model"] for r in rows} == {"majority_class"}
    assert {r["predicted_churn"] for r in rows} == {1}
    assert len({r["churn_probability"] for r in rows}) == 1
    assert rows[0]["churn_probability"] > 0.9
    # the version's model, kept beside the baseline, is portable: the service's P(churn) is Spark's for every user
    import numpy as np
    from pyspark.ml import PipelineModel

    from shoplake.io.spark_lake import read_parquet
    from shoplake.ml.churn import churn_probability
    from shoplake.ml.spark_portable import load_pipeline

    scored = PipelineModel.load(f"{root}/model").transform(read_parquet(spark, feats["path"]))
    by_spark = dict(scored.select("user_id", churn_probability(scored).alias("p")).collect())
    portable = load_pipeline(f"{root}/model")
    users = read_partition(feats["path"]).to_pylist()
    served = dict(zip([u["user_id"] for u in users], portable.churn_probability(users), strict=True))
    assert np.abs([served[u] - p for u, p in by_spark.items()]).max() < 1e-9

    # a later version on the same users: the champion is re-scored on this run's held-out users, not its record
    write_partition(read_partition(feats["path"]), partition_path(lake, Zone.ENRICHED, "clickstream_churn_features",
                    "2019-10-02"), counts=read_counts(feats["path"]))  # fmt: skip
    again = run("train", args("clickstream", "2019-10-02", lake, *window, *zoo), spark)
    assert again["champion_auc"] == 0.5  # the champion, the majority class, ranks no user above another
    assert again["promoted"] is True
    assert again["serves"] == "majority class"
    assert read_current(lake, "clickstream_churn")["version"] == "2019-10-02"
    # the same users, seed and split train the same zoo: every held-out figure and the gate's interval, to the bit
    second = json.loads((Path(again["path"]) / "metrics.json").read_text())
    assert second["models"] == metrics["models"]
    assert second["gate"]["leads"] == metrics["gate"]["leads"]
    assert read_counts(predicted["path"])["scored"] == 472
