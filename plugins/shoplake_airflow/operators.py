"""Operators of the job factories: a job that fails on its input or flags fails the task once, without retries.

Jobs exit with ``shoplake.jobconfig.DATA_ERROR_EXIT`` (or argparse's 2) for deterministic errors — bad data, too
little data, a missing model or partition, bad flags. Retrying those only delays the message; every other failure
(a lost executor, a network error) keeps the task's retries. Imported by the factories at DAG-build time only.
"""

from __future__ import annotations

import re
from typing import Any

from airflow.providers.apache.spark.operators.spark_submit import SparkSubmitOperator
from airflow.providers.standard.operators.bash import BashOperator
from airflow.sdk.exceptions import AirflowException, AirflowFailException

from shoplake.jobconfig import DETERMINISTIC_EXITS

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


class _NoRetryOnDataErrors:
    """Mixin: a failure whose exit code says the job's input or flags were at fault fails without retries."""

    exit_pattern: re.Pattern[str]

    def execute(self, context: Any) -> Any:
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
        if self.aws_conn_id:
            self.env = {**(self.env or {}), **aws_job_env(self.aws_conn_id)}
            self.append_env = True
        return super().execute(context)


class JobSparkSubmitOperator(_NoRetryOnDataErrors, SparkSubmitOperator):
    """``SparkSubmitOperator`` running a ``jobs/spark/`` entry point (see the module doc for its retries)."""

    exit_pattern = _SPARK_EXIT
