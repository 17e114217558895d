"""What the lake holds, for the people who run it: models and datasets at a glance.

Per model: the current version (``current.json``), its gating metric, the metrics of that version and the plots
(PNG) beside them, and the other versions. Per dataset of the raw, curated, enriched and quarantine zones: the
latest partitions with their rows (from the Delta table's file statistics, no data read), how many rows the step
that wrote them quarantined, and the table's recent commits; one day of any older version can be opened
(:func:`day_preview`). Read-only; the Airflow UI plugin (``shoplake_airflow.ui``) renders it, and it works on any
lake (local, S3, GCS).
"""

from __future__ import annotations

import json
import logging
from collections import Counter
from dataclasses import asdict, dataclass, field
from typing import Any

from shoplake.paths import CURRENT_FILE, MLFLOW, Zone, dataset_path, model_root

log = logging.getLogger(__name__)

#: zones whose datasets are partitioned by day
DATA_ZONES = (Zone.RAW, Zone.CURATED, Zone.ENRICHED, Zone.QUARANTINE)
#: files of a version directory shown as plots
PLOT_SUFFIX = ".png"


@dataclass(frozen=True)
class Partition:
    """One ``ds=`` partition: rows, rows quarantined by the step that wrote it, the step's own counts."""

    ds: str
    rows: int | None
    quarantined: int | None = None
    counts: dict[str, int] = field(default_factory=dict)
    #: quarantine partitions: rows per reason, most frequent first
    reasons: dict[str, int] = field(default_factory=dict)
    #: why the partition could not be read (then ``rows`` is ``None``)
    error: str = ""


@dataclass(frozen=True)
class Commit:
    """One commit of a dataset's Delta table: what it did, to which day, how many rows, when."""

    version: int
    operation: str
    ds: str | None
    rows: int | None
    #: ISO 8601, UTC
    at: str

    @classmethod
    def of(cls, c: dict[str, Any]) -> Commit:
        import datetime as dt

        stamp = c.get("timestamp")
        at = dt.datetime.fromtimestamp(stamp / 1000, dt.UTC).isoformat(timespec="seconds") if stamp else ""
        return cls(version=int(c["version"]), operation=str(c.get("operation") or ""), ds=c.get("ds"),
                   rows=c.get("rows"), at=at)  # fmt: skip


@dataclass(frozen=True)
class Dataset:
    """One dataset of one zone with its latest partitions (newest first)."""

    zone: str
    name: str
    partitions: list[Partition]
    #: partitions the dataset holds in all (``partitions`` shows the latest ``limit``)
    total_partitions: int
    #: the Delta table's version (``None``: no table, or an unreadable one)
    version: int | None = None
    #: the table's newest commits, newest first
    commits: list[Commit] = field(default_factory=list)
    #: why the table could not be read
    error: str = ""


@dataclass(frozen=True)
class Model:
    """One model of the model zone."""

    name: str
    #: the champion's version (``None`` before the first promotion)
    current: str | None
    #: the gating metric named by ``current.json`` and its value
    metric: str = ""
    metric_value: float | None = None
    #: every version directory, newest first
    versions: list[str] = field(default_factory=list)
    #: numbers of the current version's ``metrics.json``, flattened (``held_out.auc`` → ``held_out_auc``)
    metrics: dict[str, float] = field(default_factory=dict)
    #: PNG files of the current version
    plots: list[str] = field(default_factory=list)
    #: the current version's evaluation per language (:func:`language_rows`; one row a language)
    by_language: list[dict[str, Any]] = field(default_factory=list)
    #: what that evaluation rests on: languages with labels of their own, transfer ones, and what it could not see
    languages_note: str = ""
    #: what the pointer names as the champion (``model`` of ``current.json``), and whether it is a constant baseline
    champion: str = ""
    baseline: bool = False
    #: the named baseline the pointer publishes in the model's place, when one won (``"per-appid smoothed rate"``)
    served_baseline: str = ""
    #: the current version's gate (``metrics.json`` → ``gate``): the metric, the model's score beside each named
    #: baseline's on the same held-out rows, and the verdict
    gate: dict[str, Any] = field(default_factory=dict)
    #: a classifier's figures per class on the held-out rows (:func:`class_rows`; one row a class)
    per_class: list[dict[str, Any]] = field(default_factory=list)
    error: str = ""

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def _fs(path: str):
    from shoplake.io.lake import filesystem

    return filesystem(path)


def _children(path: str) -> list[str]:
    """Names of the directories directly under ``path`` (none when it does not exist)."""
    fs, root = _fs(path)
    if not fs.exists(root):
        return []
    entries = fs.ls(root, detail=True)
    return sorted(e["name"].rstrip("/").rsplit("/", 1)[-1] for e in entries if e.get("type") == "directory")


def _flat_numbers(metrics: dict[str, Any], prefix: str = "") -> dict[str, float]:
    from shoplake.ml.tracking import flat_metrics

    return flat_metrics(metrics, prefix)


# ---- models ------------------------------------------------------------------------------------------------------


def language_rows(metrics: dict[str, Any]) -> list[dict[str, Any]]:
    """The per-language evaluation of a ``metrics.json`` as table rows, ``all`` first (bounded by the languages).

    Two shapes are read: the binary sentiment models' (``by_language.model.<lang>``: AUC with its 95 % interval or
    the "too few negatives" note, beside VADER's AUC; ``transfer_languages`` marks languages the head never saw a
    label of) and the five-class models' (``by_language.groups.<lang>``: macro-F1 and QWK, languages under the
    row floor counted in a last row). Anything else gives no rows.
    """
    by_language = metrics.get("by_language")
    if not isinstance(by_language, dict):
        return []
    transfer = set(metrics.get("transfer_languages") or [])
    rows: list[dict[str, Any]] = []
    if isinstance(by_language.get("model"), dict):
        vader = by_language.get("vader") if isinstance(by_language.get("vader"), dict) else {}
        for lang, m in sorted(by_language["model"].items(), key=lambda kv: (kv[0] != "all", kv[0])):
            rows.append({
                "language": lang, "n": m.get("n"), "negatives": m.get("negatives"), "auc": m.get("auc"),
                "auc_ci95": m.get("auc_ci95"), "baseline_auc": (vader.get(lang) or {}).get("auc"),
                "note": m.get("note") or ("cross-lingual transfer" if lang in transfer else ""),
            })  # fmt: skip
    elif isinstance(by_language.get("groups"), dict):
        for lang, g in sorted(by_language["groups"].items()):
            rows.append({"language": lang, "n": g.get("n"), "negatives": g.get("negatives"),
                         "macro_f1": g.get("macro_f1"), "macro_f1_ci95": g.get("macro_f1_ci95"), "qwk": g.get("qwk"),
                         "note": g.get("note") or ""})  # fmt: skip
        if by_language.get("groups_below_min_rows"):
            note = (
                f"{by_language['groups_below_min_rows']} language(s) under {by_language.get('min_rows')} held-out rows"
            )
            rows.append({"language": "other", "n": None, "negatives": None, "macro_f1": None, "macro_f1_ci95": None,
                         "qwk": None, "note": note})  # fmt: skip
    return rows


def class_rows(metrics: dict[str, Any]) -> list[dict[str, Any]]:
    """A ``metrics.json``'s per-class figures (``per_class.<class>``: support, predictions, precision / recall /
    F1 with their 95 % intervals, the anecdote note) as table rows in the file's order; none without them."""
    per_class = metrics.get("per_class")
    if not isinstance(per_class, dict):
        return []
    rows = []
    for name, f in per_class.items():
        if isinstance(f, dict):
            ci = f.get("ci95") if isinstance(f.get("ci95"), dict) else {}
            rows.append({"class": name, **{k: f.get(k) for k in ("support", "predicted", "precision", "recall", "f1")},
                         **{f"{k}_ci95": ci.get(k) for k in ("precision", "recall", "f1")},
                         "note": f.get("note") or ""})  # fmt: skip
    return rows


def languages_note(metrics: dict[str, Any], rows: list[dict[str, Any]]) -> str:
    """Which languages a per-language evaluation rests on: those the model learnt from labels of their own, those
    scored by cross-lingual transfer, and — when the held-out rows held one language only — that no other could be
    evaluated (a table of ``all`` and ``en`` alone says nothing about German)."""
    trained = metrics.get("train_rows_by_language") or {}
    transfer = sorted(metrics.get("transfer_languages") or [])
    seen = sorted(r["language"] for r in rows if r["language"] not in ("all", "other"))
    parts = []
    if trained:
        labelled = ", ".join(f"{lang} ({n:,} rows)" for lang, n in sorted(trained.items()) if isinstance(n, int) and n)
        parts.append(f"learnt from labels of: {labelled}" if labelled else "")
    if transfer:
        parts.append(f"cross-lingual transfer (no labels of their own in training): {', '.join(transfer)}")
    if len(seen) <= 1:
        only = seen[0] if seen else "none"
        parts.append(f"the held-out rows held one language only ({only}): no other language could be evaluated")
    return "; ".join(p for p in parts if p)


def model_names(lake_root: str) -> list[str]:
    """Models of the lake: model-zone directories with a version or a ``current.json`` (MLflow's store excluded)."""
    names = []
    for name in _children(f"{lake_root.rstrip('/')}/{Zone.MODEL.value}"):
        if name == MLFLOW or name.startswith((".", "_")):
            continue
        entries = _children(model_root(lake_root, name))
        fs, root = _fs(model_root(lake_root, name))
        if any(e.startswith("version=") for e in entries) or fs.exists(f"{root}/{CURRENT_FILE}"):
            names.append(name)
    return names


def model(lake_root: str, name: str) -> Model:
    """The summary of model ``name``.

    Raises:
        KeyError: the lake has no such model.
    """
    names = model_names(lake_root)
    if name not in names:
        raise KeyError(f"no model {name!r} in {lake_root} (models: {', '.join(names) or 'none'})")
    return _summary(lake_root, name)


def _summary(lake_root: str, name: str) -> Model:
    from shoplake.ml.registry import is_baseline, read_pointer

    root = model_root(lake_root, name)
    versions = sorted((v[len("version=") :] for v in _children(root) if v.startswith("version=")), reverse=True)
    try:
        pointer = read_pointer(root)
    except (OSError, ValueError, KeyError) as exc:
        return Model(name=name, current=None, versions=versions, error=f"current.json unreadable: {exc}")
    if pointer is None:
        return Model(name=name, current=None, versions=versions)
    metric = str(pointer.get("metric", ""))
    value = pointer.get(metric) if metric else None
    fs, vdir = _fs(pointer["path"])  # the committed files of the version it names
    metrics, plots, by_language, note, error, gate, per_class = {}, [], [], "", "", {}, []
    try:
        raw = json.loads(fs.cat(f"{vdir}/metrics.json"))
        gate = _gate(raw.get("gate")) if isinstance(raw, dict) else {}
        metrics = {k: v for k, v in _flat_numbers(raw).items() if not k.startswith("gate_")}  # its own table
        by_language = language_rows(raw) if isinstance(raw, dict) else []
        per_class = class_rows(raw) if isinstance(raw, dict) else []
        if per_class:  # shown as their own table
            metrics = {k: v for k, v in metrics.items() if not k.startswith("per_class_")}
        note = languages_note(raw, by_language) if by_language else ""
        if by_language:  # shown as their own table, not again as flat numbers
            metrics = {
                k: v for k, v in metrics.items() if not k.startswith(("by_language_", "train_rows_by_language_"))
            }
    except FileNotFoundError:
        error = "the current version has no metrics.json"
    except (OSError, ValueError) as exc:
        error = f"metrics.json unreadable: {exc}"
    if fs.exists(vdir):
        plots = sorted(p.rsplit("/", 1)[-1] for p in fs.ls(vdir, detail=False) if p.endswith(PLOT_SUFFIX))
    return Model(
        name=name,
        current=str(pointer.get("version")),
        metric=metric,
        metric_value=float(value) if isinstance(value, int | float) else None,
        versions=versions,
        metrics=metrics,
        plots=plots,
        by_language=by_language,
        languages_note=note,
        champion=str(pointer.get("model") or ""),
        baseline=is_baseline(str(pointer.get("model") or "")),
        served_baseline=str(pointer.get("baseline") or ""),
        gate=gate,
        per_class=per_class,
        error=error,
    )


def _gate(gate: Any) -> dict[str, Any]:
    """The parts of a version's gate the page shows (nothing for a version written before gates)."""
    if not isinstance(gate, dict) or not isinstance(gate.get("baselines"), dict):
        return {}
    numbers = {k: float(v) for k, v in gate["baselines"].items() if isinstance(v, int | float)}
    keep = ("metric", "score", "higher_is_better", "reason", "serves", "unranked")
    leads = gate.get("leads") if isinstance(gate.get("leads"), dict) else {}
    intervals = {k: v.get("ci95") for k, v in leads.items() if isinstance(v, dict) and v.get("ci95")}
    return {**{k: gate.get(k) for k in keep}, "baselines": numbers, "leads": intervals}


def models(lake_root: str) -> list[Model]:
    """Every model of the lake, by name."""
    return [_summary(lake_root, name) for name in model_names(lake_root)]  # one listing of the zone, not one per model


def plot_bytes(lake_root: str, name: str, plot: str) -> bytes:
    """The PNG ``plot`` of the current version of model ``name``.

    Only files the summary lists are served, so a request cannot name any other path of the lake.

    Raises:
        KeyError: no such model, no current version, or no such plot in it.
    """
    from shoplake.ml.registry import read_pointer

    summary = model(lake_root, name)
    if summary.current is None or plot not in summary.plots:
        raise KeyError(f"model {name!r} has no plot {plot!r} in its current version")
    fs, vdir = _fs(read_pointer(model_root(lake_root, name))["path"])
    return fs.cat(f"{vdir}/{plot}")


# ---- datasets ----------------------------------------------------------------------------------------------------


def _partition(
    lake_root: str, zone: Zone, name: str, ds: str, summary: dict[str, Any], quarantine: dict[str, Any] | None
) -> Partition:
    from shoplake.io.lake import read_partition
    from shoplake.paths import partition_path

    counts = {k: int(v) for k, v in summary["counts"].get(ds, {}).items() if isinstance(v, int | float)}
    rows = summary["rows"].get(ds)
    if "quarantined" in counts:  # the step's own count, else the rows of quarantine/<zone>_<name> that day
        quarantined: int | None = counts["quarantined"]
    elif quarantine is not None and ds in quarantine["rows"]:
        quarantined = quarantine["rows"][ds]
    else:
        quarantined = None
    reasons: dict[str, int] = {}
    error = "" if rows is not None else "files committed without row statistics"
    if zone is Zone.QUARANTINE and rows:
        path = partition_path(lake_root, zone, name, ds)
        try:
            reasons = dict(Counter(read_partition(path, ["reason"]).column("reason").to_pylist()).most_common(5))
        except (OSError, ValueError, KeyError) as exc:
            log.warning("quarantine reasons of %s unreadable: %s", path, exc)
            error = f"quarantine reasons unreadable: {exc}"
    return Partition(ds=ds, rows=rows, quarantined=quarantined, counts=counts, reasons=reasons, error=error)


def _table_summary(uri: str) -> tuple[dict[str, Any] | None, str]:
    from shoplake.io import delta

    try:
        return delta.table_summary(uri), ""
    except Exception as exc:  # a damaged log must not take the page down: the dataset shows why
        log.warning("table %s unreadable: %s", uri, exc)
        return None, f"{type(exc).__name__}: {exc}"


def dataset(lake_root: str, zone: Zone | str, name: str, *, limit: int = 30, commits: int = 10) -> Dataset:
    """Dataset ``name`` of ``zone`` with its latest ``limit`` partitions (newest first) and its newest ``commits``
    commits, from one load of its table (and one of its quarantine table)."""
    zone = Zone(zone)
    summary, error = _table_summary(dataset_path(lake_root, zone, name))
    if summary is None:
        return Dataset(zone=zone.value, name=name, partitions=[], total_partitions=0, error=error)
    quarantine = None
    if zone is not Zone.QUARANTINE:
        quarantine, _ = _table_summary(dataset_path(lake_root, Zone.QUARANTINE, f"{zone.value}_{name}"))
    days = sorted(summary["rows"], reverse=True)
    return Dataset(
        zone=zone.value,
        name=name,
        partitions=[_partition(lake_root, zone, name, ds, summary, quarantine) for ds in days[:limit]],
        total_partitions=len(days),
        version=summary["version"],
        commits=[Commit.of(c) for c in summary["history"][:commits]],
    )


def datasets(lake_root: str, *, limit: int = 30, zones: tuple[Zone, ...] = DATA_ZONES) -> list[Dataset]:
    """Every partitioned dataset of ``zones``, zone by zone, with its latest ``limit`` partitions."""
    if limit < 1:
        raise ValueError(f"limit is at least 1, got {limit}")
    out = []
    for zone in zones:
        for name in _children(f"{lake_root.rstrip('/')}/{zone.value}"):
            if name.startswith((".", "_")):
                continue
            try:
                dataset_path(lake_root, zone, name)
            except ValueError:  # not a dataset name of the catalog's form
                continue
            out.append(dataset(lake_root, zone, name, limit=limit))
    return out


@dataclass(frozen=True)
class DayPreview:
    """The first rows of one day of a dataset, at the table's latest version or an older one (read-only)."""

    zone: str
    name: str
    ds: str
    #: the table version read (the latest when none was asked for)
    version: int
    #: rows of the day at that version (file statistics)
    rows: int
    columns: list[str]
    #: at most ``limit`` rows, values as strings
    head: list[list[str]]


def day_preview(lake_root: str, zone: Zone | str, name: str, ds: str, *, version: int | None = None,
                limit: int = 50) -> DayPreview:  # fmt: skip
    """The first ``limit`` rows of day ``ds`` of a dataset at table ``version`` (latest when None): only the files
    of that day at that version are opened, and only until ``limit`` rows are read.

    Raises:
        KeyError: no such table, version or day (its message says which).
    """
    from shoplake.io import delta
    from shoplake.paths import partition_path, validate_ds

    zone = Zone(zone)
    path = partition_path(lake_root, zone, name, validate_ds(ds))
    table = dataset_path(lake_root, zone, name)
    try:
        current = delta.snapshot_version(table)
    except Exception as exc:
        raise KeyError(f"{zone.value}/{name} is not readable: {exc}") from None
    if current is None:
        raise KeyError(f"no table {zone.value}/{name}")
    if version is not None and not 0 <= version <= current:
        raise KeyError(f"{zone.value}/{name} has versions 0–{current}, not {version}")
    try:
        read, rows, head = delta.day_head(path, limit, version)
    except FileNotFoundError:
        at = current if version is None else version
        raise KeyError(f"{zone.value}/{name} holds no ds={ds} at version {at}") from None
    return DayPreview(zone=zone.value, name=name, ds=ds, version=read, rows=rows, columns=head.column_names,
                      head=[[_cell(v) for v in row.values()] for row in head.to_pylist()])  # fmt: skip


def _cell(value: Any) -> str:
    text = "" if value is None else str(value)
    return text if len(text) <= 200 else text[:199] + "…"
