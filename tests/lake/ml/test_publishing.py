"""The one training tail (``shoplake.ml.publishing``): a version is written whatever the verdict; the champion pointer
moves only for a model that beats its strongest named baseline and is not worse than the champion on the same rows;
MLflow's ``champion`` alias follows the pointer, never leads it."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path

import pytest

from shoplake.ml.publishing import Gate, Tracking, publish_model_version, verdict
from shoplake.ml.registry import read_current


def test_the_strongest_baseline_is_picked_by_the_metrics_direction():
    assert Gate("auc", 0.8, baselines={"a": 0.6, "b": 0.7}).strongest_baseline() == ("b", 0.7)
    assert Gate("mae", 1.0, higher_is_better=False, baselines={"a": 2.0, "b": 1.5}).strongest_baseline() == ("b", 1.5)
    assert Gate("auc", 0.8).strongest_baseline() is None


@pytest.mark.parametrize(
    ("gate", "champion", "promote", "says"),
    [
        (Gate("auc", 0.80, baselines={"rate": 0.83, "constant": 0.5}), None, False, "not beat the baseline 'rate'"),
        (Gate("auc", 0.83, baselines={"rate": 0.83}), None, False, "does not beat"),  # a tie is no better
        (Gate("auc", 0.90, baselines={"rate": 0.83}), None, True, "promoted: beats the baseline 'rate'"),
        (Gate("auc", 0.90, baselines={"rate": 0.83}), {"version": "2024-01-01", "auc": 0.95}, False, "worse than"),
        (Gate("auc", 0.90, champion_score=lambda c: 0.85), {"version": "2024-01-01", "auc": 0.99}, True, "promoted"),
        (Gate("auc", 0.10), {"version": "2024-01-02", "auc": 0.99}, True, "promoted"),  # a rerun of its own day
        (Gate("mae", 1.2, higher_is_better=False, baselines={"median": 1.3}), None, True, "promoted"),
        (Gate("mae", 1.4, higher_is_better=False, baselines={"median": 1.3}), None, False, "'median' (1.3000)"),
    ],
)
def test_the_verdict(gate, champion, promote, says):
    decided = verdict(gate, champion, "2024-01-02")
    assert decided["promote"] is promote
    assert says in decided["reason"]


def test_a_lead_within_the_noise_is_no_lead_and_the_baseline_it_did_not_beat_is_served():
    coin = {"lead": 0.007, "ci95": [-0.12, 0.13], "resamples": 1000}
    gate = Gate(
        "auc",
        0.507,
        baselines={"majority class": 0.5},
        leads={"majority class": coin},
        servable={"majority class": {"model": "majority_class"}},
    )
    decided = verdict(gate, None, "2024-01-02")
    assert (decided["beats_baseline"], decided["serves"], decided["promote"]) == (False, "majority class", True)
    assert "within the noise" in decided["reason"]
    assert "[-0.1200, +0.1300]" in decided["reason"]
    assert decided["leads"]["majority class"]["ci95"] == [-0.12, 0.13]


def test_a_lead_that_holds_on_the_paired_bootstrap_is_promoted_and_says_its_interval():
    gate = Gate(
        "auc",
        0.80,
        baselines={"rate": 0.70, "constant": 0.5},
        leads={"rate": {"lead": 0.1, "ci95": [0.04, 0.16], "resamples": 1000}},
    )
    decided = verdict(gate, None, "2024-01-02")
    assert decided["promote"]
    assert decided["beats_baseline"]
    assert (
        decided["reason"]
        == "promoted: beats the baseline 'rate' (0.7000), lead [+0.0400, +0.1600] (paired bootstrap 95 %)"
    )


def test_rows_too_thin_to_rank_promote_no_model_over_its_baseline_whatever_its_score():
    gate = Gate("auc", 0.99, baselines={"majority class": 0.5}, unranked="4 retained users < 30")
    decided = verdict(gate, None, "2024-01-02")
    assert not decided["promote"]
    assert not decided["beats_baseline"]
    assert "cannot rank" in decided["reason"]
    assert "4 retained users < 30" in decided["reason"]
    assert decided["unranked"] == "4 retained users < 30"


def test_a_model_that_loses_beyond_noise_elsewhere_is_not_promoted_and_the_verdict_says_where():
    gate = Gate("auc", 0.86, baselines={"rate": 0.83}, leads={"rate": {"lead": 0.03, "ci95": [0.005, 0.06]}},
                vetoes={"unseen games": "'positive_prob alone' leads by [+0.02, +0.20]"},
                servable={"rate": {"model": "per_game_rate"}})  # fmt: skip
    decided = verdict(gate, None, "2024-01-02")
    assert decided["serves"] == "rate"
    assert not decided["beats_baseline"]
    assert "loses elsewhere — unseen games: 'positive_prob alone' leads by" in decided["reason"]
    assert decided["vetoes"] == {"unseen games": "'positive_prob alone' leads by [+0.02, +0.20]"}


def test_a_champion_is_replaced_only_by_a_lead_beyond_noise_over_its_own_predictions():
    champion = {"version": "2024-01-01", "auc": 0.84}
    baselines = {"baselines": {"rate": 0.70}, "leads": {"rate": {"lead": 0.16, "ci95": [0.1, 0.2]}}}
    close = Gate("auc", 0.86, champion_score=lambda c: {"score": 0.85, "lead": {"lead": 0.01, "ci95": [-0.01, 0.03]}},
                 **baselines)  # fmt: skip
    decided = verdict(close, champion, "2024-01-02")
    assert not decided["promote"]
    assert decided["champion_score"] == 0.85
    assert decided["champion_lead"]["ci95"] == [-0.01, 0.03]
    assert "lead within the noise" in decided["reason"]
    assert "the champion stays" in decided["reason"]
    ahead = Gate("auc", 0.90, champion_score=lambda c: {"score": 0.85, "lead": {"lead": 0.05, "ci95": [0.02, 0.08]}},
                 **baselines)  # fmt: skip
    assert verdict(ahead, champion, "2024-01-02")["promote"]
    assert verdict(close, {"version": "2024-01-02", "auc": 0.84}, "2024-01-02")["promote"]  # a rerun of its own day
    # the same model retrained on the same rows: its re-scored champion differs in the last bit, the lead is nil
    nil = {"score": 0.8453100437258079, "lead": {"lead": 0.0, "ci95": [0.0, 0.0]}}
    copy = Gate("auc", 0.8453100437258078, champion_score=lambda c: nil, **baselines)
    decided = verdict(copy, champion, "2024-01-02")
    assert not decided["promote"]
    assert "the champion stays" in decided["reason"]  # not "worse than the champion's 0.8453"


def _publish(lake: str, tmp_path: Path, ds: str, score: float, baseline: float, mlflow_uri: str = "none") -> dict:
    local = tmp_path / f"v-{ds}-{score}"
    local.mkdir()
    (local / "model.bin").write_bytes(b"weights")
    return publish_model_version(
        lake_root=lake, name="m", ds=ds, metrics={"auc": score}, config={"seed": 7}, local_dir=local,
        gate=Gate("auc", score, baselines={"per-game rate": baseline}), pointer={"model": "xgb"},
        tracking=Tracking(mlflow_uri, params={"seed": 7}, metrics={"auc": score}),
        cards=lambda gate: {"model_card.md": f"gate: {gate['reason']}"},
    )  # fmt: skip


def test_a_champion_that_cannot_be_rescored_is_judged_by_its_recorded_score(caplog):
    def broken(pointer):
        raise OSError("its files were vacuumed")

    decided = verdict(Gate("auc", 0.90, champion_score=broken), {"version": "2024-01-01", "auc": 0.95}, "2024-01-02")
    assert (decided["champion_score"], decided["promote"]) == (0.95, False)
    assert "not scorable on these held-out rows (its files were vacuumed)" in caplog.text


def test_with_the_baseline_gate_off_a_losing_model_is_promoted_and_the_verdict_says_so(monkeypatch):
    monkeypatch.setenv("SHOPLAKE_BASELINE_GATE", "off")
    decided = verdict(Gate("auc", 0.80, baselines={"rate": 0.83}), None, "2024-01-02")
    assert decided["promote"] is True
    assert decided["beats_baseline"] is False
    assert "promoted although the model's auc 0.8000 does not beat the baseline 'rate'" in decided["reason"]
    monkeypatch.setenv("SHOPLAKE_BASELINE_GATE", "maybe")
    with pytest.raises(ValueError, match="use on or off"):
        verdict(Gate("auc", 0.80), None, "2024-01-02")


def test_a_version_that_loses_to_its_baseline_is_written_but_not_promoted(tmp_path):
    lake = str(tmp_path / "lake")
    lost = _publish(lake, tmp_path, "2024-01-01", 0.70, 0.83)
    assert lost["promoted"] is False
    assert (lost["baseline"], lost["baseline_score"]) == ("per-game rate", 0.83)
    assert read_current(lake, "m") is None  # nothing to serve rather than a model worse than the obvious rule
    written = Path(lost["path"])
    metrics = json.loads((written / "metrics.json").read_text())
    assert metrics["gate"]["reason"] == lost["reason"]
    assert metrics["gate"]["beats_baseline"] is False
    assert json.loads((written / "config.json.snapshot").read_text()) == {"seed": 7}
    assert (written / "model_card.md").read_text() == f"gate: {lost['reason']}"
    assert (written / "model.bin").read_bytes() == b"weights"

    won = _publish(lake, tmp_path, "2024-01-02", 0.90, 0.83)
    assert won["promoted"] is True
    current = read_current(lake, "m")
    assert (current["version"], current["auc"], current["model"]) == ("2024-01-02", 0.90, "xgb")


def test_mlflows_alias_follows_the_lakes_pointer(tmp_path):
    pytest.importorskip("mlflow")
    lake = str(tmp_path / "lake")
    uri = f"sqlite:///{tmp_path}/mlflow.db"
    first = _publish(lake, tmp_path, "2024-01-01", 0.90, 0.83, uri)
    second = _publish(lake, tmp_path, "2024-01-02", 0.80, 0.70, uri)  # beats its baseline, worse than the champion
    assert (first["promoted"], second["promoted"]) == (True, False)
    assert read_current(lake, "m")["mlflow_version"] == first["mlflow_model_version"] == "1"
    with sqlite3.connect(tmp_path / "mlflow.db") as con:
        versions = con.execute("select version from model_versions where name = 'm' order by version").fetchall()
        aliases = con.execute("select alias, version from registered_model_aliases where name = 'm'").fetchall()
    assert versions == [(1,), (2,)]  # every version tracked, promoted or not
    assert aliases == [("champion", 1)]
    import mlflow

    runs = {r.data.tags["gate.promote"]: r for r in mlflow.MlflowClient(uri).search_runs(
        [e.experiment_id for e in mlflow.MlflowClient(uri).search_experiments()])}  # fmt: skip
    assert set(runs) == {"True", "False"}  # the verdict is on each run, where MLflow users look
    assert runs["False"].data.tags["gate.reason"].startswith("not promoted: auc 0.8000 is worse than the champion")
    assert runs["True"].data.tags["gate.baseline"] == "per-game rate"


@pytest.mark.parametrize(
    ("higher", "score", "baseline", "beats"),
    [(True, 0.84, 0.83, True), (True, 0.83, 0.83, False), (True, 0.82, 0.83, False), (False, 0.9, 1.0, True),
     (False, 1.0, 1.0, False)],
)  # fmt: skip
def test_mlflows_model_validation_decides_whether_a_model_beats_its_baseline(higher, score, baseline, beats):
    from shoplake.ml.publishing import Gate, beats_baseline

    assert beats_baseline(Gate("m", score, higher_is_better=higher), baseline) is beats


def test_a_winning_baseline_the_version_can_serve_is_published_as_the_champion(tmp_path):
    """The model loses to its strongest baseline; the version's files serve that baseline: the pointer names the
    baseline with its score, the verdict says so — and a later model must beat the baseline's score to replace it."""
    lake = str(tmp_path / "lake")

    def publish(ds: str, score: float, baseline: float) -> dict:
        local = tmp_path / f"v-{ds}"
        local.mkdir()
        (local / "median.json").write_text("{}")
        return publish_model_version(
            lake_root=lake, name="m", ds=ds, metrics={"rmse": score}, config={"seed": 7}, local_dir=local,
            pointer={"model": "xgb"},
            gate=Gate("rmse", score, higher_is_better=False, baselines={"median": baseline, "mean": baseline + 1},
                      servable={"median": {"model": "median"}}),
        )  # fmt: skip

    first = publish("2024-01-01", 1.30, 1.20)
    assert first["promoted"]
    assert first["serves"] == "median"
    assert first["reason"].startswith("the baseline 'median' is published as the champion: the model's rmse 1.3000")
    pointer = read_current(lake, "m")
    assert (pointer["model"], pointer["baseline"], pointer["rmse"]) == ("median", "median", 1.20)
    second = publish("2024-01-02", 1.25, 1.40)  # beats its own baseline, but not the served median's 1.20
    assert (second["promoted"], read_current(lake, "m")["version"]) == (False, "2024-01-01")
    third = publish("2024-01-03", 1.10, 1.40)
    assert third["promoted"]
    assert third["serves"] == "model"
    assert read_current(lake, "m")["model"] == "xgb"
