"""The lake on object stores, against local endpoints (moto's S3 server, gcp-storage-emulator): partitions written,
replaced, listed and read; a model trained into an s3:// lake and served from it; results published to gs://.

Endpoints and credentials come from the standard environment the fixtures set (``AWS_ENDPOINT_URL``,
``STORAGE_EMULATOR_HOST``); the code under test is the code that runs against real buckets.
"""

from __future__ import annotations

import json

import pyarrow as pa
import pytest

pytestmark = pytest.mark.objectstore

pytest.importorskip("s3fs")
pytest.importorskip("gcsfs")
pytest.importorskip("moto")
pytest.importorskip("gcp_storage_emulator")


@pytest.fixture(scope="module")
def s3_lake():
    from object_stores import s3_endpoint

    with s3_endpoint("shoplake-test") as bucket:
        yield f"{bucket}/lake"


@pytest.fixture(scope="module")
def gcs_root():
    from object_stores import gcs_endpoint

    with gcs_endpoint("shoplake-results") as bucket:
        yield bucket


def _round_trip(lake: str) -> None:
    from shoplake.io.lake import (
        COUNTS_FILE,
        PART_FILE,
        POINTER_FILE,
        SEALED_FILE,
        filesystem,
        partition_days,
        read_counts,
        read_partition,
        resolve,
        write_partition,
    )
    from shoplake.paths import Zone, dataset_path, partition_path

    path = partition_path(lake, Zone.CURATED, "events", "2024-02-29")
    table = pa.table({"id": [3, 1, 2], "v": ["c", "a", "b"]})
    first = write_partition(table, path, counts={"curated": 3}, sort_by="id")
    assert (first.path, first.rows) == (path, 3)
    assert read_partition(path).to_pydict() == {"id": [1, 2, 3], "v": ["a", "b", "c"]}
    assert read_counts(path) == {"curated": 3}

    rerun = write_partition(pa.table({"id": [7], "v": ["z"]}), path, counts={"curated": 1})  # replaces, never appends
    assert rerun.rows == 1
    assert read_partition(path).to_pydict() == {"id": [7], "v": ["z"]}
    fs, root = filesystem(dataset_path(lake, Zone.CURATED, "events"))
    names = sorted(p[len(root) + 1 :] for p in fs.find(root))
    first_version, second_version = sorted({n.split("/")[1] for n in names if "/v-" in n})
    assert names == [  # the committed version, the one it replaced, the pointer: no staging leftovers
        f"ds=2024-02-29/{POINTER_FILE}",
        *(
            f"ds=2024-02-29/{v}/{f}"
            for v in (first_version, second_version)
            for f in (COUNTS_FILE, SEALED_FILE, PART_FILE)
        ),
    ]
    assert resolve(path) == f"{path}/{second_version}"
    write_partition(pa.table({"id": [1], "v": ["x"]}), partition_path(lake, Zone.CURATED, "events", "2024-03-01"))
    assert partition_days(dataset_path(lake, Zone.CURATED, "events")) == ["2024-02-29", "2024-03-01"]


def test_partitions_are_written_replaced_listed_and_read_on_s3(s3_lake):
    _round_trip(s3_lake)


def test_partitions_are_written_replaced_listed_and_read_on_gcs(gcs_root):
    _round_trip(f"{gcs_root}/lake")


def test_a_model_trained_into_an_s3_lake_is_served_from_it_and_follows_its_pointer(s3_lake):
    pytest.importorskip("xgboost")
    from fastapi.testclient import TestClient
    from purchase_data import write_feature_days

    from shoplake.config import ServeSettings, Settings
    from shoplake.io.lake import filesystem
    from shoplake.ml.registry import promote_if_not_worse, read_current
    from shoplake.pipelines import purchase_model
    from shoplake.serve.app import create_app

    lake = f"{s3_lake}/models"
    write_feature_days(lake, ["2019-03-01", "2019-03-02", "2019-03-03"])
    trained = purchase_model.train(
        purchase_model.PurchaseTrainConfig(ds="2019-03-03", lake_root=lake, window_days=3, device="cpu",
                                           mlflow_uri="none")
    )  # fmt: skip
    assert trained["path"].startswith(f"{lake}/model/steam_purchase/version=2019-03-03/v-")  # its committed files
    assert read_current(lake, "steam_purchase")["version"] == "2019-03-03"

    app = create_app(Settings(lake_root=lake, sentiment_models="*=/nowhere", serve=ServeSettings(pointer_ttl_s=0)))
    client = TestClient(app)
    row = {"appid": 730, "author_num_games_owned": 300.0, "positive_prob": 0.8}
    first = client.post("/predict/purchase", json={"rows": [row]})
    assert first.status_code == 200, first.text
    assert first.json()["model_version"] == "2019-03-03"

    fs, root = filesystem(f"{lake}/model/steam_purchase")
    fs.copy(f"{root}/version=2019-03-03", f"{root}/version=2019-03-05", recursive=True)
    promote_if_not_worse(lake, "steam_purchase", "2019-03-05", metric="auc", score=1.0)
    moved = client.post("/predict/purchase", json={"rows": [row]}).json()
    assert moved["model_version"] == "2019-03-05"
    assert moved["predictions"] == first.json()["predictions"]
    assert json.loads(fs.cat(f"{root}/current.json"))["version_dir"] == "version=2019-03-05"


def test_review_sentiment_results_are_published_to_a_gcs_bucket(gcs_root, tmp_path):
    pytest.importorskip("transformers")
    from review_data import write_review_days
    from tiny_models import build_five_class_classifier

    from shoplake.io.lake import filesystem
    from shoplake.pipelines import review_sentiment as rsp

    lake = str(tmp_path / "lake")
    write_review_days(lake, ["2026-02-10", "2026-02-11"], n=40)
    model = build_five_class_classifier(tmp_path / "model")
    rsp.train(rsp.ReviewSentimentTrainConfig(ds="2026-02-11", lake_root=lake, model=str(model), window_days=5,
                                             min_rows=50, device="cpu", mlflow_uri="none"))  # fmt: skip
    rsp.score(rsp.ReviewSentimentScoreConfig(ds="2026-02-11", lake_root=lake, device="cpu"))
    results = f"{gcs_root}/results"
    published = rsp.publish(lake, "2026-02-11", results)
    assert published["path"] == f"{results}/product_review_sentiment/ds=2026-02-11"
    assert rsp.check_published(lake, "2026-02-11", results)["rows"] == 40
    fs, root = filesystem(published["path"])
    files = ["_counts.json", "_sealed.json", "part-0.csv", "part-0.parquet"]  # one committed version, its pointer
    version = json.loads(fs.cat(f"{root}/_current.json"))["version"]
    assert sorted(p[len(root) + 1 :] for p in fs.find(root)) == ["_current.json", *(f"{version}/{f}" for f in files)]
    rsp.publish(lake, "2026-02-11", results)  # a rerun commits a new version: the pointer moves, nothing is copied
    assert rsp.check_published(lake, "2026-02-11", results)["rows"] == 40
    assert json.loads(fs.cat(f"{root}/_current.json"))["version"] != version
