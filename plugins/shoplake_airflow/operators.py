"""Operators of the job factories: a job that fails on its input or flags fails the task once, without retries; a
job's processes die with the task's process.

Jobs exit with ``shoplake.jobconfig.DATA_ERROR_EXIT`` (or argparse's 2) for deterministic errors — bad data, too
little data, a missing model or partition, bad flags. Retrying those only delays the message; every other failure
(a lost executor, a network error) keeps the task's retries. Imported by the factories at DAG-build time only.

A killed worker must not leave its jobs running (they would write the lake beside the task's retry): each operator
ties the task's process to the worker's process that supervises it when the deployment says so
(:data:`TASK_DIES_WITH_WORKER_ENV`, set in ``deploy/airflow.env``; never in a test's own process), and the job's
processes to the task's (:mod:`shoplake.process`: spark-submit through ``preexec_fn``, a Python job through
:data:`shoplake.process.PARENT_PID_ENV`).
"""

from __future__ import annotations

import os
import re
from typing import Any

from airflow.providers.apache.spark.operators.spark_submit import SparkSubmitOperator
from airflow.providers.standard.operators.bash import BashOperator
from airflow.sdk.exceptions import AirflowException, AirflowFailException

from shoplake.jobconfig import DETERMINISTIC_EXITS
from shoplake.process import PARENT_PID_ENV, die_with_parent, die_with_parent_preexec

#: ``true`` where a task's process runs under a worker's supervisor (the deployments): it then dies with that process
TASK_DIES_WITH_WORKER_ENV = "SHOPLAKE_TASK_DIES_WITH_WORKER"

_BASH_EXIT = re.compile(r"non-zero exit code (\d+)")
_SPARK_EXIT = re.compile(r"Error code is: (\d+)")


def no_retry_on_data_errors(exc: AirflowException, pattern: re.Pattern[str]) -> None:
    """Re-raise ``exc`` as :class:`AirflowFailException` when its exit code says the job's input was at fault."""
    match = pattern.search(str(exc))
    if match and int(match.group(1)) in DETERMINISTIC_EXITS:
        raise AirflowFailException(
            f"the job failed on its input or flags (exit {match.group(1)}; the reason is in the log above): "
            "not retried, fix the data or the Params and clear the task"
        ) from exc
    raise exc


def tie_task_to_worker() -> None:
    """Where :data:`TASK_DIES_WITH_WORKER_ENV` is ``true``: this (the task's) process is SIGKILLed when its parent,
    the worker's process that supervises it, dies."""
    if os.environ.get(TASK_DIES_WITH_WORKER_ENV, "").lower() == "true":
        die_with_parent(os.getppid())


class _NoRetryOnDataErrors:
    """Mixin: a failure whose exit code says the job's input or flags were at fault fails without retries; the
    task's process dies with the worker's (:func:`tie_task_to_worker`)."""

    exit_pattern: re.Pattern[str]

    def execute(self, context: Any) -> Any:
        tie_task_to_worker()
        try:
            return super().execute(context)  # type: ignore[misc]
        except AirflowFailException:
            raise
        except AirflowException as exc:
            no_retry_on_data_errors(exc, self.exit_pattern)


def aws_job_env(aws_conn_id: str) -> dict[str, str]:
    """The AWS credentials, region and endpoint of an Airflow connection as a job process's environment (boto3's
    standard variables): a job is a plain Python process that reads no Airflow connection itself."""
    from airflow.providers.amazon.aws.hooks.base_aws import AwsBaseHook

    hook = AwsBaseHook(aws_conn_id=aws_conn_id, client_type="comprehend")
    creds = hook.get_credentials()
    env = {"AWS_ACCESS_KEY_ID": creds.access_key, "AWS_SECRET_ACCESS_KEY": creds.secret_key}
    if creds.token:
        env["AWS_SESSION_TOKEN"] = creds.token
    if hook.conn_region_name:
        env["AWS_DEFAULT_REGION"] = env["AWS_REGION"] = hook.conn_region_name
    if hook.conn_config.endpoint_url:
        env["AWS_ENDPOINT_URL"] = hook.conn_config.endpoint_url
    return env


class JobBashOperator(_NoRetryOnDataErrors, BashOperator):
    """``BashOperator`` running a ``jobs/`` entry point (see the module doc for its retries). With ``aws_conn_id``,
    the job gets that connection's credentials, region and endpoint in its environment (:func:`aws_job_env`)."""

    exit_pattern = _BASH_EXIT

    def __init__(self, *, aws_conn_id: str | None = None, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.aws_conn_id = aws_conn_id

    def execute(self, context: Any) -> Any:
        extra = {PARENT_PID_ENV: str(os.getpid())}  # the job (exec'd by bash) checks it is still this one's child
        if self.aws_conn_id:
            extra |= aws_job_env(self.aws_conn_id)
        self.env = {**(self.env or {}), **extra}
        self.append_env = True
        return super().execute(context)


class JobSparkSubmitOperator(_NoRetryOnDataErrors, SparkSubmitOperator):
    """``SparkSubmitOperator`` running a ``jobs/spark/`` entry point (see the module doc for its retries)."""

    exit_pattern = _SPARK_EXIT

    def _get_hook(self) -> Any:
        hook = super()._get_hook()
        submit = hook.submit  # spark-submit's JVM dies with this process: extra Popen arguments pass through submit
        hook.submit = lambda application="", **kw: submit(application, preexec_fn=die_with_parent_preexec(), **kw)
        return hook
