"""Saved Spark churn pipelines scored without Spark equal Spark's own scores on held-out users, for every model of
the zoo, with missing values and unseen categories; the service's churn endpoint serves those scores."""

from __future__ import annotations

import random

import pytest

pytestmark = pytest.mark.spark

MODELS = ("logistic_regression", "random_forest", "gbt", "linear_svc")
COLUMNS = ["user_id", "tenure", "charges", "contract", "payment", "label"]


def _users(n: int, seed: int) -> list[tuple]:
    rng = random.Random(seed)
    rows = []
    for i in range(n):
        tenure = rng.uniform(0, 72) if rng.random() > 0.1 else None
        charges = float(rng.randint(20, 120)) if rng.random() > 0.1 else None
        contract = rng.choice(["month", "year", "two_year"]) if rng.random() > 0.05 else None
        payment = rng.choice(["card", "check", "transfer"])
        risk = (1 - (tenure or 30) / 72) + (0.4 if contract == "month" else 0) + rng.random() * 0.5
        rows.append((f"u{seed}-{i}", tenure, charges, contract, payment, 1.0 if risk > 1.0 else 0.0))
    return rows


@pytest.fixture(scope="module")
def fitted(spark, tmp_path_factory):
    """Each model of the zoo fitted on the training users and saved; the held-out users with unseen values."""
    from shoplake.ml.churn import pipeline, stratified_split, with_class_weights

    schema = "user_id string, tenure double, charges double, contract string, payment string, label double"
    data = with_class_weights(spark.createDataFrame(_users(400, 1), schema), True)
    train, test = stratified_split(data, 0.25, 42)
    held_out = [{k: v for k, v in r.asDict().items() if k != "weight"} for r in test.collect()]  # the features layout
    # values training never saw: a new contract type, a null payment, a numeric string
    held_out += [
        {"user_id": "new-1", "tenure": 5.0, "charges": 99.0, "contract": "weekly", "payment": None},
        {"user_id": "new-2", "tenure": None, "charges": None, "contract": None, "payment": "crypto"},
    ]
    root = tmp_path_factory.mktemp("churn_models")
    paths = {}
    for name in MODELS:
        model = pipeline(name, ["tenure", "charges"], ["contract", "payment"], 42)[0].fit(train)
        paths[name] = str(root / name)
        model.write().overwrite().save(paths[name])
    return paths, held_out


@pytest.mark.parametrize("name", MODELS)
def test_scores_equal_sparks_on_held_out_users(spark, fitted, name):
    import numpy as np
    from pyspark.ml import PipelineModel

    from shoplake.ml.churn import churn_probability
    from shoplake.ml.spark_portable import load_pipeline

    paths, rows = fitted
    schema = "user_id string, tenure double, charges double, contract string, payment string"
    df = spark.createDataFrame([tuple(r.get(c) for c in COLUMNS[:-1]) for r in rows], schema)
    out = PipelineModel.load(paths[name]).transform(df)
    scored = out.select("user_id", churn_probability(out).alias("p"), "prediction")
    spark_rows = {r.user_id: r for r in scored.collect()}
    expected = np.array([spark_rows[r["user_id"]].p for r in rows])
    labels = np.array([spark_rows[r["user_id"]].prediction for r in rows])

    portable = load_pipeline(paths[name])
    assert portable.classifier == name
    got = portable.churn_probability(rows)
    assert np.abs(got - expected).max() < 1e-9
    assert (portable.predict(rows) == labels).all()
    assert len(rows) > 90
    # JSON clients send numbers as strings at times: read as numbers, the same score
    as_text = [{**r, "tenure": None if r["tenure"] is None else str(r["tenure"])} for r in rows]
    assert np.abs(portable.churn_probability(as_text) - expected).max() < 1e-9


def test_a_stage_without_a_portable_scorer_is_refused(spark, tmp_path):
    from pyspark.ml import Pipeline
    from pyspark.ml.feature import Bucketizer

    from shoplake.ml.spark_portable import load_pipeline

    df = spark.createDataFrame([(1.0,)], "x double")
    Pipeline(stages=[Bucketizer(splits=[-1e9, 0, 1e9], inputCol="x", outputCol="b")]).fit(df).save(str(tmp_path / "m"))
    with pytest.raises(ValueError, match="Bucketizer"):
        load_pipeline(str(tmp_path / "m"))


def test_the_churn_endpoint_serves_sparks_scores_without_spark(spark, fitted, tmp_path):
    import shutil

    import numpy as np
    from fastapi.testclient import TestClient
    from pyspark.ml import PipelineModel

    from shoplake.config import ServeSettings, Settings
    from shoplake.ml.churn import churn_probability
    from shoplake.ml.registry import promote_if_not_worse
    from shoplake.serve.app import create_app

    paths, rows = fitted
    lake = str(tmp_path / "lake")
    shutil.copytree(paths["gbt"], f"{lake}/model/telco_churn/version=2026-11-16/model")
    promote_if_not_worse(lake, "telco_churn", "2026-11-16", metric="f1_weighted", score=0.8, extra={"model": "gbt"})
    client = TestClient(create_app(Settings(lake_root=lake, serve=ServeSettings(pointer_ttl_s=0))))
    got = client.post("/predict/churn/telco", json={"rows": rows})
    assert got.status_code == 200, got.text
    body = got.json()
    assert (body["model"], body["model_version"]) == ("gbt", "2026-11-16")

    schema = "user_id string, tenure double, charges double, contract string, payment string"
    df = spark.createDataFrame([tuple(r.get(c) for c in COLUMNS[:-1]) for r in rows], schema)
    out = PipelineModel.load(paths["gbt"]).transform(df)
    expected = {r.user_id: r.p for r in out.select("user_id", churn_probability(out).alias("p")).collect()}
    served = {p["user_id"]: p["churn_probability"] for p in body["predictions"]}
    assert np.abs(np.array([served[u] - expected[u] for u in expected])).max() < 1e-9

    unknown = client.post("/predict/churn/telco", json={"rows": [{"tenure": 3, "tenur": 4}]})
    assert unknown.status_code == 422
    assert "unknown column 'tenur'" in unknown.text
    assert "contract" in unknown.json()["columns"]
    assert "body.rows.0.tenur" in [e["field"] for e in unknown.json()["detail"]]
    wrong = client.post("/predict/churn/telco", json={"rows": [{"tenure": "three"}]})
    assert wrong.status_code == 422
    assert "not a number: 'three'" in wrong.text

    # the majority class won the gate and is the published champion: it answers, and requests are checked the same
    from shoplake.ml.baselines import majority_pointer

    promote_if_not_worse(lake, "telco_churn", "2026-11-16", metric="auc", score=0.5,
                         extra=majority_pointer({0.0: 70, 1.0: 30}))  # fmt: skip
    constant = client.post("/predict/churn/telco", json={"rows": rows}).json()
    assert constant["model"] == "majority_class"
    assert [p["churn_probability"] for p in constant["predictions"]] == pytest.approx([0.3] * len(rows))
    assert client.post("/predict/churn/telco", json={"rows": [{"tenur": 4}]}).status_code == 422


def _sessions(n: int, seed: int) -> list[tuple]:
    """Engagement-shaped rows: four levels, numeric and categorical features with nulls."""
    rng = random.Random(seed)
    rows = []
    for i in range(n):
        price = rng.uniform(1, 500) if rng.random() > 0.1 else None
        products = float(rng.randint(1, 30))
        brand = rng.choice(["apple", "samsung", "xiaomi", None])
        level = float(min(3, int((price or 100) / 150 + products / 15 + rng.random())))
        rows.append((f"u{i}", f"p{i % 13}", price, products, brand, "electronics", level))
    return rows


@pytest.mark.parametrize("name", ["random_forest", "logistic_regression"])
def test_the_clickstream_engagement_endpoint_serves_sparks_level_probabilities(spark, tmp_path, name):
    """A four-level engagement model (multinomial: the churn scorer's binary rule does not apply) scored without
    Spark equals Spark's ``probability`` vector, through the service's endpoint."""
    import numpy as np
    from fastapi.testclient import TestClient

    from shoplake.config import ServeSettings, Settings
    from shoplake.ml.churn import LABEL, pipeline, with_class_weights
    from shoplake.ml.registry import promote_if_not_worse
    from shoplake.serve.app import create_app

    schema = "user_id string, product_id string, price double, session_products double, brand string, " \
             f"top_category string, {LABEL} double"  # fmt: skip
    train = with_class_weights(spark.createDataFrame(_sessions(300, 1), schema), balance=True)
    model = pipeline(name, ["price", "session_products"], ["brand", "top_category"], 42)[0].fit(train)
    lake = str(tmp_path / "lake")
    model.write().overwrite().save(f"{lake}/model/clickstream_engagement/version=2026-11-16/model")
    promote_if_not_worse(lake, "clickstream_engagement", "2026-11-16", metric="macro_f1", score=0.5,
                         extra={"model": name})  # fmt: skip
    rows = [dict(zip(["user_id", "product_id", "price", "session_products", "brand", "top_category"], r[:6],
                     strict=True)) for r in _sessions(40, 2)]  # fmt: skip
    rows.append({"user_id": "new", "price": None, "brand": "nokia", "level": 2, "session_start": "2019-10-01"})
    expected = {
        r.user_id: np.asarray(r.probability.toArray())
        for r in model.transform(spark.createDataFrame([tuple(r.get(c) for c in schema_cols(schema)) for r in rows],
                                                       schema)).collect()
    }  # fmt: skip
    client = TestClient(create_app(Settings(lake_root=lake, serve=ServeSettings(pointer_ttl_s=0))))
    got = client.post("/predict/clickstream_engagement", json={"rows": rows})
    assert got.status_code == 200, got.text
    body = got.json()
    assert body["model"] == name
    assert body["levels"] == {"0": "low", "1": "medium", "2": "disengaged", "3": "high"}
    for p in body["predictions"]:
        want = expected[p["user_id"]]
        assert np.abs(np.array(p["probabilities"]) - want).max() < 1e-9
        assert p["level"] == int(want.argmax())
    status = client.get("/models").json()["models"]["clickstream_engagement"]
    assert (status["champion"], status["baseline"], status["available"]) == (name, False, True)
    example = client.get("/models/clickstream_engagement").json()["example"]
    assert client.post("/predict/clickstream_engagement", json=example).status_code == 200


def schema_cols(schema: str) -> list[str]:
    return [part.split()[0] for part in schema.split(",")]
