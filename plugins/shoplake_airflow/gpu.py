"""GPU task factory: a job of ``jobs/gpu/`` as a task on the ``gpu`` queue and pool, in a fresh process.

The job runs as its own Python process started from an argument list (no shell; never a fork of the worker, so CUDA
initialises cleanly).
The ``gpu`` pool has one slot per GPU; a Celery worker serving the ``gpu`` queue owns the GPUs (compose:
``airflow-worker-gpu``). LocalExecutor ignores queues and runs it in place, on CUDA if the host has one.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

from shoplake.config import Settings
from shoplake_airflow.context import PARTITION_DS
from shoplake_airflow.settings import settings as current_settings


def python_job(
    task_id: str, script: str, args: list[str], *, ds: str = PARTITION_DS, cfg: Settings | None = None, **kwargs: Any
) -> Any:
    """A task running ``python <jobs_root>/<script> --ds <ds> --lake-root <lake> <args>`` in a fresh process.

    ``args`` may hold Jinja templates, each rendered on its own into one argument (no shell parses them); ``ds``
    defaults to the run's partition (``resolve_partition``). The job's last stdout line (a JSON object) becomes the
    task's XCom. ``kwargs`` go to the operator (``queue``, ``pool``, ``outlets``…); the default queue and pool
    unless given. A job that fails on its input or flags fails the task without retries
    (``shoplake_airflow.operators``).
    """
    from shoplake_airflow.operators import JobOperator

    cfg = cfg or current_settings()
    argv = [sys.executable, str(Path(cfg.jobs_root) / script), f"--ds={ds}", f"--lake-root={cfg.lake_root}", *args]
    return JobOperator(task_id=task_id, argv=argv, **kwargs)


def gpu_job(
    task_id: str, script: str, args: list[str], *, ds: str = PARTITION_DS, cfg: Settings | None = None, **kwargs: Any
) -> Any:
    """:func:`python_job` on the GPU queue and pool. A sentiment map that routes any language to AWS Comprehend
    (``comprehend``) gives the job the credentials of the ``aws_default`` connection (``SHOPLAKE_AWS_CONN_ID``)."""
    cfg = cfg or current_settings()
    # the route's name, shoplake.ml.sentiment.comprehend.COMPREHEND (not imported: that package loads torch)
    if any(route.split("=", 1)[-1].strip() == "comprehend" for route in cfg.sentiment_model_map.split(",")):
        kwargs.setdefault("aws_conn_id", cfg.emr.aws_conn_id)
    return python_job(task_id, script, args, ds=ds, cfg=cfg, queue=cfg.gpu_queue, pool=cfg.gpu_pool, **kwargs)
