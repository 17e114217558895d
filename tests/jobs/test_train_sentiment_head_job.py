"""The training job on curated partitions, with a tiny random encoder built offline."""

import json
import sys
from pathlib import Path

import pyarrow as pa
import pytest

pytest.importorskip("transformers")
pytest.importorskip("sklearn")
sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "fixtures"))
sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "jobs" / "train"))

from tiny_models import build_embedding_head_model

from shoplake.io.lake import write_partition
from shoplake.paths import Zone, partition_path

POS = ["great fun game love it", "best game ever good story", "love the graphics great"]
NEG = ["awful bug lag", "worst game boring", "hate it bad fps bug"]


def _curated(lake: str, ds: str, day_ts: int, n: int = 40) -> None:
    rows = [
        {"review_text": (POS if i % 2 else NEG)[i % 3], "voted_up": bool(i % 2), "timestamp_created": day_ts + i}
        for i in range(n)
    ]
    write_partition(pa.Table.from_pylist(rows), partition_path(lake, Zone.CURATED, "steam_reviews", ds))


@pytest.fixture(scope="module")
def encoder_dir(tmp_path_factory):
    return str(build_embedding_head_model(tmp_path_factory.mktemp("enc")) / "encoder")


def test_training_publishes_a_servable_model_and_gates_the_pointer(encoder_dir, tmp_path):
    import train_sentiment_head as job

    from shoplake.ml.sentiment import EngineConfig, load_classifier

    lake = str(tmp_path / "lake")
    for i, ds in enumerate(["2019-03-01", "2019-03-02", "2019-03-03"]):
        _curated(lake, ds, 1_551_398_400 + i * 86400)
    args = [
        "--ds",
        "2019-03-03",
        "--lake-root",
        lake,
        "--window-days",
        "7",
        "--encoder-dir",
        encoder_dir,
        "--device",
        "cpu",
    ]
    result = job.main(args)
    version = Path(lake) / "model" / "sentiment_head" / "version=2019-03-03"
    assert result["path"] == str(version)
    assert result["promoted"] is True
    metrics = json.loads((version / "metrics.json").read_text())
    assert metrics["model"]["n"] == 24  # newest 20 % of 120 rows
    assert metrics["train_rows"] == 96
    assert metrics["model"]["auc"] > 0.9  # the tiny texts are separable
    assert {"auc", "accuracy", "f1_negative", "f1_positive"} <= set(metrics["vader"])
    assert (version / "roc.png").read_bytes()[:4] == b"\x89PNG"
    current = json.loads((version.parent / "current.json").read_text())
    assert current["version"] == "2019-03-03"

    clf = load_classifier(str(version.parent), cfg=EngineConfig(device="cpu"))
    assert clf.revision == metrics["revision"]
    assert clf.positive_proba([POS[0]])[0] > clf.positive_proba([NEG[0]])[0]

    # a champion with a better held-out AUC keeps the pointer
    (version.parent / "current.json").write_text(json.dumps({"version": "2019-02-24", "path": "x", "auc": 1.01}))
    again = job.main(args)
    assert again["promoted"] is False
    assert json.loads((version.parent / "current.json").read_text())["version"] == "2019-02-24"


def test_training_without_data_is_a_clear_error(tmp_path, encoder_dir):
    import train_sentiment_head as job

    with pytest.raises(FileNotFoundError, match="no curated steam_reviews partition"):
        job.main(["--ds", "2019-03-03", "--lake-root", str(tmp_path), "--encoder-dir", encoder_dir])
