"""
### lake_maintenance — compact and vacuum the lake's Delta tables

**Purpose.** Keep every Delta table of the lake (raw, curated, enriched, quarantine, results) cheap to read and its
storage bounded: `compact_tables` rewrites each day's small files into files of about `target_mb` (an `OPTIMIZE`
commit, no row changes), then `vacuum_tables` deletes the files no snapshot younger than `retention_hours` needs —
days replaced by reruns, files compacted away and, with `full`, files no commit ever named (writers that died
before committing).

**Inputs / outputs.** Every table under `SHOPLAKE_LAKE_ROOT` (found by its `_delta_log`); the files beneath them
(`maintenance.table_files`). No dataset's rows change, so no consumer of a dataset is triggered.

**Runs.** Weekly (Sunday 04:00 UTC) and by hand. Versions older than the retention can no longer be opened on the
Lake page or restored (`shoplake lake restore`): raise `retention_hours` before undoing older runs. A writer racing
the compaction of its day fails with a conflict and retries. The `ds` Param only names the run.

**Owner.** data-platform.
"""

from __future__ import annotations

from datetime import timedelta

from airflow.sdk import Param, chain, dag, task

from shoplake_airflow.assets import LAKE_TABLE_FILES
from shoplake_airflow.context import resolve_partition
from shoplake_airflow.handoffs import validate_hand_offs
from shoplake_airflow.params import ds_param
from shoplake_airflow.schedules import SINCE_HISTORY, on_cron
from shoplake_airflow.settings import settings


@dag(
    schedule=on_cron("0 4 * * 0"),
    **SINCE_HISTORY,
    max_active_runs=1,
    description="Compact and vacuum the lake's Delta tables (no row changes)",
    tags=["lake", "maintenance", "delta"],
    default_args={"owner": "data-platform", "retries": 2, "retry_delay": timedelta(minutes=5)},
    params={
        "ds": ds_param("the day that names this run"),
        "retention_hours": Param(
            168,
            type="integer",
            minimum=0,
            description="vacuum keeps every version younger than this readable and restorable (168 h = 7 days)",
        ),
        "full": Param(
            True,
            type="boolean",
            description="vacuum also deletes files no commit named (writers that died before committing)",
        ),
        "compact": Param(True, type="boolean", description="rewrite each day's small files before vacuuming"),
        "target_mb": Param(128, type="integer", minimum=8, description="size of a compacted file, MiB"),
    },
    doc_md=__doc__,
)
def lake_maintenance():
    @task
    def compact_tables(**context) -> dict:
        from shoplake import lakeops

        if not context["params"]["compact"]:
            return {"skipped": "compact=false"}
        out = lakeops.compact(settings().lake_root, target_mb=context["params"]["target_mb"])
        return {"tables": len(out), "files_removed": sum(int(v["numFilesRemoved"] or 0) for v in out.values())}

    @task(outlets=[LAKE_TABLE_FILES])
    def vacuum_tables(**context) -> dict:
        from shoplake import lakeops

        p = context["params"]
        out = lakeops.vacuum(settings().lake_root, retention_hours=p["retention_hours"], full=p["full"])
        return {"tables": len(out), "files_deleted": sum(out.values())}

    chain(resolve_partition(), compact_tables(), vacuum_tables())


validate_hand_offs(lake_maintenance())
