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
from typing import TYPE_CHECKING, Any

from shoplake.paths import CURRENT_FILE, hidden_sibling, model_root, version_path

if TYPE_CHECKING:
    from fsspec import AbstractFileSystem

log = logging.getLogger(__name__)


def read_current(lake_root: str, name: str) -> dict[str, Any] | None:
    """The champion pointer (``{"version", "path", "auc", ...}``), or ``None`` before the first promotion.

    ``path`` comes back absolute, resolved against where the model root is now.
    """
    return read_pointer(model_root(lake_root, name))


def read_current_metrics(lake_root: str, name: str) -> tuple[dict[str, Any], dict[str, Any]] | None:
    """The champion pointer and its version's ``metrics.json`` (on any lake: a path, ``s3://``, ``gs://``), or
    ``None`` before the first promotion."""
    from shoplake.io.lake import filesystem

    pointer = read_current(lake_root, name)
    if pointer is None:
        return None
    fs, path = filesystem(f"{pointer['path']}/metrics.json")
    return pointer, json.loads(fs.cat(path))


def read_pointer(root_uri: str) -> dict[str, Any] | None:
    """``current.json`` of the model root at ``root_uri`` with ``path`` resolved against it, or ``None``.

    Pointers store the version relative to the model root (``version=<ds>``), so a lake copied or synced elsewhere
    (another machine, a bucket) keeps working; older pointers with an absolute ``path`` are read by the version
    they name, resolved the same way.
    """
    from shoplake.io.lake import filesystem

    fs, root = filesystem(root_uri)
    path = f"{root}/{CURRENT_FILE}"
    if not fs.exists(path):
        return None
    pointer = json.loads(fs.cat(path))
    pointer["path"] = f"{root_uri.rstrip('/')}/{version_dir(pointer)}"
    return pointer


def version_dir(pointer: dict[str, Any]) -> str:
    """The version directory a pointer names, relative to its model root (``version=<ds>``)."""
    rel = pointer.get("version_dir") or pointer.get("path", "").rstrip("/").rsplit("/", 1)[-1]
    if not rel.startswith("version="):
        rel = f"version={pointer['version']}"
    return rel


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
    """Copy ``local_dir`` to ``version=<ds>`` (temp + swap), then move ``current.json`` if not worse on AUC.

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
    publish_dir(local_dir, lake_root, name, ds)
    result = promote_if_not_worse(
        lake_root, name, ds, metric="auc", score=auc, champion_score=champion_auc, extra=extra
    )
    return {**result, "auc": auc, "champion_auc": result["champion_score"]}


def publish_dir(local_dir: Path, lake_root: str, name: str, ds: str) -> str:
    """Copy the finished ``local_dir`` to ``version=<ds>`` (a hidden temp sibling, then swapped in); returns the
    version path. ``current.json`` is not touched (:func:`promote_if_not_worse` decides)."""
    from shoplake.io.lake import filesystem, swap_in

    final_uri = version_path(lake_root, name, ds)
    fs, final = filesystem(final_uri)
    tmp = hidden_sibling(final, "tmp")  # spelled as ``fs`` spells paths (no s3:// prefix): swapped in with ``fs``
    try:
        fs.put(str(local_dir) + "/", tmp + "/", recursive=True)
        swap_in(fs, tmp, final)
        return final_uri
    finally:
        if fs.exists(tmp):
            fs.rm(tmp, recursive=True)


def commit_version(staged: str, lake_root: str, name: str, ds: str) -> str:
    """Swap a finished staging directory in as ``version=<ds>`` (replacing a rerun's); returns the version path."""
    from shoplake.io.lake import filesystem, swap_in

    final_uri = version_path(lake_root, name, ds)
    fs, final = filesystem(final_uri)
    _, tmp = filesystem(staged)
    swap_in(fs, tmp, final)
    return final_uri


def promote_if_not_worse(
    lake_root: str,
    name: str,
    ds: str,
    *,
    metric: str,
    score: float,
    champion_score: Callable[[dict[str, Any]], float | None] | None = None,
    extra: dict[str, Any] | None = None,
    higher_is_better: bool = True,
) -> dict[str, Any]:
    """Move ``current.json`` to ``version=<ds>`` unless the champion scores better on ``metric`` (higher, or lower
    with ``higher_is_better=False``: an error such as MAE).

    ``champion_score`` re-scores the champion on this run's held-out rows; without it (or when it returns
    ``None``) the champion's recorded score is used. A rerun of the champion's own version is always promoted.
    """
    from shoplake.io.lake import filesystem

    final_uri = version_path(lake_root, name, ds)
    champion = read_current(lake_root, name)
    champ = None
    if champion is not None and champion["version"] != ds:
        champ = champion_score(champion) if champion_score else None
        if champ is None:
            champ = champion.get(metric)
    promoted = champ is None or (score >= champ if higher_is_better else score <= champ)
    if promoted:
        fs, root = filesystem(model_root(lake_root, name))
        # relative to the model root: the lake may be copied or synced elsewhere (read_pointer resolves it)
        rel = final_uri.rsplit("/", 1)[-1]
        pointer = {"version": ds, "version_dir": rel, "path": rel, "metric": metric, metric: score, **(extra or {})}
        with fs.open(f"{root}/{CURRENT_FILE}", "w") as fh:
            json.dump(pointer, fh, sort_keys=True)
    log.info(
        "model %s: held-out %s %.4f vs champion %s; current %s",
        final_uri,
        metric,
        score,
        "none" if champ is None else f"{champ:.4f}",
        "moved" if promoted else "kept",
    )
    return {"path": final_uri, "score": score, "promoted": promoted, "champion": champion, "champion_score": champ}


def copy_champion(lake_root: str, name: str, dst_fs: AbstractFileSystem, dst_root: str) -> dict[str, Any]:
    """Copy model ``name``'s champion version, then its ``current.json``, under ``<dst_root>/<name>/`` on another
    filesystem (a partner's bucket, opened with that bucket's credentials). The pointer goes last, so a consumer
    reading the copy's ``current.json`` (``read_pointer``) never lands on a version whose files are still arriving.

    Returns:
        ``{"name", "version", "files", "bytes", "path"}`` (``path``: the copied version, as ``dst_fs`` spells it).

    Raises:
        FileNotFoundError: the lake has no champion for ``name`` yet (train one first).
    """
    import shutil

    from shoplake.io.lake import filesystem

    current = read_current(lake_root, name)
    if current is None:
        raise FileNotFoundError(f"no current {name} model in {lake_root}: train and promote one first")
    src_fs, src_version = filesystem(current["path"])
    _, src_model = filesystem(model_root(lake_root, name))
    dst_model = f"{dst_root.rstrip('/')}/{name}"
    dst_version = f"{dst_model}/{version_dir(current)}"
    files = src_fs.find(src_version, detail=True)  # sizes come with the listing: no request per file
    for f in sorted(files):
        target = f"{dst_version}/{f[len(src_version) + 1 :]}"
        dst_fs.makedirs(target.rsplit("/", 1)[0], exist_ok=True)
        with src_fs.open(f, "rb") as fin, dst_fs.open(target, "wb") as fout:
            shutil.copyfileobj(fin, fout, 8 << 20)
    total = sum(int(info["size"]) for info in files.values())
    dst_fs.pipe_file(f"{dst_model}/{CURRENT_FILE}", src_fs.cat_file(f"{src_model}/{CURRENT_FILE}"))
    log.info("copied %s version %s (%s files, %s bytes) to %s", name, current["version"], len(files), total,
             dst_version)  # fmt: skip
    return {"name": name, "version": current["version"], "files": len(files), "bytes": total, "path": dst_version}
