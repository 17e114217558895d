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


class JobBashOperator(_NoRetryOnDataErrors, BashOperator):
    """``BashOperator`` running a ``jobs/`` entry point (see the module doc for its retries)."""

    exit_pattern = _BASH_EXIT


class JobSparkSubmitOperator(_NoRetryOnDataErrors, SparkSubmitOperator):
    """``SparkSubmitOperator`` running a ``jobs/spark/`` entry point (see the module doc for its retries)."""

    exit_pattern = _SPARK_EXIT
