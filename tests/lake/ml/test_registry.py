"""The model zone's champion pointer: relative, so a lake copied elsewhere keeps resolving it."""

import json
import shutil

from shoplake.ml.registry import publish_version, read_current


def _version(tmp_path, name="v"):
    d = tmp_path / name
    d.mkdir()
    (d / "metrics.json").write_text("{}")
    return d


def test_a_copied_lake_resolves_its_pointers_where_it_is_now(tmp_path):
    lake_a = tmp_path / "a" / "lake"
    result = publish_version(_version(tmp_path), str(lake_a), "m", "2019-03-03", auc=0.8)
    assert result["promoted"] is True
    pointer = json.loads((lake_a / "model" / "m" / "current.json").read_text())
    assert pointer["path"] == "version=2019-03-03"  # relative to the model root
    assert read_current(str(lake_a), "m")["path"] == f"{lake_a}/model/m/version=2019-03-03"

    lake_b = tmp_path / "b" / "lake"
    shutil.copytree(lake_a, lake_b)
    shutil.rmtree(lake_a)
    current = read_current(str(lake_b), "m")
    assert current["path"] == f"{lake_b}/model/m/version=2019-03-03"
    assert (tmp_path / "b" / "lake" / "model" / "m" / "version=2019-03-03" / "metrics.json").is_file()


def test_old_absolute_pointers_still_read(tmp_path):
    root = tmp_path / "lake" / "model" / "m"
    (root / "version=2019-01-01").mkdir(parents=True)
    old = {"version": "2019-01-01", "path": "/somewhere/else/lake/model/m/version=2019-01-01", "auc": 0.7}
    (root / "current.json").write_text(json.dumps(old))
    current = read_current(str(tmp_path / "lake"), "m")
    assert current["path"] == f"{root}/version=2019-01-01"
    assert current["auc"] == 0.7
    # gating still compares with the recorded score: a worse model does not move the pointer
    worse = publish_version(_version(tmp_path), str(tmp_path / "lake"), "m", "2019-01-08", auc=0.6)
    assert worse["promoted"] is False
    assert json.loads((root / "current.json").read_text())["version"] == "2019-01-01"
