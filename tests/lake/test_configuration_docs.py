"""docs/configuration.md is generated from the settings' declarations and never drifts from them."""

from __future__ import annotations

import dataclasses
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_the_reference_is_the_declarations():
    from shoplake.config import with_reference

    page = (ROOT / "docs" / "configuration.md").read_text()
    assert page == with_reference(page), (
        "docs/configuration.md differs from shoplake.config: run `python scripts/configuration_docs.py`"
    )


def test_every_setting_is_declared_with_help_and_documented_by_its_variable():
    from shoplake.config import EmrSettings, SageMakerSettings, ServeSettings, Settings, env_name

    doc = (ROOT / "docs" / "configuration.md").read_text()
    for cls, prefix in ((Settings, "SHOPLAKE_"), (EmrSettings, "SHOPLAKE_EMR_"), (SageMakerSettings,
                        "SHOPLAKE_SAGEMAKER_"), (ServeSettings, "SHOPLAKE_SERVE_")):  # fmt: skip
        for f in dataclasses.fields(cls):
            assert len(f.metadata.get("help", "")) > 12, f"{cls.__name__}.{f.name}: declare it with option(help=…)"
            if f.name not in ("emr", "sagemaker", "serve", "churn_sources"):
                assert f"`{env_name(f, prefix)}`" in doc, f"{cls.__name__}.{f.name}"


def test_the_documented_variables_are_the_ones_read(monkeypatch):
    """What the page names is what from_env reads: an aliased name (SHOPLAKE_EMR_CORE_INSTANCES) included."""
    from shoplake.config import Settings

    got = Settings.from_env({"SHOPLAKE_EMR_CORE_INSTANCES": "5", "SHOPLAKE_SERVE_MAX_BATCH": "9",
                             "SHOPLAKE_SAMPLE_DATA": "/data", "SHOPLAKE_LAKE_ROOT": "s3://b/lake"})  # fmt: skip
    assert (got.emr.core_instance_count, got.serve.max_batch, got.sample_data_dir) == (5, 9, "/data")
    assert "api_key" not in repr(Settings.from_env({"SHOPLAKE_API_KEY": "s3cret"}))


def test_the_script_checks_the_file():
    run = subprocess.run([sys.executable, str(ROOT / "scripts" / "configuration_docs.py"), "--check"],
                         capture_output=True, text=True)  # fmt: skip
    assert run.returncode == 0, run.stdout + run.stderr
