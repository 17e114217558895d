"""Run the Steam pipeline in-process (`airflow dags test`): steam_reviews_daily for a range of days, then
steam_purchase_model_weekly on the features of those days; show what landed where and the model's figures.

Used by `make demo`; expects the embedded Mongo to be up and the Airflow environment of the Makefile.
"""

from __future__ import annotations

import argparse
import collections
import datetime as dt
import json
import logging
import os
import re
import subprocess
import sys
import threading
import time

from shoplake.config import Settings
from shoplake.io.lake import filesystem, read_counts, read_partition
from shoplake.paths import (
    PURCHASE_MODELS,
    STEAM_PURCHASE_FEATURES,
    STEAM_REVIEWS,
    Zone,
    partition_path,
    quarantine_path,
)

log = logging.getLogger("demo")
DAG_ID = "steam_reviews_daily"
TRAIN_DAG_ID = "steam_purchase_model_weekly"


def days(start: str, end: str) -> list[str]:
    first, last = dt.date.fromisoformat(start), dt.date.fromisoformat(end)
    if last < first:
        raise SystemExit(f"--to-date {end} is before --from-date {start}")
    return [(first + dt.timedelta(days=i)).isoformat() for i in range((last - first).days + 1)]


def sentiment_summary(cfg: Settings, ds: str, enriched) -> list[str]:
    """Per language group: models, share labelled positive, and AUC against the reviewers' own voted_up on this
    (unseen) day, with its bootstrap 95 % interval and negatives count — or "too few negatives" below the floor."""
    import numpy as np

    from shoplake.ml.metrics import auc_by_group, format_auc

    curated = read_partition(
        partition_path(cfg.lake_root, Zone.CURATED, STEAM_REVIEWS, ds), columns=["recommendationid", "voted_up"]
    )
    voted = dict(zip(curated["recommendationid"].to_pylist(), curated["voted_up"].to_pylist(), strict=True))
    rows = enriched.to_pylist()
    y = np.array([voted[r["recommendationid"]] for r in rows], dtype=int)
    p = np.array([np.nan if r["positive_prob"] is None else r["positive_prob"] for r in rows])
    langs = np.array([r["language_code"] for r in rows], dtype=object)
    floor = int(os.environ.get("SENTIMENT_MIN_NEGATIVES", "30"))
    models = sorted({f"{r['model_id']}@{r['model_revision']}" for r in rows if r["model_id"]})
    unsupported = sum(r["sentiment_status"] == "unsupported_language" for r in rows)
    scored = [r for r in rows if r["sentiment_status"] == "scored"]
    positive = sum(r["sentiment_label"] == "positive" for r in scored) / max(len(scored), 1)
    lines = [
        f"sentiment {', '.join(models) or 'no model'}: {len(scored)} scored ({positive:.0%} positive), "
        f"{unsupported} in languages no configured model supports (null scores)"
    ]
    for group, m in auc_by_group(y, p, langs, min_negatives=floor).items():
        lines.append(f"  vs voted_up, {group}: {format_auc(m)}")
    return lines


def sentiment_models_summary(cfg: Settings) -> list[str]:
    """Per route (``en``: the MiniLM head, ``*``: the USE multilingual head): the current version and its held-out
    evaluation per language — the languages it never saw a label of marked as cross-lingual transfer, and a plain
    word where the window held no labelled review of any other language (then no transfer figure exists)."""
    from shoplake.ml.metrics import format_auc
    from shoplake.ml.registry import read_current_metrics
    from shoplake.paths import SENTIMENT_MODEL, SENTIMENT_MULTILINGUAL_MODEL

    lines = [f"routes: {cfg.sentiment_model_map.replace(cfg.lake_root, '<lake>')}"]
    for route, name in (("en", SENTIMENT_MODEL), ("*", SENTIMENT_MULTILINGUAL_MODEL)):
        found = read_current_metrics(cfg.lake_root, name)
        if found is None:
            lines.append(f"{route:>2} {name}: no current version in this lake")
            continue
        current, metrics = found
        learnt = ", ".join(f"{k} {v}" for k, v in (metrics.get("train_rows_by_language") or {}).items() if v)
        lines.append(f"{route:>2} {name} version {current['version']} (labels learnt: {learnt or 'n/a'}):")
        transfer = set(metrics.get("transfer_languages") or [])
        groups = (metrics.get("by_language") or {}).get("model") or {}
        for lang, m in groups.items():
            mark = "  [cross-lingual transfer]" if lang in transfer else ""
            lines.append(f"     held-out {lang}: {format_auc(m)}{mark}")
        if route == "*" and set(groups) <= {"all", "en"}:
            lines.append("     no labelled review in another language in the window: no transfer figure to show")
    return lines


def run_version(cfg: Settings, name: str, ds: str, task: str) -> tuple[dict, dict] | None:
    """This run's version of model ``name`` for ``ds`` — promoted or not — as ``({"path", "version", "current"},
    metrics.json)``; None, said in the log with the ``task`` to look at, when the day has no version."""
    from shoplake.ml.registry import read_current, version_files

    try:
        path = version_files(cfg.lake_root, name, ds)
        fs, root = filesystem(path)
        metrics = json.loads(fs.cat_file(f"{root}/metrics.json"))
    except (FileNotFoundError, ValueError):
        log.info("no %s version for %s (see the %s task's log)", name, ds, task)
        return None
    current = read_current(cfg.lake_root, name)
    return {"path": path, "version": ds, "current": current["version"] if current else None}, metrics


def train_and_read(cfg: Settings, dag_id: str, run_at: str, conf: dict, model: str, task: str) -> tuple | None:
    """``airflow dags test`` of a training DAG, then this run's version of ``model`` (:func:`run_version`) for the
    conf's ``ds``; None when the run failed or wrote no version (the log says which)."""
    log.info("== airflow dags test %s --conf '%s'", dag_id, json.dumps(conf))
    if not airflow_dags_test(dag_id, run_at, conf):
        return None
    return run_version(cfg, model, conf["ds"], task)


def verdict_line(found: tuple[dict, dict]) -> str:
    """The gate's verdict of a version and what the pointer names now (a baseline's win is said, not hidden)."""
    version, metrics = found
    gate = metrics.get("gate") or {}
    now = f"current.json → {version['current']}" if version["current"] else "no current version (nothing is served)"
    return f"gate: {gate.get('reason', 'no gate recorded')}; {now}"


def ran_its_tasks(cfg: Settings, ds: str) -> bool:
    """A run "succeeds" with no task run for a day Airflow does not schedule: check the day's partitions exist."""
    from shoplake.io.lake import existing_partitions

    _, missing = existing_partitions(  # a committed curated partition carries its _counts.json
        [
            partition_path(cfg.lake_root, Zone.CURATED, STEAM_REVIEWS, ds),
            partition_path(cfg.lake_root, Zone.ENRICHED, STEAM_PURCHASE_FEATURES, ds),
        ]
    )
    if missing:
        log.error("the run for ds=%s reported success but wrote nothing (%s missing): no task ran for that day", ds,
                  missing[0].replace(cfg.lake_root, "<lake>"))  # fmt: skip
    return not missing


def load_summary(cfg: Settings, ds: str) -> str:
    """The load quarantine of the day: rejected reviews and skipped (unreadable) source files."""
    rows = read_partition(quarantine_path(cfg.lake_root, "load", STEAM_REVIEWS, ds), columns=["reason"])
    files = sum(r.startswith("source file skipped") for r in rows["reason"].to_pylist())
    return f"load quarantine: {rows.num_rows - files} reviews rejected, {files} source files skipped (unreadable)"


#: seconds between the lines that say a DAG run is still going (its own output is kept for a failure)
HEARTBEAT_S = 20.0
_TASK = re.compile(r"task_id=([A-Za-z0-9_.-]+)")


def airflow_dags_test(dag_id: str, run_at: str, conf: dict | None = None) -> bool:
    """``airflow dags test`` of one run, quietly: a line every :data:`HEARTBEAT_S` seconds with the task it is on
    (a run takes minutes), its output shown only when it fails."""
    cmd = ["airflow", "dags", "test", dag_id, run_at]
    if conf:
        cmd += ["--conf", json.dumps(conf)]
    tail: collections.deque[str] = collections.deque(maxlen=400)
    seen = {"task": "", "success": False}

    def read(stream) -> None:
        for line in stream:
            tail.append(line)
            seen["success"] = seen["success"] or "state=success" in line
            if found := _TASK.search(line):
                seen["task"] = found.group(1)

    started = time.monotonic()
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    reader = threading.Thread(target=read, args=(proc.stdout,), daemon=True)
    reader.start()
    while True:
        try:
            code = proc.wait(timeout=HEARTBEAT_S)
            break
        except subprocess.TimeoutExpired:
            on = f"; last task mentioned: {seen['task']}" if seen["task"] else ""
            log.info("   … %s running (%.0f s%s)", dag_id, time.monotonic() - started, on)
    reader.join()
    if code != 0 or not seen["success"]:
        sys.stderr.write("".join(tail)[-8000:])
        log.error("%s %s failed (exit %s)", dag_id, run_at, code)
        return False
    log.info("   %s %s: success in %.0f s", dag_id, run_at, time.monotonic() - started)
    return True


def model_summary(cfg: Settings, ds: str) -> None:
    """This run's purchase model beside its baselines and the gate's verdict, then the published one."""
    from shoplake.ml.registry import read_current_metrics, version_files

    name = PURCHASE_MODELS["steam_purchase"]
    try:
        fs, root = filesystem(version_files(cfg.lake_root, name, ds))
        version = json.loads(fs.cat_file(f"{root}/metrics.json"))
    except (FileNotFoundError, ValueError):
        version = None
    if version is not None:
        log.info(
            "  this run (version %s): steam_purchase held-out AUC %.3f; baselines on the same rows: %s",
            ds,
            version["steam_purchase"]["auc"],
            ", ".join(f"{k} {v:.3f}" for k, v in version.get("baselines", {}).items()) or "none recorded",
        )
        log.info("  gate: %s", version.get("gate", {}).get("reason", "not recorded (an older version)"))
    found = read_current_metrics(cfg.lake_root, name)
    if found is None:
        log.info("  no purchase model published (none has beaten its baselines yet)")
        return
    current, m = found
    log.info("  published (current.json):")
    for target in ("steam_purchase", "voted_up"):
        t = m[target]
        log.info(
            "  %-15s held-out n=%d  AUC %.3f  PR-AUC %.3f  F1 %.3f  (base rate %.2f)",
            target, t["n"], t["auc"], t["pr_auc"], t["f1"], t["base_rate"],
        )  # fmt: skip
    log.info("  current.json → %s (MLflow registered model steam_purchase v%s)", current["version"],
             current.get("mlflow_version"))  # fmt: skip
    log.info("  model card: %s/model_card.md", current["path"].replace(cfg.lake_root, "<lake>"))


def main(argv: list[str] | None = None) -> int:
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument("--from-date", required=True)
    p.add_argument("--to-date", required=True)
    a = p.parse_args(argv)
    cfg = Settings.from_env()
    from shoplake.lakeops import migrate

    # a lake an earlier release wrote (pointer layout) becomes Delta tables first, in place; a no-op afterwards
    migrated = {t: r for t, r in migrate(cfg.lake_root).items() if r["days"]}
    for table, r in migrated.items():
        log.info("migrated %s to a Delta table (%d day(s), in place)", table.replace(cfg.lake_root, "<lake>"),
                 len(r["days"]))  # fmt: skip
    for ds in days(a.from_date, a.to_date):
        # A manual run at D covers the last complete day before D (Airflow's manual data interval), so the
        # run for partition ds is triggered at ds + 1 day.
        run_at = (dt.date.fromisoformat(ds) + dt.timedelta(days=1)).isoformat()
        log.info("== airflow dags test %s %s  (data interval %s .. %s)", DAG_ID, run_at, ds, run_at)
        if not airflow_dags_test(DAG_ID, run_at) or not ran_its_tasks(cfg, ds):
            return 1
    window = len(days(a.from_date, a.to_date))
    conf = {"ds": a.to_date, "window_days": window, "min_new_days": 0}  # the demo always trains
    log.info("== airflow dags test %s %s --conf '%s'", TRAIN_DAG_ID, a.to_date, json.dumps(conf))
    if not airflow_dags_test(TRAIN_DAG_ID, (dt.date.fromisoformat(a.to_date) + dt.timedelta(days=1)).isoformat(), conf):
        return 1
    log.info("\nlake root: %s", cfg.lake_root)
    log.info("\nsentiment models (held-out evaluation of each route's current version):")
    for line in sentiment_models_summary(cfg):
        log.info("  %s", line)
    log.info("%-12s %-55s %8s %12s", "ds", "partition", "rows", "quarantined")
    for ds in days(a.from_date, a.to_date):
        for zone, stage in ((Zone.RAW, "raw"), (Zone.CURATED, "curated")):
            path = partition_path(cfg.lake_root, zone, STEAM_REVIEWS, ds)
            rows = read_partition(path, columns=["recommendationid"]).num_rows
            bad = read_partition(quarantine_path(cfg.lake_root, stage, STEAM_REVIEWS, ds)).num_rows
            log.info("%-12s %-55s %8d %12d", ds, path.replace(cfg.lake_root, "<lake>"), rows, bad)
        log.info(
            "%-12s curate bookkeeping %s",
            "",
            read_counts(partition_path(cfg.lake_root, Zone.CURATED, STEAM_REVIEWS, ds)),
        )
        enriched_path = partition_path(cfg.lake_root, Zone.ENRICHED, STEAM_REVIEWS, ds)
        enriched = read_partition(enriched_path)
        log.info("%-12s %-55s %8d", ds, enriched_path.replace(cfg.lake_root, "<lake>"), enriched.num_rows)
        for line in sentiment_summary(cfg, ds, enriched):
            log.info("%-12s   %s", "", line)
        log.info("%-12s   %s", "", load_summary(cfg, ds))
        features_path = partition_path(cfg.lake_root, Zone.ENRICHED, STEAM_PURCHASE_FEATURES, ds)
        features = read_partition(features_path, columns=["recommendationid"]).num_rows
        log.info("%-12s %-55s %8d", ds, features_path.replace(cfg.lake_root, "<lake>"), features)
    log.info("\npurchase model (XGBoost, features of %s..%s, time-based held-out split):", a.from_date, a.to_date)
    model_summary(cfg, a.to_date)
    log.info("\nScheduled runs and backfills: `make standalone`, then `make backfill` (see docs/operations.md)")
    return 0


if __name__ == "__main__":
    from shoplake.jobconfig import run_script

    run_script(main)
