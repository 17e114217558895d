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
        {
            "review_text": (POS if i % 2 else NEG)[i % 3],
            "voted_up": bool(i % 2),
            "timestamp_created": day_ts + i,
            "language_code": "en",
        }
        for i in range(n)
    ]
    # reviews in another language (labels inverted): an English model must neither learn from nor be judged on them
    rows += [
        {"review_text": POS[i % 3], "voted_up": False, "timestamp_created": day_ts + n + i, "language_code": "de"}
        for i in range(10)
    ]
    write_partition(pa.Table.from_pylist(rows), partition_path(lake, Zone.CURATED, "steam_reviews", ds))


@pytest.fixture(scope="module")
def encoder_dir(tmp_path_factory):
    return str(build_embedding_head_model(tmp_path_factory.mktemp("enc")) / "encoder")


def test_training_publishes_a_servable_model_and_gates_the_pointer(encoder_dir, tmp_path, monkeypatch):
    monkeypatch.setenv(
        "SHOPLAKE_BASELINE_GATE", "off"
    )  # a tiny random encoder need not beat VADER: the pointer is the subject
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
    version = Path(result["path"])  # the committed files of version=2019-03-03
    assert version.parent == Path(lake) / "model" / "sentiment_head" / "version=2019-03-03"
    assert result["promoted"] is True
    metrics = json.loads((version / "metrics.json").read_text())
    assert metrics["model"]["n"] == 24  # newest 20 % of the 120 English rows (the 30 German ones are left out)
    assert metrics["language"] == "en"
    held_out = metrics["by_language"]["model"]["en"]
    assert (held_out["n"], held_out["negatives"]) == (24, 12)
    assert held_out["auc"] is None  # 12 negatives: below the default floor of 30
    assert held_out["note"] == "too few negatives (12 < 30): no AUC reported"
    manifest = json.loads((version / "shoplake_model.json").read_text())
    assert manifest["languages"] == ["en"]
    # tracked like every model: its own experiment, a registered version whose source is the lake version
    import sqlite3

    with sqlite3.connect(Path(lake) / "model" / "mlflow" / "mlflow.db") as con:
        versions = con.execute("select name, version, source from model_versions").fetchall()
        aliases = con.execute("select name, alias, version from registered_model_aliases").fetchall()
        experiments = [r[0] for r in con.execute("select name from experiments")]
        runs = con.execute("select key from metrics").fetchall()
    assert versions == [("sentiment_head", 1, str(version))]
    assert aliases == [("sentiment_head", "champion", 1)]
    assert "shoplake-sentiment-head" in experiments
    assert ("model_auc",) in runs
    assert (result["mlflow_model_version"], result["promoted"]) == ("1", True)
    assert metrics["train_rows"] == 96
    assert metrics["model"]["auc"] > 0.9  # the tiny texts are separable
    assert {"auc", "accuracy", "f1_negative", "f1_positive"} <= set(metrics["vader"])
    assert (version / "roc.png").read_bytes()[:4] == b"\x89PNG"
    model_root = version.parent.parent
    current = json.loads((model_root / "current.json").read_text())
    assert current["version"] == "2019-03-03"

    clf = load_classifier(str(model_root), cfg=EngineConfig(device="cpu"))
    assert clf.revision == metrics["revision"]
    assert clf.positive_proba([POS[0]])[0] > clf.positive_proba([NEG[0]])[0]

    # a champion with a better held-out AUC keeps the pointer
    (model_root / "current.json").write_text(json.dumps({"version": "2019-02-24", "path": "x", "auc": 1.01}))
    again = job.main(args)
    assert again["promoted"] is False
    assert json.loads((model_root / "current.json").read_text())["version"] == "2019-02-24"


def test_training_without_data_is_a_clear_error(tmp_path, encoder_dir):
    import train_sentiment_head as job

    with pytest.raises(FileNotFoundError, match="no curated steam_reviews partition"):
        job.main(["--ds", "2019-03-03", "--lake-root", str(tmp_path), "--encoder-dir", encoder_dir])


def test_cold_start_learns_from_the_last_days_with_labelled_reviews_of_any_year(encoder_dir, tmp_path):
    """Another dump (2017, sparse days, other languages, counters as strings) bootstraps the model as it is."""
    import datetime as dt

    import train_sentiment_head as job

    from shoplake.pipelines.sentiment_model import labelled_window_start

    def day_ts(day):
        return int(dt.datetime.fromisoformat(day).replace(tzinfo=dt.UTC).timestamp())

    reviews, rid = [], 0
    for day, n in (("2017-10-01", 50), ("2017-11-05", 50), ("2017-11-20", 50), ("2017-11-25", 50)):
        for i in range(n):
            rid += 1
            pos = i % 2 == 1
            reviews.append({
                "recommendationid": str(rid), "review": (POS if pos else NEG)[i % 3], "voted_up": pos,
                "timestamp_created": day_ts(day) + i, "language": "english", "comment_count": "1",
            })  # fmt: skip
    reviews += [{**reviews[0], "recommendationid": "999", "language": "schinese", "review": "很好"}]
    src = tmp_path / "dump"
    src.mkdir()
    (src / "review_570.json").write_text(json.dumps({"reviews": reviews}))
    (src / "review_571.json").write_text("")  # an unreadable file is skipped

    end = day_ts("2017-11-23")  # the day after ds=2017-11-22: 2017-11-25 is in the future
    assert labelled_window_start(str(src), end, 2, "en") == day_ts("2017-11-05")
    assert labelled_window_start(str(src), end, 10, "en") == day_ts("2017-10-01")
    with pytest.raises(ValueError, match="no labelled en review before 2017-10-01"):
        labelled_window_start(str(src), day_ts("2017-10-01"), 2, "en")

    lake = str(tmp_path / "lake")
    base = ["--ds", "2017-11-22", "--lake-root", lake, "--encoder-dir", encoder_dir, "--device", "cpu"]
    result = job.main([*base, "--steam-source", str(src), "--labelled-days", "2"])
    metrics = json.loads(Path(result["path"], "metrics.json").read_text())
    assert result["rows"] == 100  # the English reviews of 2017-11-05 and 2017-11-20, nothing else
    assert metrics["train_rows"] + metrics["model"]["n"] == 100
