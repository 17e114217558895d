"""The Lake overview: models (current version, metrics, plots) and datasets (partitions, rows, quarantined)."""

from __future__ import annotations

import pyarrow as pa
import pytest
from lake_overview import build_lake, png

from shoplake import overview
from shoplake.paths import Zone


@pytest.fixture
def lake(tmp_path) -> str:
    root = str(tmp_path / "lake")
    build_lake(root)
    (tmp_path / "lake" / "model" / "mlflow").mkdir()  # the tracking store is not a model
    (tmp_path / "lake" / "raw" / "shop_events" / ".ds=2024-01-03.tmp-1234").mkdir()  # a write in progress
    return root


def test_models_show_the_champion_its_flattened_metrics_and_plots(lake):
    models = {m.name: m for m in overview.models(lake)}
    assert sorted(models) == ["draft_model", "sentiment_head", "sentiment_multilingual", "shop_model",
                              "tweet_engagement"]  # fmt: skip
    shop = models["shop_model"]
    assert (shop.current, shop.metric, shop.metric_value) == ("2024-01-01", "auc", 0.8125)
    assert shop.versions == ["2024-01-02", "2024-01-01"]
    assert shop.metrics == {"auc": 0.8125, "held_out_f1": 0.5, "held_out_rows": 12000.0}
    assert shop.plots == ["feature_importance.png", "roc.png"]
    draft = models["draft_model"]
    assert (draft.current, draft.versions, draft.metrics, draft.plots) == (None, ["2024-01-02"], {}, [])
    sentiment = models["sentiment_multilingual"]
    assert [r["language"] for r in sentiment.by_language] == ["all", "de", "en", "th"]
    assert sentiment.metrics == {"auc": 0.9}  # the per-language numbers are in their table, not repeated flat
    assert "learnt from labels of: en (1,500 rows)" in sentiment.languages_note
    assert sentiment.languages_note.endswith("transfer (no labels of their own in training): de, th")
    assert "one language only (en)" in models["sentiment_head"].languages_note
    assert (models["tweet_engagement"].champion, models["tweet_engagement"].baseline) == ("median", True)
    assert (shop.champion, shop.baseline) == ("", False)
    assert shop.gate["baselines"] == {"per-game rate": 0.75}  # the model beside its baselines, on the same rows
    assert (shop.gate["score"], shop.gate["reason"]) == (
        0.8125,
        "promoted: beats the baseline 'per-game rate' (0.7500)",
    )


def test_only_listed_plots_of_the_current_version_are_served(lake):
    assert overview.plot_bytes(lake, "shop_model", "roc.png") == png()
    for name, plot in [
        ("shop_model", "../current.json"),
        ("shop_model", "metrics.json"),
        ("draft_model", "roc.png"),  # never promoted: no current version to show
        ("mlflow", "roc.png"),
        ("../raw", "roc.png"),
    ]:
        with pytest.raises(KeyError):
            overview.plot_bytes(lake, name, plot)


def test_a_missing_metrics_file_is_reported_not_fatal(lake, tmp_path):
    (tmp_path / "lake/model/shop_model/version=2024-01-01/metrics.json").unlink()
    shop = overview.model(lake, "shop_model")
    assert (shop.current, shop.metrics, shop.error) == ("2024-01-01", {}, "the current version has no metrics.json")


def test_datasets_list_partitions_newest_first_with_rows_and_quarantined(lake):
    sets = {(d.zone, d.name): d for d in overview.datasets(lake)}
    assert sorted(sets) == [
        ("curated", "shop_events"),
        ("quarantine", "curated_shop_events"),
        ("quarantine", "raw_shop_events"),
        ("raw", "shop_events"),
    ]
    raw = sets["raw", "shop_events"]
    assert [(p.ds, p.rows, p.quarantined) for p in raw.partitions] == [("2024-01-02", 3, 0), ("2024-01-01", 5, 2)]
    assert raw.partitions[1].counts == {"in": 7, "good": 5, "quarantined": 2}
    # no _counts.json: the rows of quarantine/curated_shop_events of that day
    assert [(p.ds, p.rows, p.quarantined) for p in sets["curated", "shop_events"].partitions] == [("2024-01-01", 2, 3)]
    reasons = sets["quarantine", "curated_shop_events"].partitions[0].reasons
    assert reasons == {"empty review": 2, "bad date": 1}


def test_limit_keeps_the_newest_partitions_and_the_total(lake):
    raw = overview.dataset(lake, Zone.RAW, "shop_events", limit=1)
    assert ([p.ds for p in raw.partitions], raw.total_partitions) == (["2024-01-02"], 2)
    with pytest.raises(ValueError, match="limit"):
        overview.datasets(lake, limit=0)


def test_an_unreadable_table_is_shown_with_its_error(lake, tmp_path):
    log = tmp_path / "lake/raw/shop_events/_delta_log"
    newest = max(log.glob("*.json"))
    newest.write_text("not json")
    shown = overview.dataset(lake, Zone.RAW, "shop_events")
    assert shown.partitions == []
    assert shown.error


def test_each_table_shows_its_commits_and_a_day_opens_at_an_older_version(lake, tmp_path):
    from shoplake.io.lake import write_partition
    from shoplake.paths import partition_path

    path = partition_path(lake, Zone.RAW, "shop_events", "2024-01-02")
    before = overview.dataset(lake, Zone.RAW, "shop_events")
    write_partition(pa.table({"id": ["only one"]}), path, counts={"in": 1, "good": 1})  # a bad rerun of the day
    after = overview.dataset(lake, Zone.RAW, "shop_events")
    assert after.version == before.version + 1
    newest = after.commits[0]
    assert (newest.version, newest.operation, newest.ds, newest.rows) == (after.version, "WRITE", "2024-01-02", 1)
    assert newest.at.endswith("+00:00")
    now = overview.day_preview(lake, Zone.RAW, "shop_events", "2024-01-02")
    assert (now.version, now.rows, now.head) == (after.version, 1, [["only one"]])
    old = overview.day_preview(lake, Zone.RAW, "shop_events", "2024-01-02", version=before.version, limit=2)
    assert old.version == before.version
    assert old.rows == next(p.rows for p in before.partitions if p.ds == "2024-01-02")
    assert len(old.head) == min(2, old.rows)
    with pytest.raises(KeyError, match="versions 0"):
        overview.day_preview(lake, Zone.RAW, "shop_events", "2024-01-02", version=after.version + 5)
    with pytest.raises(KeyError, match="holds no ds=2023-01-01"):
        overview.day_preview(lake, Zone.RAW, "shop_events", "2023-01-01")


def test_an_empty_or_missing_lake_has_nothing_to_show(tmp_path):
    assert overview.models(str(tmp_path / "nowhere")) == []
    assert overview.datasets(str(tmp_path / "nowhere")) == []


def test_the_evaluation_by_language_becomes_one_row_a_language():
    from lake_overview import SENTIMENT_METRICS

    rows = overview.language_rows(SENTIMENT_METRICS)
    assert [r["language"] for r in rows] == ["all", "de", "en", "th"]
    de, th = rows[1], rows[3]
    assert (de["auc"], de["baseline_auc"], de["negatives"], de["note"]) == (0.81, 0.55, 40, "cross-lingual transfer")
    assert th["auc"] is None
    assert th["note"].startswith("too few negatives")  # the floor's note wins over the transfer mark
    en = {"n": 72, "negatives": 9, "macro_f1": 0.6, "macro_f1_ci95": [0.5, 0.7], "qwk": 0.8}
    five = {"by_language": {"min_rows": 30, "groups": {"en": en}, "groups_below_min_rows": 2}}
    assert overview.language_rows(five) == [
        {"language": "en", **en, "note": ""},
        {"language": "other", "n": None, "negatives": None, "macro_f1": None, "macro_f1_ci95": None, "qwk": None,
         "note": "2 language(s) under 30 held-out rows"},
    ]  # fmt: skip
    assert overview.language_rows({"auc": 0.5}) == []
    assert overview.language_rows({"by_language": {}}) == []
    assert overview.language_rows({"by_language": "odd"}) == []
