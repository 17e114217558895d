"""What `make demo` prints about the sentiment models: each route's current version and its evaluation per
language, transfer languages marked, and a plain word where no other language had labels."""

from __future__ import annotations

import os
import sys
from pathlib import Path

from lake_overview import SENTIMENT_METRICS, write_model

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "scripts"))


def test_the_demo_names_each_route_and_its_per_language_evaluation(tmp_path):
    from demo import sentiment_models_summary

    from shoplake.config import Settings

    lake = str(tmp_path / "lake")
    held_out = {k: SENTIMENT_METRICS["by_language"]["model"][k] for k in ("all", "en")}
    english = {"auc": 0.9, "by_language": {"model": held_out}, "train_rows_by_language": {"en": 80}}
    write_model(lake, "sentiment_head", ["2019-02-28"], "2019-02-28", english, plots=())
    env = {
        "SHOPLAKE_LAKE_ROOT": lake,
        "SHOPLAKE_SENTIMENT_MODEL": f"{lake}/model/sentiment_head",
        "SHOPLAKE_SENTIMENT_MULTILINGUAL_MODEL": f"{lake}/model/sentiment_multilingual",
    }
    cfg = Settings.from_env(env)
    lines = sentiment_models_summary(cfg)
    assert lines[0].startswith("routes: en=<lake>/model/sentiment_head")
    assert lines[0].endswith(",*=<lake>/model/sentiment_multilingual")
    assert lines[1] == "en sentiment_head version 2019-02-28 (labels learnt: en 80):"
    assert lines[-1] == " * sentiment_multilingual: no current version in this lake"

    write_model(lake, "sentiment_multilingual", ["2019-02-28"], "2019-02-28", SENTIMENT_METRICS, plots=())
    lines = sentiment_models_summary(cfg)
    star = lines[lines.index(" * sentiment_multilingual version 2019-02-28 (labels learnt: en 1500):") + 1 :]
    assert (
        star[1] == "     held-out de: AUC 0.810 [95% CI 0.790, 0.830] (n 100, 40 negatives)  [cross-lingual transfer]"
    )
    assert star[3].startswith("     held-out th: too few negatives (5 < 30)")
    assert "no transfer figure" not in "\n".join(lines)


def _fake_airflow(tmp_path, body: str) -> str:
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    fake = bin_dir / "airflow"
    fake.write_text(f"#!/bin/bash\n{body}\n")
    fake.chmod(0o755)
    return f"{bin_dir}:{os.environ['PATH']}"


def test_a_dag_run_says_it_is_still_going_and_shows_its_output_only_when_it_fails(tmp_path, monkeypatch, caplog):
    import logging

    import demo

    caplog.set_level(logging.INFO, logger="demo")
    monkeypatch.setattr(demo, "HEARTBEAT_S", 0.2)
    monkeypatch.setenv(
        "PATH", _fake_airflow(tmp_path, 'echo "ti task_id=extract_reviews"; sleep 1; echo "state=success"')
    )
    assert demo.airflow_dags_test("steam_reviews_daily", "2019-03-02")
    beats = [r.getMessage() for r in caplog.records if "running (" in r.getMessage()]
    assert len(beats) >= 2, beats  # a line while the run goes, not one at its end only
    assert "last task mentioned: extract_reviews" in beats[-1]

    failing = tmp_path / "failing"
    failing.mkdir()
    monkeypatch.setenv("PATH", _fake_airflow(failing, 'echo "Traceback: boom"; exit 1'))
    assert not demo.airflow_dags_test("steam_reviews_daily", "2019-03-02")
    assert any("failed (exit 1)" in r.getMessage() for r in caplog.records)
