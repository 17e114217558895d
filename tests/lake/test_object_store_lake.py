"""The lake on S3, against moto's server: Delta days written, replaced, listed and read; a model trained into an
s3:// lake and served from it. (Results published to S3: ``test_commit_faults``. GCS: the file commits run against
gcp-storage-emulator in ``tests/dags/test_sagemaker_on_moto.py``; Delta tables on GCS are not exercised here — no
local emulator takes delta-rs's XML-API requests; docs/lake.md says so.)

Endpoints and credentials come from the standard environment the fixtures set (``AWS_ENDPOINT_URL``); the code under
test is the code that runs against real buckets.
"""

from __future__ import annotations

import json

import pyarrow as pa
import pytest

pytestmark = pytest.mark.objectstore

pytest.importorskip("s3fs")
pytest.importorskip("moto")


@pytest.fixture(scope="module")
def s3_lake():
    from object_stores import s3_endpoint

    with s3_endpoint("shoplake-test") as bucket:
        yield f"{bucket}/lake"


def _round_trip(lake: str) -> None:
    from shoplake.io import delta
    from shoplake.io.lake import filesystem, partition_days, read_counts, read_partition, write_partition
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
    assert read_counts(path) == {"curated": 1}
    fs, root = filesystem(dataset_path(lake, Zone.CURATED, "events"))
    fs.invalidate_cache()
    data = sorted(p[len(root) + 1 :] for p in fs.find(root) if "_delta_log" not in p)
    assert len(data) == 2, data  # both writes' files stay until vacuumed
    assert all(d.startswith("ds=2024-02-29/part-") for d in data), data
    (committed,) = delta.day_files(path)  # the snapshot names the rerun's file only
    assert committed.rsplit("/", 1)[-1] in {d.rsplit("/", 1)[-1] for d in data}
    write_partition(pa.table({"id": [1], "v": ["x"]}), partition_path(lake, Zone.CURATED, "events", "2024-03-01"))
    assert partition_days(dataset_path(lake, Zone.CURATED, "events")) == ["2024-02-29", "2024-03-01"]
    assert [c["ds"] for c in delta.history(dataset_path(lake, Zone.CURATED, "events"))][:3] == [
        "2024-03-01", "2024-02-29", "2024-02-29",
    ]  # fmt: skip


def test_partitions_are_written_replaced_listed_and_read_on_s3(s3_lake):
    _round_trip(s3_lake)


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
    trained = purchase_model.train_purchase_model(
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
