"""Commits of a set of files (a model version, a file export) — not of table rows, which are Delta tables
(:mod:`shoplake.io.delta`).

A location ``<root>/<key>/`` holds immutable versions and a pointer:

    version=2019-03-02/_current.json        {"version": "v-20261123T204501123456Z-1a2b3c4d", ...}
    version=2019-03-02/v-20261123T204501123456Z-1a2b3c4d/model.json, metrics.json, …

A write fills a fresh version directory, then commits by writing the pointer — one object, written last, which
replaces the old one whole (a single PUT on S3 / GCS, a rename on a local disk). Readers resolve the pointer first
(:func:`resolve`) and read only that version, so a reader never sees a mix of two writes, and a writer killed at
any step leaves the old version (before the pointer) or the new one (after it) readable. After the pointer,
versions other than the new one and the one it replaced are deleted (a reader that resolved the old pointer can
finish).

Why not Delta here: these are files a loader opens by name (a saved model, a CSV for a partner), not rows an
engine scans; a Delta log over them would add nothing a reader of them uses.

Two writers at once: each fills its own version, and commits are serialised by a lock object (``_commit.lock``,
created only if absent: a hard link of a finished temporary file on a local disk, ``If-None-Match: *`` on S3,
``ifGenerationMatch=0`` on GCS). A write loses when another write committed after it began: its version is
discarded and :class:`ConcurrentCommitError` names the version that stands. A version is sealed
(``_sealed.json``) just before its pointer is written; a commit deletes sealed versions no pointer needs at once,
and versions never sealed (a writer killed mid-write, or one still writing) only once nothing in them changed for
``SHOPLAKE_ORPHAN_AFTER_S`` seconds (default an hour). A lock left by a writer killed mid-commit is broken at once
when its process is gone from this host, else once it is older than :data:`LOCK_STALE_S`. Timestamps come from
each writer's clock: hosts are assumed to agree within a second (NTP).
"""

from __future__ import annotations

import contextlib
import datetime as dt
import json
import logging
import os
import time
import uuid
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from shoplake.io.fs import filesystem, is_local

if TYPE_CHECKING:
    from fsspec import AbstractFileSystem

log = logging.getLogger(__name__)

COUNTS_FILE = "_counts.json"
#: the pointer naming a location's committed version
POINTER_FILE = "_current.json"
VERSION_PREFIX = "v-"
#: written into a version just before its pointer: its writer reached the commit (see the module docstring)
SEALED_FILE = "_sealed.json"
#: held while a writer reads the old pointer, writes the new one and cleans up (one commit at a time)
LOCK_FILE = "_commit.lock"
#: a lock older than this is a dead writer's (a commit holds it for a few small requests)
LOCK_STALE_S = 120.0
#: how long a commit waits for another writer's lock before it gives up (a transient error: retried)
LOCK_WAIT_S = 60.0
#: versions never sealed are deleted once nothing in them changed for this long (``SHOPLAKE_ORPHAN_AFTER_S``)
ORPHAN_AFTER_S = 3600.0
_STAMP = "%Y%m%dT%H%M%S%fZ"


def _join(path: str, name: str) -> str:
    return f"{path.rstrip('/')}/{name}"


def read_pointer(path: str) -> dict[str, Any] | None:
    """The committed pointer of the location ``path`` (``None`` when it has none)."""
    fs, root = filesystem(path)
    target = _join(root, POINTER_FILE)
    if not is_local(fs):  # another process may have replaced it: no cached listing or ETag may stand in for it
        fs.invalidate_cache(target)
    try:
        raw = fs.cat_file(target)
    except FileNotFoundError:
        return None
    try:
        pointer = json.loads(raw)
    except ValueError:
        pointer = raw[:200]
    version = pointer.get("version") if isinstance(pointer, dict) else None
    if not isinstance(version, str) or not version.startswith(VERSION_PREFIX) or "/" in version:
        raise ValueError(f"{_join(path, POINTER_FILE)} is not a version pointer: {pointer!r}")
    return pointer


def resolve(path: str) -> str | None:
    """The directory holding the committed files of the location ``path``, spelled like ``path``
    (``s3://…/v-…``); ``None`` when nothing is committed there."""
    pointer = read_pointer(path)
    return None if pointer is None else _join(path, pointer["version"])


def resolve_existing(path: str) -> str:
    """:func:`resolve`, raising when nothing is committed at ``path``."""
    resolved = resolve(path)
    if resolved is None:
        raise FileNotFoundError(f"{path} holds no committed version; has its producing task run?")
    return resolved


class ConcurrentCommitError(RuntimeError):
    """Another writer committed the location while this write was running; its version stands, this one was
    discarded. Rerun the task if this write's data should replace it."""

    def __init__(self, path: str, mine: str, theirs: dict[str, Any]) -> None:
        self.path, self.version, self.other = path, mine, theirs.get("version")
        super().__init__(
            f"{path}: version {self.other} was committed by another writer at {theirs.get('committed_at')},"
            f" after this write ({mine}) began; {mine} was discarded and {self.other} stands"
            " (rerun this task if its data should replace it)"
        )


class CommitLockTimeout(TimeoutError):
    """Another writer held the location's commit lock for longer than :data:`LOCK_WAIT_S` (transient: retry)."""


class FileCommit:
    """One write of a location: a fresh version directory to fill, then :meth:`commit` (the pointer, written
    last) or :meth:`abort` — as a context manager, aborted when its block raises. Used for model versions
    (:mod:`shoplake.ml.registry`) and file exports (the published CSV).

    Attributes:
        path: the location, as the caller spells it.
        version_path: where this write's files go (same spelling; a Spark job may map its scheme).
    """

    def __init__(self, path: str) -> None:
        self.path = path.rstrip("/")
        self.fs, self.root = filesystem(self.path)
        self.started = dt.datetime.now(dt.UTC)
        self.version = f"{VERSION_PREFIX}{self.started.strftime(_STAMP)}-{uuid.uuid4().hex[:8]}"
        self.version_path = _join(self.path, self.version)
        self.fs_version = _join(self.root, self.version)

    def __enter__(self) -> FileCommit:
        return self

    def __exit__(self, exc_type, exc, tb) -> None:
        """A block that raised (before or in :meth:`commit`) leaves no files of this write behind."""
        if exc_type is not None:
            self.abort()

    def write_json(self, name: str, obj: Any) -> None:
        """A small bookkeeping document (``_counts.json``) in this version, before it is committed."""
        self.fs.pipe_file(_join(self.fs_version, name), json.dumps(obj, sort_keys=True).encode())

    def commit(self, counts: dict[str, Any] | None = None, *, keep: Sequence[str] = ()) -> None:
        """Write ``counts`` into the version, then, holding the location's commit lock: refuse if another write
        committed since this one began (:class:`ConcurrentCommitError`), seal the version, point the location at
        it and drop the versions no reader needs (besides the new one and the one it replaced, those named in
        ``keep``: a model's champion pointer may name an older one)."""
        if counts is not None:
            self.write_json(COUNTS_FILE, counts)
        if not self.fs.exists(self.fs_version):  # an empty version (nothing written) is a bug of the caller
            raise RuntimeError(f"nothing was written to {self.version_path}; refusing to commit it")
        with _CommitLock(self.fs, self.root, self.version) as lock:
            previous = read_pointer(self.path)
            if previous is not None and _committed_after(previous, self.started):
                log.warning(
                    "%s: another writer committed %s while this write (%s) ran; discarding %s",
                    self.path,
                    previous["version"],
                    self.version,
                    self.version,
                )
                self.abort()
                raise ConcurrentCommitError(self.path, self.version, previous)
            now = dt.datetime.now(dt.UTC).isoformat(timespec="microseconds")
            self.write_json(SEALED_FILE, {"version": self.version, "sealed_at": now})
            lock.check_held()  # last look before the pointer: a writer that broke the lock as dead took it over
            pointer = {"version": self.version, "committed_at": now}
            put_whole(self.fs, _join(self.root, POINTER_FILE), json.dumps(pointer, sort_keys=True).encode())
            self._drop_except({POINTER_FILE, LOCK_FILE, self.version, previous["version"] if previous else None, *keep})

    def abort(self) -> None:
        """Remove this write's version (the committed version is untouched)."""
        if self.fs.exists(self.fs_version):
            self.fs.rm(self.fs_version, recursive=True)

    def _drop_except(self, keep: set[str | None]) -> None:
        if not is_local(self.fs):
            self.fs.invalidate_cache(self.root)
        orphan_after = float(os.environ.get("SHOPLAKE_ORPHAN_AFTER_S", ORPHAN_AFTER_S))
        for entry in self.fs.ls(self.root, detail=True):
            name = entry["name"].rstrip("/").rsplit("/", 1)[-1]
            if name in keep or name.startswith(LOCK_FILE):  # the lock, and another writer's lock being created
                continue
            if name.startswith(VERSION_PREFIX) and not self._disposable(entry["name"], orphan_after):
                log.info("%s: leaving %s (never sealed, changed lately: a writer may be live)", self.path, name)
                continue
            self.fs.rm(entry["name"], recursive=True)  # replaced versions, dead writers' versions, pre-pointer files

    def _disposable(self, version_dir: str, orphan_after: float) -> bool:
        """A version no pointer names may go when it was sealed (its writer committed, or lost) or nothing in it
        changed for ``orphan_after`` seconds (its writer died)."""
        if self.fs.exists(_join(version_dir, SEALED_FILE)):
            return True
        newest = _newest_change(self.fs, version_dir)
        return newest is None or time.time() - newest >= orphan_after


def _dead_holder(holder: dict[str, Any] | None) -> str | None:
    """Why the lock's holder is dead (``None``: alive, or unknown): its process is gone from this host, or the
    lock is older than :data:`LOCK_STALE_S` (a writer on another host that died mid-commit)."""
    if holder is None:
        return None
    age = time.time() - float(holder.get("at", 0))
    if age > LOCK_STALE_S:
        return f"held for {age:.0f} s (a dead writer)"
    pid = holder.get("pid")
    if holder.get("host") == os.uname().nodename and isinstance(pid, int) and pid != os.getpid():
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return f"its process {pid} is gone from this host"
        except PermissionError:  # alive, another user's
            return None
    return None


def _committed_after(pointer: dict[str, Any], started: dt.datetime) -> bool:
    """Whether ``pointer`` was committed after ``started`` (pointers without a parsable time: no)."""
    try:
        at = dt.datetime.fromisoformat(str(pointer.get("committed_at")))
    except ValueError:
        return False
    if at.tzinfo is None:
        at = at.replace(tzinfo=dt.UTC)
    return at > started


def _newest_change(fs: AbstractFileSystem, path: str) -> float | None:
    """The newest modification time (epoch seconds) of anything under ``path``; ``None`` when it has no files."""
    times = []
    for info in fs.find(path, detail=True, withdirs=False).values():
        stamp = info.get("mtime") or info.get("LastModified") or info.get("updated") or info.get("created")
        if isinstance(stamp, dt.datetime):
            times.append(stamp.timestamp())
        elif isinstance(stamp, str):
            times.append(dt.datetime.fromisoformat(stamp.replace("Z", "+00:00")).timestamp())
        elif isinstance(stamp, int | float):
            times.append(float(stamp))
    return max(times) if times else None


def _create_exclusive(fs: AbstractFileSystem, path: str, body: bytes) -> None:
    """Create ``path`` holding ``body`` only if it does not exist (else :class:`FileExistsError`), atomically:
    on a local disk a finished temporary file hard-linked to the name (fsspec's local ``mode="create"`` checks, then
    writes: two processes can both pass the check); on S3 / GCS a conditional PUT (``If-None-Match: *`` /
    ``ifGenerationMatch=0``)."""
    if not is_local(fs):
        fs.pipe_file(path, body, mode="create")
        return
    local = fs._strip_protocol(path)
    tmp = f"{local}.{uuid.uuid4().hex[:8]}.tmp"
    with open(tmp, "wb") as fh:
        fh.write(body)
    try:
        os.link(tmp, local)  # fails with FileExistsError when the name exists; readers never see it half written
    except FileExistsError:
        raise
    except OSError:  # a filesystem without hard links: O_EXCL (a reader may see it empty: read as held)
        fd = os.open(local, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644)
        with os.fdopen(fd, "wb") as fh:
            fh.write(body)
    finally:
        os.unlink(tmp)


class _CommitLock:
    """The location's commit lock: ``_commit.lock`` created only if absent, removed on exit. A lock whose process
    is gone from this host, or older than :data:`LOCK_STALE_S`, belongs to a writer that died mid-commit and is
    broken (logged). Two writers breaking the same dead lock at once could both end up holding it (a delete is not
    conditional); :meth:`check_held` just before the pointer narrows that to the few milliseconds between the check
    and the pointer's PUT."""

    def __init__(self, fs: AbstractFileSystem, root: str, version: str) -> None:
        self.fs, self.path, self.version = fs, _join(root, LOCK_FILE), version

    def __enter__(self) -> _CommitLock:
        me = {"version": self.version, "at": time.time(), "host": os.uname().nodename, "pid": os.getpid()}
        body = json.dumps(me).encode()
        deadline = time.monotonic() + LOCK_WAIT_S
        self.fs.makedirs(self.path.rsplit("/", 1)[0], exist_ok=True)
        while True:
            try:
                _create_exclusive(self.fs, self.path, body)
            except FileExistsError:
                holder = self._holder()
                dead = _dead_holder(holder)
                if dead:
                    log.warning("breaking %s held by %s: %s", self.path, holder, dead)
                    with contextlib.suppress(FileNotFoundError):
                        self.fs.rm(self.path)
                    continue
                if time.monotonic() > deadline:
                    raise CommitLockTimeout(f"{self.path} held by {holder} for over {LOCK_WAIT_S:.0f} s") from None
                time.sleep(0.05 + 0.1 * (uuid.uuid4().int % 10) / 10)
                continue
            self.check_held()  # a store that ignored the condition would have let another writer overwrite it
            return self

    def check_held(self) -> None:
        """Raise :class:`CommitLockTimeout` (transient: the task retries) when the lock is no longer this writer's."""
        holder = self._holder()
        if holder is None or holder.get("version") != self.version:
            raise CommitLockTimeout(f"{self.path}: taken over by {holder} (the store ignored the exclusive create, or "
                                    "another writer broke it as a dead writer's)")  # fmt: skip

    def __exit__(self, *exc) -> None:
        holder = self._holder()
        if holder is not None and holder.get("version") == self.version:
            self.fs.rm(self.path)

    def _holder(self) -> dict[str, Any] | None:
        if not is_local(self.fs):
            self.fs.invalidate_cache(self.path)
        try:
            return json.loads(self.fs.cat_file(self.path))
        except FileNotFoundError:
            return None
        except ValueError:  # a lock being written, or not one of ours: treat as held now
            return {"at": time.time()}


def put_whole(fs: AbstractFileSystem, path: str, data: bytes) -> None:
    """Replace the object ``path`` whole: readers see the old bytes or the new ones. One PUT on S3 / GCS (an
    object upload is atomic there); on a local disk a temporary file renamed over the target."""
    if not is_local(fs):
        fs.pipe_file(path, data)
        return
    parent, _, name = path.rpartition("/")
    tmp = f"{parent}/.{name}.tmp-{uuid.uuid4().hex[:8]}"
    fs.pipe_file(tmp, data)
    fs.mv(tmp, path)


def move_dir(fs: AbstractFileSystem, src: str, dst: str) -> None:
    """Move directory ``src`` to ``dst``: a rename on a local disk; object by object on S3 / GCS, which have no
    directories to rename — a server-side copy of each object, then the source objects deleted (s3fs's recursive
    ``mv`` also tries to copy the prefix itself; gcsfs's ``mv`` tries GCS's ``moveTo`` first, which the emulators
    lack and which retries for half a minute before falling back to the same copy + delete)."""
    if is_local(fs):
        fs.mv(src, dst, recursive=True)
        return
    src = src.rstrip("/")
    keys = fs.find(src)
    for key in keys:
        fs.copy(key, dst.rstrip("/") + key[len(src) :])
    if keys:
        fs.rm(keys)
    fs.invalidate_cache(src)
