"""The one place that reads ``SHOPLAKE_SPARK_BACKEND``: it turns a job of ``jobs/spark/`` into tasks.

* ``local`` — ``SparkSubmitOperator`` on the ``spark_local`` connection (``local[2]`` by default);
* ``emr``   — a task group: create a cluster (setup, unless ``SHOPLAKE_EMR_CLUSTER_ID`` names one), add the
  step, wait for it with a deferrable sensor, terminate the cluster (teardown: runs even when the step fails).

Cluster and step names carry ``ds``, so a rerun finds or replaces its own work. DAG bodies never branch on the
backend: they call :func:`spark_job`.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

from shoplake.config import Settings
from shoplake_airflow.context import PARTITION_DS
from shoplake_airflow.handoffs import pulled
from shoplake_airflow.settings import settings as current_settings

#: Spark settings for the local backend: a quiet, loopback-only driver with UTC semantics.
LOCAL_CONF: dict[str, str] = {
    "spark.sql.session.timeZone": "UTC",
    "spark.ui.enabled": "false",
    "spark.ui.showConsoleProgress": "false",
    "spark.driver.host": "127.0.0.1",
    "spark.driver.bindAddress": "127.0.0.1",
    "spark.driver.memory": "2g",
    # Spark's default of 200 shuffle partitions turns every small aggregation (and each CrossValidator fit of the
    # churn zoo) into hundreds of near-empty tasks on a two-core machine
    "spark.sql.shuffle.partitions": "8",
    "spark.log.level": "WARN",
    "spark.sql.warehouse.dir": "/tmp/shoplake-spark-warehouse",
}

EMR_CONF: dict[str, str] = {"spark.sql.session.timeZone": "UTC"}


def local_conf(cfg: Settings) -> dict[str, str]:
    """:data:`LOCAL_CONF` with the driver JVM's options: the serial collector and the class-data archive
    (``shoplake.spark_cds``: a 1,000-review day's curate task 12.2 s → 7.9 s on two cores)."""
    from shoplake.spark_cds import driver_java_options

    return {**LOCAL_CONF, "spark.driver.extraJavaOptions": driver_java_options(cfg.spark_cds_archive)}


def spark_job(
    task_id: str,
    application: str,
    application_args: list[str],
    *,
    ds: str = PARTITION_DS,
    cfg: Settings | None = None,
    trigger_rule: str | None = None,
    inlets: list[Any] | None = None,
    outlets: list[Any] | None = None,
) -> Any:
    """Tasks that run ``jobs/spark/<application>`` on the configured backend.

    Args:
        task_id: ``verb_noun`` id of the task (or task group, on EMR).
        application: path of the job relative to the repository, e.g. ``jobs/spark/curate_steam_reviews.py``.
        application_args: job flags besides ``--ds`` and ``--lake-root``, which the factory adds; Jinja templates
            such as ``{{ params.x }}`` are rendered at run time.
        ds: template of the partition date (default: the run's, from ``resolve_partition``), passed as ``--ds`` and
            used in application, cluster and step names.
        cfg: settings to use instead of the process's (tests).
        trigger_rule: trigger rule of the job's first task (default: all upstream succeeded).
        inlets / outlets: Assets the job reads / writes (lineage; on EMR they sit on the task waiting for the step).

    Returns:
        An operator (local) or a task group (EMR) that can be chained like one task.
    """
    cfg = cfg or current_settings()
    application_args = ["--ds", ds, "--lake-root", cfg.lake_root, *application_args]
    first = {"trigger_rule": trigger_rule} if trigger_rule else {}
    lineage = {"inlets": inlets or [], "outlets": outlets or []}
    if cfg.spark_backend == "emr":
        return _emr_job(task_id, application, application_args, ds, cfg, first, lineage)
    return _local_job(task_id, application, application_args, ds, cfg, {**first, **lineage})


def _local_job(
    task_id: str, application: str, application_args: list[str], ds: str, cfg: Settings, first: dict[str, Any]
) -> Any:
    from shoplake_airflow.operators import JobSparkSubmitOperator

    # a job failing on its input or flags fails the task once, without retries
    return JobSparkSubmitOperator(
        **first,
        task_id=task_id,
        application=str(Path(cfg.jobs_root) / application),
        application_args=application_args,
        conn_id=cfg.spark_conn_id,
        name=f"{task_id}-{ds}",
        conf=local_conf(cfg),
        # the driver runs the job with the scheduler's interpreter, where shoplake is installed
        env_vars={
            "PYSPARK_PYTHON": sys.executable,
            "PYSPARK_DRIVER_PYTHON": sys.executable,
            "SPARK_LOCAL_IP": "127.0.0.1",
        },
    )


def emr_step(task_id: str, application: str, application_args: list[str], ds: str, cfg: Settings) -> dict[str, Any]:
    """The ``AddJobFlowSteps`` step running the job with ``spark-submit`` in cluster mode."""
    code = cfg.emr.code_uri.rstrip("/")
    conf_args = [a for k, v in EMR_CONF.items() for a in ("--conf", f"{k}={v}")]
    return {
        "Name": f"{task_id}-{ds}",
        "ActionOnFailure": "CONTINUE",
        "HadoopJarStep": {
            "Jar": "command-runner.jar",
            "Args": [
                "spark-submit",
                "--deploy-mode",
                "cluster",
                *conf_args,
                "--py-files",
                f"{code}/shoplake.zip",
                f"{code}/{application}",
                *application_args,
            ],
        },
    }


def emr_job_flow(task_id: str, ds: str, cfg: Settings) -> dict[str, Any]:
    """``RunJobFlow`` request of a transient cluster for one run (its name carries ``ds``)."""
    emr = cfg.emr
    instances: dict[str, Any] = {
        "InstanceGroups": [
            {
                "Name": "primary",
                "InstanceRole": "MASTER",
                "InstanceType": emr.instance_type,
                "InstanceCount": 1,
            },
            {
                "Name": "core",
                "InstanceRole": "CORE",
                "InstanceType": emr.instance_type,
                "InstanceCount": emr.core_instance_count,
            },
        ],
        "KeepJobFlowAliveWhenNoSteps": True,  # steps are added by the next task; teardown terminates
        "TerminationProtected": False,
    }
    if emr.subnet_id:
        instances["Ec2SubnetId"] = emr.subnet_id
    flow: dict[str, Any] = {
        "Name": f"shoplake-{task_id}-{ds}",
        "ReleaseLabel": emr.release_label,
        "Applications": [{"Name": "Spark"}],
        "Instances": instances,
        "JobFlowRole": emr.job_flow_role,
        "ServiceRole": emr.service_role,
        "VisibleToAllUsers": True,
        "Tags": [{"Key": "project", "Value": "shoplake"}, {"Key": "ds", "Value": ds}],
    }
    if emr.log_uri:
        flow["LogUri"] = emr.log_uri
    return flow


def _emr_job(
    task_id: str,
    application: str,
    application_args: list[str],
    ds: str,
    cfg: Settings,
    first: dict[str, Any],
    lineage: dict[str, Any],
) -> Any:
    from airflow.providers.amazon.aws.operators.emr import (
        EmrAddStepsOperator,
        EmrCreateJobFlowOperator,
        EmrTerminateJobFlowOperator,
    )
    from airflow.providers.amazon.aws.sensors.emr import EmrStepSensor
    from airflow.sdk import TaskGroup

    if not cfg.emr.code_uri:
        raise ValueError("SHOPLAKE_SPARK_BACKEND=emr needs SHOPLAKE_EMR_CODE_URI (where `make dist` uploads)")
    aws = cfg.emr.aws_conn_id
    with TaskGroup(group_id=task_id) as group:
        create_cluster = None
        job_flow_id: Any = cfg.emr.cluster_id
        if not job_flow_id:
            create_cluster = EmrCreateJobFlowOperator(
                **first,
                task_id="create_cluster",
                job_flow_overrides=emr_job_flow(task_id, ds, cfg),
                aws_conn_id=aws,
                emr_conn_id=None,
            )
            job_flow_id = create_cluster.output
        add_step = EmrAddStepsOperator(
            **({} if create_cluster is not None else first),
            task_id="add_step",
            job_flow_id=job_flow_id,
            aws_conn_id=aws,
            steps=[emr_step(task_id, application, application_args, ds, cfg)],
        )
        wait_step = EmrStepSensor(
            **lineage,
            task_id="wait_step",
            job_flow_id=job_flow_id,
            aws_conn_id=aws,
            deferrable=True,
            poke_interval=cfg.emr.poll_s,
            max_attempts=max(1, cfg.emr.max_wait_s // max(1, cfg.emr.poll_s)),
            step_id=pulled(add_step, 0),
        )
        add_step >> wait_step
        if create_cluster is not None:
            terminate_cluster = EmrTerminateJobFlowOperator(
                task_id="terminate_cluster", job_flow_id=job_flow_id, aws_conn_id=aws
            ).as_teardown(setups=create_cluster)
            create_cluster >> add_step
            wait_step >> terminate_cluster
    return group
