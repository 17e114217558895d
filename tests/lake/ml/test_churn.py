"""The churn model zoo on tiny synthetic frames: split, weights, CrossValidator choice, metrics, baseline."""

import math

import pytest

from shoplake.jobconfig import parse_job_args
from shoplake.pipelines.churn import ChurnJobConfig, label_gate


def test_majority_baseline_is_what_accuracy_flatters():
    from shoplake.ml.churn import majority_baseline

    b = majority_baseline(100, 25)
    assert b["accuracy"] == 0.75
    assert b["f1_churn"] == 0.0  # never predicts churn
    assert b["f1_stay"] == pytest.approx(1.5 / 1.75)
    assert b["f1_weighted"] == pytest.approx(0.75 * 1.5 / 1.75)


def test_label_gate_needs_enough_users_of_each_class():
    assert label_gate(97, 0, 10).startswith("0 churned and 97 retained users")
    assert label_gate(30, 25, 10).startswith("25 churned and 5 retained")
    assert label_gate(30, 10, 10) == ""


def test_job_config_validates_flags():
    cfg = parse_job_args(
        ChurnJobConfig,
        [
            "--source",
            "sparkify",
            "--ds",
            "2018-11-30",
            "--lake-root",
            "/l",
            "--churn-pages",
            "Cancel, Submit Downgrade",
        ],
        None,
    )
    assert cfg.pages == ("Cancel", "Submit Downgrade")
    assert cfg.names.features == "sparkify_churn_features"
    assert (
        parse_job_args(
            ChurnJobConfig, ["--source", "telco", "--ds", "2018-11-30", "--lake-root", "/l", "--balance", "false"], None
        ).balance
        is False
    )
    with pytest.raises(ValueError, match="--source"):
        ChurnJobConfig(source="crm", ds="2018-11-30", lake_root="/l")
    with pytest.raises(ValueError, match="min-class-users"):
        ChurnJobConfig(source="telco", ds="2018-11-30", lake_root="/l", folds=5, min_class_users=8)


def test_comparison_plot_is_written(tmp_path):
    from shoplake.ml.plots import plot_model_comparison

    rows = [
        {"model": "gbt", "best": True, "f1_weighted": 0.8, "f1_churn": 0.6, "accuracy": 0.8, "auc": 0.85},
        {"model": "majority_baseline", "best": False, "f1_weighted": 0.6, "f1_churn": 0.0, "accuracy": 0.7, "auc": 0.5},
    ]
    plot_model_comparison(tmp_path / "c.png", rows, "t")
    assert (tmp_path / "c.png").read_bytes()[:4] == b"\x89PNG"


def users(spark, n=240, seed=3):
    """``n`` users, a quarter churned; churn follows ``x`` and the ``plan`` category, ``noise`` is noise."""
    import random

    rng = random.Random(seed)
    rows = []
    for i in range(n):
        churned = i % 4 == 0
        x = rng.gauss(1.5 if churned else 0.0, 1.0)
        plan = ("monthly" if rng.random() < 0.8 else "yearly") if churned else rng.choice(["monthly", "yearly"])
        rows.append((f"u{i:04d}", x, rng.random(), plan, None if i % 17 == 0 else rng.random(), float(churned)))
    return spark.createDataFrame(rows, "user_id string, x double, noise double, plan string, gap double, label double")


@pytest.mark.spark
def test_stratified_split_holds_out_the_same_share_of_each_class(spark):
    from shoplake.ml.churn import stratified_split, with_class_weights

    df = users(spark)
    train, test = stratified_split(df, 0.25, seed=7)
    counts = {r["label"]: r["count"] for r in test.groupBy("label").count().collect()}
    assert counts == {1.0: 15, 0.0: 45}
    assert train.join(test, "user_id").count() == 0
    assert train.count() + test.count() == 240
    again = {r["user_id"] for r in stratified_split(df, 0.25, seed=7)[1].collect()}
    assert again == {r["user_id"] for r in test.collect()}
    assert again != {r["user_id"] for r in stratified_split(df, 0.25, seed=8)[1].collect()}

    weighted = with_class_weights(df, balance=True)
    totals = {r["label"]: r["w"] for r in weighted.groupBy("label").agg({"weight": "sum"}).toDF("label", "w").collect()}
    assert totals[1.0] == pytest.approx(120.0)
    assert totals[0.0] == pytest.approx(120.0)


@pytest.mark.spark
def test_zoo_picks_the_best_cross_validated_model_and_reports_both_f1s(spark):
    from shoplake.ml.churn import ZooConfig, auc_lead_over_champion, churn_probability, comparison_rows, train_zoo

    cfg = ZooConfig(models=("logistic_regression", "linear_svc"), folds=2, grid="tiny")
    zoo = train_zoo(users(spark), ["x", "noise", "gap"], ["plan"], cfg)
    results = {r.name: r for r in zoo["results"]}
    assert set(results) == {"logistic_regression", "linear_svc"}
    assert zoo["best"].cv_f1 == max(r.cv_f1 for r in results.values())
    for r in results.values():
        assert set(r.test) >= {"f1_weighted", "f1_churn", "precision_churn", "recall_churn", "accuracy", "auc"}
        assert r.test["f1_churn"] != r.test["f1_weighted"]
        assert r.test["auc"] > 0.75  # x separates the classes
        assert r.test["f1_weighted"] > zoo["baseline"]["f1_weighted"]
        assert r.test["f1_churn"] > 0.4  # class weights: the minority class is predicted at all
    rows = comparison_rows(zoo["results"], zoo["best"].name, zoo["baseline"])
    assert [r["model"] for r in rows][-1] == "majority_baseline"
    assert rows[0]["best"] is True

    svc = results["linear_svc"].model.transform(zoo["test"])
    probs = [r["p"] for r in svc.select(churn_probability(svc).alias("p")).collect()]
    assert all(0.0 <= p <= 1.0 and not math.isnan(p) for p in probs)

    # over a champion re-scored on the same users: the paired lead, both AUCs from 100 bins of each score
    lr = results["logistic_regression"].model.transform(zoo["test"])
    over_svc = auc_lead_over_champion(lr, svc, seed=1, n_boot=300)
    binned = results["logistic_regression"].test["auc"] - results["linear_svc"].test["auc"]
    assert over_svc["lead"] == pytest.approx(binned, abs=0.02)  # ties within a bin of 0.01 count one half
    assert over_svc["ci95"][0] <= over_svc["lead"] <= over_svc["ci95"][1]
    copy = auc_lead_over_champion(lr, results["logistic_regression"].model.transform(zoo["test"]), seed=1, n_boot=300)
    assert (copy["lead"], copy["ci95"]) == (0.0, [0.0, 0.0])  # a retrained copy never replaces its champion


@pytest.mark.spark
def test_trees_train_on_the_same_frames(spark):
    from shoplake.ml.churn import ZooConfig, train_zoo

    zoo = train_zoo(
        users(spark), ["x", "noise", "gap"], ["plan"], ZooConfig(models=("random_forest", "gbt"), folds=2, grid="tiny")
    )
    assert {r.name for r in zoo["results"]} == {"random_forest", "gbt"}
    assert all(r.test["auc"] > 0.7 for r in zoo["results"])


@pytest.mark.spark
def test_too_few_churners_is_a_clear_error(spark):
    from shoplake.ml.churn import ZooConfig, train_zoo

    df = users(spark).where("label = 0.0 or user_id = 'u0000'")
    with pytest.raises(ValueError, match="labels too thin"):
        train_zoo(df, ["x"], [], ZooConfig(models=("logistic_regression",), folds=2, grid="tiny"))


def test_held_out_users_too_few_of_a_class_cannot_rank_a_model():
    from shoplake.ml.metrics import too_few_of_a_class

    def unranked(n, churned, floor):
        return too_few_of_a_class({"churned": churned, "retained": n - churned}, floor, "users")

    assert unranked(119, 115, 30) == "4 retained users among the 119 held out (< 30)"
    assert unranked(119, 10, 30) == "10 churned users among the 119 held out (< 30)"
    assert unranked(1762, 468, 30) == ""
