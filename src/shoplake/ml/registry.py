"""Model zone layout: ``model/<name>/version=<ds>/`` directories and the ``current.json`` champion pointer.

A training run writes its version directory (a rerun replaces its own), and only then moves ``current.json`` —
and only if the new model is not worse than the champion on the gating metric. Readers (scoring jobs, the next
training run) resolve the champion through ``current.json``, so they never see a half-written version.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable
from pathlib import Path
from typing import Any

from shoplake.paths import Zone, dataset_path, validate_ds

log = logging.getLogger(__name__)

CURRENT_FILE = "current.json"


def model_root(lake_root: str, name: str) -> str:
    """``<lake_root>/model/<name>`` (the parent of its versions and of ``current.json``)."""
    return dataset_path(lake_root, Zone.MODEL, name)


def version_path(lake_root: str, name: str, ds: str) -> str:
    """Directory of the version trained for ``ds``."""
    return f"{model_root(lake_root, name)}/version={validate_ds(ds)}"


def read_current(lake_root: str, name: str) -> dict[str, Any] | None:
    """The champion pointer (``{"version", "path", "auc", ...}``), or ``None`` before the first promotion."""
    from shoplake.io.lake import filesystem

    fs, root = filesystem(model_root(lake_root, name))
    path = f"{root}/{CURRENT_FILE}"
    return json.loads(fs.cat(path)) if fs.exists(path) else None


def publish_version(
    local_dir: Path,
    lake_root: str,
    name: str,
    ds: str,
    *,
    auc: float,
    champion_auc: Callable[[dict[str, Any]], float | None] | None = None,
    extra: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """Copy ``local_dir`` to ``version=<ds>`` (temp + swap), then move ``current.json`` if not worse.

    Args:
        local_dir: the finished version (model, metrics, plots, config snapshot).
        lake_root / name / ds: where it goes.
        auc: the new model's held-out AUC (the gating metric).
        champion_auc: computes the champion's AUC on the *same* held-out rows from its pointer; when it is not
            given or returns ``None``, the AUC the champion recorded at its own promotion is used.
        extra: more fields for ``current.json`` (revision, target…).

    Returns:
        ``{"path", "auc", "promoted", "champion", "champion_auc"}``. A rerun of the champion's own version is
        always promoted (it replaces itself).
    """
    from shoplake.io.lake import filesystem, hidden_sibling, swap_in

    final_uri = version_path(lake_root, name, ds)
    fs, final = filesystem(final_uri)
    tmp = hidden_sibling(final, "tmp")
    try:
        fs.put(str(local_dir) + "/", tmp + "/", recursive=True)
        swap_in(fs, tmp, final)
    finally:
        if fs.exists(tmp):
            fs.rm(tmp, recursive=True)

    champion = read_current(lake_root, name)
    champ_auc = None
    if champion is not None and champion["version"] != ds:
        champ_auc = champion_auc(champion) if champion_auc else None
        if champ_auc is None:
            champ_auc = champion["auc"]
    promoted = champ_auc is None or auc >= champ_auc
    if promoted:
        _, root = filesystem(model_root(lake_root, name))
        with fs.open(f"{root}/{CURRENT_FILE}", "w") as fh:
            json.dump({"version": ds, "path": final_uri, "auc": auc, **(extra or {})}, fh, sort_keys=True)
    log.info(
        "model %s: held-out AUC %.4f vs champion %s; current %s",
        final_uri,
        auc,
        "none" if champ_auc is None else f"{champ_auc:.4f}",
        "moved" if promoted else "kept",
    )
    return {"path": final_uri, "auc": auc, "promoted": promoted, "champion": champion, "champion_auc": champ_auc}
