"""The model zone's champion pointer: relative, so a lake copied elsewhere keeps resolving it."""

import json
import shutil
from pathlib import Path

from shoplake.ml.publishing import Gate, publish_model_version
from shoplake.ml.registry import read_current, version_files


def _version(tmp_path, name="v"):
    d = tmp_path / name
    d.mkdir()
    (d / "model.json").write_text("{}")
    return d


def publish_version(local_dir, lake_root, name, ds, *, auc):
    """The one publishing path (``publish_model_version``), gated on AUC alone, untracked."""
    return publish_model_version(
        lake_root=lake_root, name=name, ds=ds, gate=Gate("auc", auc), metrics={}, config={}, local_dir=Path(local_dir)
    )


def test_a_copied_lake_resolves_its_pointers_where_it_is_now(tmp_path):
    lake_a = tmp_path / "a" / "lake"
    result = publish_version(_version(tmp_path), str(lake_a), "m", "2019-03-03", auc=0.8)
    assert result["promoted"] is True
    pointer = json.loads((lake_a / "model" / "m" / "current.json").read_text())
    assert pointer["path"] == "version=2019-03-03"  # relative to the model root
    committed = read_current(str(lake_a), "m")["path"]
    assert committed.startswith(f"{lake_a}/model/m/version=2019-03-03/v-")
    assert committed == result["path"]

    lake_b = tmp_path / "b" / "lake"
    shutil.copytree(lake_a, lake_b)
    shutil.rmtree(lake_a)
    current = read_current(str(lake_b), "m")
    assert current["path"] == committed.replace(str(lake_a), str(lake_b))
    assert (Path(current["path"]) / "metrics.json").is_file()


def test_a_rerun_of_a_day_commits_a_new_immutable_version_and_keeps_the_one_it_replaced(tmp_path):
    lake = str(tmp_path / "lake")
    first = publish_version(_version(tmp_path, "a"), lake, "m", "2019-03-03", auc=0.8)["path"]
    (tmp_path / "b").mkdir()
    (tmp_path / "b" / "model.json").write_text('{"rerun": true}')
    second = publish_version(tmp_path / "b", lake, "m", "2019-03-03", auc=0.8)["path"]
    assert second != first
    assert version_files(lake, "m", "2019-03-03") == second == read_current(lake, "m")["path"]
    assert json.loads((Path(second) / "model.json").read_text()) == {"rerun": True}
    # a reader that resolved the first version before the rerun can still finish reading it
    assert json.loads((Path(first) / "model.json").read_text()) == {}
    version_dir = tmp_path / "lake" / "model" / "m" / "version=2019-03-03"
    assert sorted(p.name for p in version_dir.iterdir()) == sorted(
        ["_current.json", Path(first).name, Path(second).name]
    )


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


def test_the_champion_keeps_its_own_files_while_reruns_of_its_day_commit_others(tmp_path):
    """The champion pointer names the immutable files it was promoted with: reruns of its day that have not
    (yet) moved it — killed before the promotion, say — neither change what it serves nor delete its files."""
    from shoplake.ml.registry import promote_if_not_worse, publish_dir

    lake = str(tmp_path / "lake")
    champion = publish_version(_version(tmp_path, "a"), lake, "m", "2019-03-03", auc=0.8)["path"]
    assert json.loads((tmp_path / "lake" / "model" / "m" / "current.json").read_text())["files"] == Path(champion).name
    for rerun in ("b", "c"):  # two reruns whose promotion never happened
        d = _version(tmp_path, rerun)
        (d / "model.json").write_text(json.dumps({"rerun": rerun}))
        latest = publish_dir(d, lake, "m", "2019-03-03")
    assert version_files(lake, "m", "2019-03-03") == latest
    assert read_current(lake, "m")["path"] == champion  # still what it was promoted with, whole
    assert json.loads((Path(champion) / "model.json").read_text()) == {}
    promote_if_not_worse(lake, "m", "2019-03-03", metric="auc", score=0.8)
    assert read_current(lake, "m")["path"] == latest
