"""Model zone layout: ``model/<name>/version=<ds>/`` versions and the ``current.json`` champion pointer.

A version is committed as a set of files (``shoplake.io.filecommit.FileCommit``): its files go to a fresh
immutable ``version=<ds>/v-<utc time>-<id>/``, then ``version=<ds>/_current.json`` is written last, so a rerun of
the same day replaces the version whole and a reader (or a writer killed at any step) sees the old files or the new
ones, never a half-copied directory — on S3 / GCS too. Only then does ``current.json`` move (one object, replaced
whole), and only if the new model is not worse than the champion on the gating metric. Readers resolve the champion
through ``current.json`` (:func:`read_current`: ``path`` is the committed files' directory) and a given day's
version through :func:`version_files`. Versions written before version pointers (files directly in
``version=<ds>/``) are still read.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from shoplake.paths import CURRENT_FILE, model_root, version_path

if TYPE_CHECKING:
    from fsspec import AbstractFileSystem

log = logging.getLogger(__name__)

#: champions that are a constant or a rule of thumb, not a learnt model: the service and the Lake page name them as
#: such (a tweet engagement champion ``median`` answers the training median for every tweet)
BASELINE_MODELS = frozenset(
    {"median", "mean", "majority", "majority_class", "popularity", "constant", "per_account_mean"}
)


def is_baseline(model: str | None) -> bool:
    """Whether a champion's model name is one of :data:`BASELINE_MODELS` (``majority_baseline`` too)."""
    name = (model or "").lower()
    return name in BASELINE_MODELS or name.endswith("_baseline")


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
    from shoplake.io.lake import filesystem, is_local

    fs, root = filesystem(root_uri)
    path = f"{root}/{CURRENT_FILE}"
    if not is_local(fs):  # another process may have moved it: no cached listing may stand in for it
        fs.invalidate_cache(path)
    if not fs.exists(path):
        return None
    pointer = json.loads(fs.cat(path))
    version_uri = f"{root_uri.rstrip('/')}/{version_dir(pointer)}"
    files = pointer.get("files")  # the immutable files it was promoted with (a rerun of its day commits others)
    valid = isinstance(files, str) and files.startswith("v-") and "/" not in files
    pointer["path"] = f"{version_uri}/{files}" if valid else resolve_version(version_uri)
    return pointer


def resolve_version(version_uri: str) -> str:
    """The directory holding the committed files of the model version at ``version_uri`` (``…/version=<ds>``):
    ``…/version=<ds>/v-…`` named by its pointer, or ``version_uri`` itself for a version written before version
    pointers (or one that does not exist: reading its files then fails with the path)."""
    from shoplake.io.filecommit import read_pointer as committed

    pointer = committed(version_uri)
    return f"{version_uri.rstrip('/')}/{pointer['version']}" if pointer else version_uri.rstrip("/")


def version_files(lake_root: str, name: str, ds: str) -> str:
    """The committed files' directory of model ``name``'s version for ``ds`` (see :func:`resolve_version`)."""
    return resolve_version(version_path(lake_root, name, ds))


def version_dir(pointer: dict[str, Any]) -> str:
    """The version directory a pointer names, relative to its model root (``version=<ds>``)."""
    rel = pointer.get("version_dir") or pointer.get("path", "").rstrip("/").rsplit("/", 1)[-1]
    if not rel.startswith("version="):
        rel = f"version={pointer['version']}"
    return rel


def publish_dir(local_dir: Path, lake_root: str, name: str, ds: str) -> str:
    """Commit the finished ``local_dir`` as the version for ``ds`` (a fresh immutable directory, its pointer written
    last); returns the committed files' directory. ``current.json`` is not touched (:func:`promote_if_not_worse`
    decides)."""
    from shoplake.io.filecommit import FileCommit

    with FileCommit(version_path(lake_root, name, ds)) as commit:
        commit.fs.put(str(local_dir) + "/", commit.fs_version + "/", recursive=True)
        commit.commit(keep=_champion_files(lake_root, name, ds))
    return commit.version_path


def commit_version(staged: str, lake_root: str, name: str, ds: str) -> str:
    """Commit a finished staging directory (a Spark model written in place) as the version for ``ds``: moved into
    a fresh immutable directory (a rename on a local disk; copies on S3 / GCS, invisible until the pointer is
    written), then committed; returns the committed files' directory."""
    from shoplake.io.filecommit import FileCommit, move_dir
    from shoplake.io.lake import filesystem

    _, tmp = filesystem(staged)
    with FileCommit(version_path(lake_root, name, ds)) as commit:
        move_dir(commit.fs, tmp, commit.fs_version)
        commit.commit(keep=_champion_files(lake_root, name, ds))
    return commit.version_path


def _champion_files(lake_root: str, name: str, ds: str) -> list[str]:
    """The files version the champion pointer names when it is the version for ``ds`` (a commit of that day must
    keep it until the pointer moves on); none otherwise."""
    champion = read_current(lake_root, name)
    if champion is None or version_dir(champion) != f"version={ds}":
        return []
    files = champion["path"].rstrip("/").rsplit("/", 1)[-1]
    return [files] if files.startswith("v-") else []


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
    from shoplake.io.filecommit import put_whole
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
        files = resolve_version(final_uri).rsplit("/", 1)[-1]  # this run's files: immutable, unlike the day's
        pointer = {"version": ds, "version_dir": rel, "path": rel, "metric": metric, metric: score, **(extra or {})}
        if files.startswith("v-"):
            pointer["files"] = files
        put_whole(fs, f"{root}/{CURRENT_FILE}", json.dumps(pointer, sort_keys=True).encode())  # replaced whole
    log.info(
        "model %s: held-out %s %.4f vs champion %s; current %s",
        final_uri,
        metric,
        score,
        "none" if champ is None else f"{champ:.4f}",
        "moved" if promoted else "kept",
    )
    path = resolve_version(final_uri)  # the committed files of the version for ds (this run's)
    return {"path": path, "score": score, "promoted": promoted, "champion": champion, "champion_score": champ}


def copy_champion(lake_root: str, name: str, dst_fs: AbstractFileSystem, dst_root: str) -> dict[str, Any]:
    """Copy model ``name``'s champion version, then its ``current.json``, under ``<dst_root>/<name>/`` on another
    filesystem (a partner's bucket, opened with that bucket's credentials). The pointer goes last, so a consumer
    reading the copy's ``current.json`` (``read_pointer``) never lands on a version whose files are still arriving.

    Returns:
        ``{"name", "version", "files", "bytes", "path", "relative"}`` (``path``: the copied version's files, as
        ``dst_fs`` spells it; ``relative``: the same below ``<dst_root>/<name>``, e.g. ``version=<ds>/v-…``).

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
    # the same layout as in the lake (version=<ds>/v-… when the pointer names its files), so the copied pointer
    # resolves there as it does here
    relative = current["path"][len(model_root(lake_root, name).rstrip("/")) + 1 :]
    dst_version = f"{dst_model}/{relative}"
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
    return {"name": name, "version": current["version"], "files": len(files), "bytes": total, "path": dst_version,
            "relative": relative}  # fmt: skip
