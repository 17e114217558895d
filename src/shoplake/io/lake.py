"""Partition IO on any fsspec filesystem (local disk by default, S3/GCS in production).

A partition ``<dataset>/ds=YYYY-MM-DD/`` holds immutable versions and a pointer:

    ds=2019-03-02/_current.json        {"version": "v-20261123T204501123456Z-1a2b3c4d", ...}
    ds=2019-03-02/v-20261123T204501123456Z-1a2b3c4d/part-00000.parquet, _counts.json

A write fills a fresh version directory, then commits by writing the pointer — one object, written last, which
replaces the old one whole (a single PUT on S3 / GCS, a rename on a local disk). Readers resolve the pointer first
(:func:`resolve`) and read only that version, so a reader never sees a mix of two writes, and a writer killed at
any step leaves the old partition (before the pointer) or the new one (after it) readable. The same code runs on
every filesystem: nothing relies on a directory rename, which S3 and GCS do not have. After the pointer, versions
other than the new one and the one it replaced are deleted (a reader that resolved the old pointer can finish).
Partitions written before this layout (Parquet files directly in ``ds=…/``, no pointer) are still read.

Two writers of one partition at once (a retry while a zombie attempt still runs, a backfill beside a manual run):
each fills its own version, and commits are serialised by a lock object (``_commit.lock``, created only if absent:
a hard link of a finished temporary file on a local disk, ``If-None-Match: *`` on S3, ``ifGenerationMatch=0`` on
GCS). A write loses when another write committed the partition after it began: its version is discarded and
:class:`ConcurrentCommitError` names the version that stands, so the partition holds one writer's whole table and
the loser knows. A version is sealed (``_sealed.json``) just before its pointer is written; a commit deletes
sealed versions no pointer needs at once, and versions never sealed (a writer killed mid-write, or one still
writing) only once nothing in them changed for ``SHOPLAKE_ORPHAN_AFTER_S`` seconds (default an hour), so a commit
never deletes the files of a live writer. A lock left by a writer killed mid-commit is broken at once when its
process is gone from this host, else once it is older than :data:`LOCK_STALE_S`. Timestamps come from each
writer's clock: hosts are assumed to agree within a second (NTP).
"""

from __future__ import annotations

import contextlib
import datetime as dt
import json
import logging
import os
import time
import uuid
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import fsspec
import pyarrow as pa
import pyarrow.parquet as pq

if TYPE_CHECKING:
    from fsspec import AbstractFileSystem

log = logging.getLogger(__name__)

PART_FILE = "part-00000.parquet"
COUNTS_FILE = "_counts.json"
#: the pointer naming a partition's committed version
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


class ConcurrentCommitError(RuntimeError):
    """Another writer committed the partition while this write was running; its version stands, this one was
    discarded. Rerun the task if this write's data should replace it."""

    def __init__(self, path: str, mine: str, theirs: dict[str, Any]) -> None:
        self.path, self.version, self.other = path, mine, theirs.get("version")
        super().__init__(
            f"partition {path}: version {self.other} was committed by another writer at {theirs.get('committed_at')},"
            f" after this write ({mine}) began; {mine} was discarded and {self.other} stands"
            " (rerun this task if its data should replace it)"
        )


class CommitLockTimeout(TimeoutError):
    """Another writer held the partition's commit lock for longer than :data:`LOCK_WAIT_S` (transient: retry)."""


@dataclass(frozen=True)
class PartitionWrite:
    """What a partition write reports (small enough for XCom)."""

    path: str
    rows: int


def filesystem(path: str) -> tuple[AbstractFileSystem, str]:
    """The fsspec filesystem of ``path`` and the path as that filesystem spells it."""
    fs, fs_path = fsspec.core.url_to_fs(path)
    return fs, fs_path


def is_local(fs: AbstractFileSystem) -> bool:
    """Whether ``fs`` is the local disk (a rename replaces a file whole; no listing cache to invalidate)."""
    return "file" in (fs.protocol if isinstance(fs.protocol, tuple) else (fs.protocol,))


def _join(path: str, name: str) -> str:
    return f"{path.rstrip('/')}/{name}"


def _legacy_files(fs: AbstractFileSystem, root: str) -> list[str]:
    """Parquet files directly in a partition directory (the layout before versions and pointers)."""
    try:
        entries = fs.ls(root, detail=True)
    except FileNotFoundError:
        return []
    return sorted(
        e["name"]
        for e in entries
        if e.get("type") == "file"
        and e["name"].endswith(".parquet")
        and not e["name"].rsplit("/", 1)[-1].startswith(("_", "."))
    )


def read_pointer(path: str) -> dict[str, Any] | None:
    """The committed pointer of the partition at ``path`` (``None`` when it has none)."""
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
        raise ValueError(f"{_join(path, POINTER_FILE)} is not a partition pointer: {pointer!r}")
    return pointer


def resolve(path: str) -> str | None:
    """The directory holding the committed content of the partition at ``path``, spelled like ``path``
    (``s3://…/ds=…/v-…``); the partition itself for the pre-pointer layout; ``None`` when nothing is committed
    (no partition, or only versions of writes that never committed)."""
    pointer = read_pointer(path)
    if pointer is not None:
        return _join(path, pointer["version"])
    fs, root = filesystem(path)
    if not is_local(fs):
        fs.invalidate_cache(root)
    return path.rstrip("/") if _legacy_files(fs, root) else None


def resolve_existing(path: str) -> str:
    """:func:`resolve`, raising when nothing is committed at ``path``."""
    resolved = resolve(path)
    if resolved is None:
        raise FileNotFoundError(f"partition {path} does not exist; has its producing task run for this ds?")
    return resolved


def existing_partitions(paths: Sequence[str]) -> tuple[list[str], list[str]]:
    """Split partition paths (e.g. ``shoplake.paths.window_partitions``) into ``(existing, missing)``, in order;
    a partition exists when a write to it has committed."""
    existing, missing = [], []
    for path in paths:
        (existing if resolve(path) is not None else missing).append(path)
    return existing, missing


def partition_days(dataset_root: str) -> list[str]:
    """Days of the committed ``ds=`` partitions under a dataset root, oldest first (hidden siblings, names that
    are not dates and partitions whose only write never committed skipped; none when the dataset does not
    exist)."""
    from shoplake.paths import validate_ds

    fs, root = filesystem(dataset_root)
    if not is_local(fs):
        fs.invalidate_cache(root)
    if not fs.exists(root):
        return []
    days = []
    for entry in fs.ls(root, detail=True):
        name = entry["name"].rstrip("/").rsplit("/", 1)[-1]
        if entry.get("type") == "directory" and name.startswith("ds="):
            try:
                day = validate_ds(name[3:])
            except ValueError:
                continue
            if fs.exists(_join(entry["name"], POINTER_FILE)) or _legacy_files(fs, entry["name"]):
                days.append(day)
    return sorted(days)


class PartitionCommit:
    """One write of a partition: a fresh version directory to fill, then :meth:`commit` (the pointer, written
    last) or :meth:`abort` — as a context manager, aborted when its block raises. Used by the Arrow writer below,
    by ``shoplake.io.spark_lake``, for model versions and published results.

    Attributes:
        path: the partition, as the caller spells it.
        version_path: where this write's files go (same spelling; a Spark job may map its scheme).
    """

    def __init__(self, path: str) -> None:
        self.path = path.rstrip("/")
        self.fs, self.root = filesystem(self.path)
        self.started = dt.datetime.now(dt.UTC)
        self.version = f"{VERSION_PREFIX}{self.started.strftime(_STAMP)}-{uuid.uuid4().hex[:8]}"
        self.version_path = _join(self.path, self.version)
        self.fs_version = _join(self.root, self.version)

    def __enter__(self) -> PartitionCommit:
        return self

    def __exit__(self, exc_type, exc, tb) -> None:
        """A block that raised (before or in :meth:`commit`) leaves no files of this write behind."""
        if exc_type is not None:
            self.abort()

    def write_json(self, name: str, obj: Any) -> None:
        """A small bookkeeping document (``_counts.json``) in this version, before it is committed."""
        self.fs.pipe_file(_join(self.fs_version, name), json.dumps(obj, sort_keys=True).encode())

    def commit(self, counts: dict[str, Any] | None = None, *, keep: Sequence[str] = ()) -> None:
        """Write ``counts`` into the version, then, holding the partition's commit lock: refuse if another write
        committed since this one began (:class:`ConcurrentCommitError`), seal the version, point the partition at
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
                    "partition %s: another writer committed %s while this write (%s) ran; discarding %s",
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
        """Remove this write's version (the committed partition is untouched)."""
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
                log.info(
                    "partition %s: leaving %s (never sealed, changed lately: a writer may be live)", self.path, name
                )
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
    """The partition's commit lock: ``_commit.lock`` created only if absent, removed on exit. A lock whose process
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


class PartitionWriter:
    """Stream Arrow batches into a new version of one partition; committed only on a clean exit.

    >>> with PartitionWriter(path, schema) as w:   # doctest: +SKIP
    ...     for batch in batches:
    ...         w.write(batch)
    """

    def __init__(self, path: str, schema: pa.Schema, *, counts: dict[str, int] | None = None) -> None:
        self.path = path
        self.schema = schema
        self.counts = counts
        self.rows = 0
        self._commit = PartitionCommit(path)
        self._fh: Any = None
        self._writer: pq.ParquetWriter | None = None

    def __enter__(self) -> PartitionWriter:
        c = self._commit
        c.fs.makedirs(c.fs_version, exist_ok=True)
        self._fh = c.fs.open(_join(c.fs_version, PART_FILE), "wb")
        self._writer = pq.ParquetWriter(self._fh, self.schema, compression="zstd")
        return self

    def write(self, data: pa.Table | pa.RecordBatch) -> None:
        assert self._writer is not None, "use PartitionWriter as a context manager"
        table = data if isinstance(data, pa.Table) else pa.Table.from_batches([data])
        self._writer.write_table(table.cast(self.schema))
        self.rows += table.num_rows

    def __exit__(self, exc_type, exc, tb) -> None:
        committed = False
        try:
            if self._writer is not None:
                self._writer.close()
            if self._fh is not None:
                self._fh.close()
            if exc_type is None:
                self._commit.commit(self.counts)
                committed = True
                log.info("wrote %s rows to %s", self.rows, self.path)
        finally:
            if not committed:
                self._commit.abort()

    def result(self) -> PartitionWrite:
        return PartitionWrite(path=self.path, rows=self.rows)


def write_partition(
    table: pa.Table, path: str, *, counts: dict[str, int] | None = None, sort_by: str | None = None
) -> PartitionWrite:
    """Write ``table`` as the whole content of the partition at ``path`` (replacing what was there).

    Args:
        table: rows of the partition; an empty table still writes a file carrying the schema, so readers of an
            empty day get the columns rather than a missing path.
        path: the partition directory, from ``shoplake.paths.partition_path``.
        counts: optional bookkeeping (rows in / out / quarantined) stored as ``_counts.json`` in the partition.
        sort_by: column to order rows by, so that a rerun on the same input writes identical files.

    Returns:
        The partition path and its row count.
    """
    if sort_by is not None and table.num_rows:
        table = table.sort_by(sort_by)
    with PartitionWriter(path, table.schema, counts=counts) as writer:
        writer.write(table)
    return writer.result()


def partition_files(path: str) -> tuple[AbstractFileSystem, list[str]]:
    """The Parquet files of the committed version of one partition (names starting with ``_`` or ``.`` are
    bookkeeping)."""
    resolved = resolve_existing(path)
    fs, root = filesystem(resolved)
    if resolved == path.rstrip("/"):  # the pre-pointer layout: files directly in the partition
        files = _legacy_files(fs, root)
    else:
        files = sorted(
            p for p in fs.find(root) if p.endswith(".parquet") and not p.rsplit("/", 1)[-1].startswith(("_", "."))
        )
    if not files:
        raise FileNotFoundError(f"partition {path} holds no Parquet file")
    return fs, files


def iter_partition_batches(path: str, columns: list[str], batch_rows: int) -> Iterator[pa.RecordBatch]:
    """Stream a partition in record batches of at most ``batch_rows`` rows (memory stays flat)."""
    fs, files = partition_files(path)
    for f in files:
        with fs.open(f, "rb") as fh:
            yield from pq.ParquetFile(fh).iter_batches(batch_size=batch_rows, columns=columns)


class _Taker:
    """Rows of a batch stream handed out ``n`` at a time, across batch boundaries."""

    def __init__(self, batches: Iterator[pa.RecordBatch]) -> None:
        self.batches = batches
        self.buffer: list[pa.RecordBatch] = []
        self.buffered = 0

    def take(self, n: int) -> pa.Table | None:
        """The next ``n`` rows (fewer at the end), ``None`` once the stream is spent."""
        for batch in self.batches:
            self.buffer.append(batch)
            self.buffered += batch.num_rows
            if self.buffered >= n:
                break
        if not self.buffered:
            return None
        table = pa.Table.from_batches(self.buffer)
        head, rest = table.slice(0, n), table.slice(n)
        self.buffer, self.buffered = rest.to_batches(), rest.num_rows
        return head


def iter_aligned_partitions(
    left: str, left_columns: list[str], right: str, right_columns: list[str], rows: int
) -> Iterator[tuple[pa.Table, pa.Table]]:
    """Two partitions holding the same rows in the same order (an enriched partition a job streamed from a curated
    one), read in step: pairs of tables of equal length, at most ``rows`` rows each; memory stays flat.

    Raises:
        ValueError: one partition has more rows than the other.
    """
    a = _Taker(iter_partition_batches(left, left_columns, rows))
    b = _Taker(iter_partition_batches(right, right_columns, rows))
    while (x := a.take(rows)) is not None:
        y = b.take(x.num_rows)
        if y is None or y.num_rows != x.num_rows:
            raise ValueError(f"{right} has fewer rows than {left}")
        yield x, y
    if b.take(1) is not None:
        raise ValueError(f"{right} has more rows than {left}")


def empty_partition_table(path: str, columns: list[str]) -> pa.Table:
    """No rows, the schema of ``columns`` as the partition's first file stores them."""
    fs, files = partition_files(path)
    with fs.open(files[0], "rb") as fh:
        schema = pq.ParquetFile(fh).schema_arrow
    return schema.empty_table().select(columns)


def read_partition(path: str, columns: list[str] | None = None) -> pa.Table:
    """Read every Parquet file of one partition into one table."""
    fs, files = partition_files(path)
    return pa.concat_tables([pq.read_table(f, columns=columns, filesystem=fs) for f in files])


def partition_rows(path: str) -> int:
    """Rows of one partition, from the Parquet footers (no data read)."""
    fs, files = partition_files(path)
    rows = 0
    for f in files:
        with fs.open(f, "rb") as fh:
            rows += pq.ParquetFile(fh).metadata.num_rows
    return rows


def read_counts(path: str) -> dict[str, int]:
    """The ``_counts.json`` bookkeeping a job committed with a partition."""
    fs, root = filesystem(resolve_existing(path))
    with fs.open(f"{root}/{COUNTS_FILE}") as fh:
        return json.load(fh)
