"""Operating the lake's Delta tables: history, undoing a bad run, vacuum, compaction, and migrating a lake written
in the pointer layout of releases before Delta. Used by ``shoplake lake …`` (:mod:`shoplake.cli`) and the weekly
``lake_maintenance`` DAG; every function takes the lake root (configuration) and a table named ``<zone>/<name>``
or by its full URI.
"""

from __future__ import annotations

import json
import logging
from typing import Any

from shoplake.io import delta

log = logging.getLogger(__name__)

#: the pointer layout's bookkeeping files (releases before Delta); see :func:`migrate`
_OLD_POINTER = "_current.json"
_OLD_COUNTS = "_counts.json"


def table_uri(lake_root: str, table: str) -> str:
    """``<zone>/<name>`` under ``lake_root``, or ``table`` itself when it is a URI or an absolute path."""
    if "://" in table or table.startswith("/"):
        return table.rstrip("/")
    return f"{lake_root.rstrip('/')}/{table.strip('/')}"


def tables(lake_root: str) -> list[str]:
    """Every Delta table of the lake (one level under each zone folder), by URI."""
    from shoplake.io.lake import tables_under

    return [t for zone in tables_under(lake_root).values() for t in zone]


def history(lake_root: str, table: str, limit: int = 20) -> list[dict[str, Any]]:
    """The newest ``limit`` commits of a table (see :func:`shoplake.io.delta.history`), each with its time as ISO
    8601 UTC and the data files it added and removed — counted from the commit's own log entry where the writer
    recorded no metrics (shoplake's day commits do not; Spark's and delta-rs's operations do).

    Raises:
        FileNotFoundError: no Delta table there.
    """
    import datetime as dt

    from shoplake.io.lake import filesystem

    uri = table_uri(lake_root, table)
    if delta.snapshot_version(uri) is None:
        raise FileNotFoundError(f"no Delta table at {uri}")
    fs, path = filesystem(uri)
    out = []
    for c in delta.history(uri, limit):
        if c["files_added"] is None or c["files_removed"] is None:
            added, removed = _commit_file_counts(fs, f"{path}/_delta_log/{c['version']:020d}.json")
            c["files_added"] = c["files_added"] if c["files_added"] is not None else added
            c["files_removed"] = c["files_removed"] if c["files_removed"] is not None else removed
        stamp = c.pop("timestamp")
        time = None if stamp is None else dt.datetime.fromtimestamp(stamp / 1000, dt.UTC)
        out.append({"version": c.pop("version"), "time": time and time.isoformat(timespec="seconds"), **c})
    return out


def _commit_file_counts(fs: Any, log_file: str) -> tuple[int | None, int | None]:
    """``add`` and ``remove`` actions of one commit's log entry; None for both when the entry is gone (log
    clean-up after a checkpoint)."""
    try:
        lines = fs.cat_file(log_file).decode().splitlines()
    except FileNotFoundError:
        return None, None
    actions = [next(iter(json.loads(line)), None) for line in lines if line.strip()]
    return actions.count("add"), actions.count("remove")


def restore(lake_root: str, table: str, version: int, ds: str | None = None) -> dict[str, Any]:
    """Undo bad runs: day ``ds`` (or, without one, the whole table) as it was at ``version``, as one new commit
    (history keeps everything; nothing is copied). A day restores the files of that day only, so later runs of
    other days stand.

    Raises:
        FileNotFoundError: no table, no such day at that version, or its files were vacuumed.
    """
    from deltalake import DeltaTable

    from shoplake.paths import validate_ds

    uri = table_uri(lake_root, table)
    current = delta.snapshot_version(uri)
    if current is None:
        raise FileNotFoundError(f"no Delta table at {uri}")
    if not 0 <= version <= current:
        raise ValueError(f"{uri} has versions 0–{current}; there is no version {version}")
    if ds is not None:
        rows = delta.restore_day(f"{uri}/ds={validate_ds(ds)}", version)
        log.info("restored %s ds=%s to version %d (%d rows)", uri, ds, version, rows)
        return {"table": uri, "ds": ds, "restored_from_version": version, "rows": rows,
                "version": delta.snapshot_version(uri)}  # fmt: skip
    dt = DeltaTable(uri, storage_options=delta.storage_options(uri))
    metrics = dt.restore(version)
    log.info("restored %s to version %d: %s", uri, version, metrics)
    return {"table": uri, "restored_from_version": version, "version": delta.snapshot_version(uri), **metrics}


def vacuum(
    lake_root: str, table: str | None = None, *, retention_hours: int = 168, full: bool = False, dry_run: bool = False
) -> dict[str, int]:
    """Delete the files no snapshot younger than ``retention_hours`` needs, in one table or every table of the
    lake; ``full`` also deletes files no commit ever named (writers that died before committing). Returns files
    deleted (or that would be, with ``dry_run``) per table. A version older than the retention can no longer be
    read or restored afterwards."""
    plan = vacuum_files(lake_root, table, retention_hours=retention_hours, full=full, dry_run=dry_run)
    return {uri: len(files) for uri, files in plan.items()}


def vacuum_files(
    lake_root: str, table: str | None = None, *, retention_hours: int = 168, full: bool = False, dry_run: bool = False
) -> dict[str, list[str]]:
    """:func:`vacuum`, naming the files: those deleted, or with ``dry_run`` those that would be (the list
    ``shoplake lake vacuum --dry-run`` prints)."""
    targets = [table_uri(lake_root, table)] if table else tables(lake_root)
    out = {}
    for uri in targets:
        out[uri] = sorted(delta.vacuum(uri, retention_hours, full=full, dry_run=dry_run))
        log.info("%s %s: %d file(s)", "would vacuum" if dry_run else "vacuumed", uri, len(out[uri]))
    return out


def compact(lake_root: str, table: str | None = None, *, target_mb: int = 128) -> dict[str, dict[str, Any]]:
    """Rewrite the small files of each day into files of about ``target_mb`` (days of one file are left alone):
    one ``OPTIMIZE`` commit per table that changes no row (``dataChange: false``). A writer of a day racing the
    compaction of that day gets :class:`shoplake.io.delta.ConcurrentDayWrite` and its task retries."""
    from deltalake import DeltaTable

    targets = [table_uri(lake_root, table)] if table else tables(lake_root)
    out = {}
    for uri in targets:
        dt = DeltaTable(uri, storage_options=delta.storage_options(uri))
        metrics = dt.optimize.compact(target_size=target_mb * 2**20)
        out[uri] = {k: metrics.get(k) for k in ("numFilesAdded", "numFilesRemoved", "partitionsOptimized")}
        log.info("compacted %s: %s", uri, out[uri])
    return out


# ---- migration from the pointer layout ---------------------------------------------------------------------------


def _old_day_files(fs: Any, day_dir: str) -> tuple[list[str], dict[str, Any] | None]:
    """The committed Parquet files of one day in the pointer layout and its counts: the version ``_current.json``
    names, or (older still) Parquet files directly in the day's folder."""
    pointer_path = f"{day_dir}/{_OLD_POINTER}"
    root = day_dir
    if fs.exists(pointer_path):
        version = json.loads(fs.cat_file(pointer_path))["version"]
        root = f"{day_dir}/{version}"
        files = [p for p in fs.find(root) if p.endswith(".parquet") and not p.rsplit("/", 1)[-1].startswith(("_", "."))]
    else:
        files = [
            p for p in fs.ls(day_dir, detail=False)
            if p.endswith(".parquet") and not p.rsplit("/", 1)[-1].startswith(("_", ".")) and fs.isfile(p)
        ]  # fmt: skip
    counts = None
    if fs.exists(f"{root}/{_OLD_COUNTS}"):
        counts = json.loads(fs.cat_file(f"{root}/{_OLD_COUNTS}"))
    return sorted(files), counts


def _delta_ready(fs: Any, path: str) -> bool:
    """Whether a Parquet file can join a Delta table as it is: no INT96 and no nanosecond timestamps (Delta's
    timestamps are microseconds; other engines misread both)."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    with fs.open(path, "rb") as fh:
        pf = pq.ParquetFile(fh)
        if any(pf.schema.column(i).physical_type == "INT96" for i in range(len(pf.schema))):
            return False
        return not any(pa.types.is_timestamp(f.type) and f.type.unit != "us" for f in pf.schema_arrow)


def _rewrite(fs: Any, path: str, dest_dir: str) -> str:
    """A copy of the file with timestamps in microseconds (the one case migration copies data)."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    with fs.open(path, "rb") as fh:
        pf = pq.ParquetFile(fh)
        int96 = {
            pf.schema.column(i).path for i in range(len(pf.schema)) if pf.schema.column(i).physical_type == "INT96"
        }
        t = pf.read(use_pandas_metadata=False)
    # INT96 holds instants (Spark wrote them UTC-adjusted): read back as UTC, not as wall-clock times
    schema = pa.schema([f.with_type(pa.timestamp("us", tz="UTC")) if f.name in int96 else f for f in t.schema])
    t = delta._cast(t, delta._file_schema(schema))
    target = f"{dest_dir}/{delta.new_file_name()}"
    with fs.open(target, "wb") as fh:
        pq.write_table(t, fh, compression="zstd")
    return target


def migrate(lake_root: str, *, dry_run: bool = False) -> dict[str, Any]:
    """Convert a lake in the pointer layout (``<zone>/<name>/ds=…/_current.json`` over ``v-…/`` folders) into
    Delta tables in place: for each dataset, each day's committed files become that day's commit of a Delta log
    written beside them (``_delta_log/``), with the day's ``_counts.json`` as the commit's counts. No data is
    copied, except files Delta cannot take as they are (INT96 or nanosecond timestamps, written by Spark or
    pyarrow before this release), which are rewritten beside them with microsecond timestamps.

    Idempotent: a day the table already holds is skipped, so an interrupted migration is finished by running it
    again. The replaced versions and the old pointers stay on disk until ``shoplake lake vacuum --full``.
    Returns what it did per table.
    """
    from shoplake.io.lake import filesystem, folders_under, spelled_like
    from shoplake.paths import validate_ds

    fs, _ = filesystem(lake_root)
    report: dict[str, Any] = {}
    for zone_name, uri in folders_under(lake_root):
        if zone_name == "model":
            continue
        dataset = filesystem(uri)[1]
        held = set(delta.days(uri))
        done: dict[str, Any] = {"days": [], "skipped": [], "rewritten_files": 0}
        for day_dir in sorted(fs.ls(dataset, detail=False)):
            name = day_dir.rstrip("/").rsplit("/", 1)[-1]
            if not name.startswith("ds="):
                continue
            try:
                day = validate_ds(name[3:])
            except ValueError:
                continue
            if day in held:
                done["skipped"].append(day)
                continue
            files, counts = _old_day_files(fs, day_dir)
            if not files:
                continue
            if not dry_run:
                ready = []
                for f in files:
                    if _delta_ready(fs, f):
                        ready.append(f)
                    else:
                        ready.append(_rewrite(fs, f, day_dir))
                        done["rewritten_files"] += 1
                delta.commit_files(f"{uri}/ds={day}", [spelled_like(lake_root, f) for f in ready],
                                   counts={**(counts or {}), "migrated_from": "pointer layout"})  # fmt: skip
                if fs.exists(f"{day_dir}/{_OLD_POINTER}"):  # nothing reads the pointer any more
                    fs.rm_file(f"{day_dir}/{_OLD_POINTER}")
            done["days"].append(day)
        if done["days"] or done["skipped"]:
            report[uri] = done
        if done["days"]:  # a table already Delta throughout is not news (every rerun of the demo would say so)
            log.info("%s %s: %d day(s) committed, %d already Delta, %d file(s) rewritten",
                     "would migrate" if dry_run else "migrated", uri, len(done["days"]), len(done["skipped"]),
                     done["rewritten_files"])  # fmt: skip
    return report
