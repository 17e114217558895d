"""Operators of the job factories: a job starts as an argument list (no shell ever parses a value); a job that fails
on its input or flags fails the task once, without retries; a job's processes die with the task's process.

:class:`JobOperator` starts a ``jobs/`` entry point with :class:`subprocess.Popen` and a list: each element is
rendered by Jinja on its own (a Param's value becomes one argument, whatever characters it holds) and reaches the
job's ``argv`` as it is — Airflow's BashOperator guide warns against putting user input into ``bash_command``.

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

import json
import os
import re
import subprocess
import threading
from collections.abc import Sequence
from typing import Any

from airflow.providers.apache.spark.operators.spark_submit import SparkSubmitOperator
from airflow.sdk import BaseOperator
from airflow.sdk.exceptions import AirflowException, AirflowFailException

from shoplake.jobconfig import DETERMINISTIC_EXITS
from shoplake.process import PARENT_PID_ENV, die_with_parent, die_with_parent_preexec

#: ``true`` where a task's process runs under a worker's supervisor (the deployments): it then dies with that process
TASK_DIES_WITH_WORKER_ENV = "SHOPLAKE_TASK_DIES_WITH_WORKER"

_SPARK_EXIT = re.compile(r"Error code is: (\d+)")


def data_error(code: int) -> AirflowFailException:
    """The task's failure for a job that exited with a deterministic code: not retried."""
    return AirflowFailException(
        f"the job failed on its input or flags (exit {code}; the reason is in the log above): "
        "not retried, fix the data or the Params and clear the task"
    )


def no_retry_on_data_errors(exc: AirflowException, pattern: re.Pattern[str]) -> None:
    """Re-raise ``exc`` as :func:`data_error` when its exit code says the job's input was at fault."""
    match = pattern.search(str(exc))
    if match and int(match.group(1)) in DETERMINISTIC_EXITS:
        raise data_error(int(match.group(1))) from exc
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


class JobOperator(BaseOperator):
    """Runs a ``jobs/`` entry point as a process started from an argument list; its result is the job's last stdout
    line, parsed as JSON (``shoplake.jobconfig.run_job`` prints it), pushed to XCom.

    Args:
        argv: the program and its arguments; each element may be a Jinja template, rendered on its own.
        aws_conn_id: the job gets that connection's credentials, region and endpoint in its environment
            (:func:`aws_job_env`).
        env: extra environment variables of the job (added to the worker's).

    The job's stderr and stdout go to the task log line by line. Exit 0 with no JSON last line fails the task
    without retries (the job's code is at fault: a rerun prints no more), as does a deterministic exit
    (:data:`shoplake.jobconfig.DETERMINISTIC_EXITS`); any other exit keeps the task's retries. Killing the task
    (``on_kill``) terminates the job.
    """

    template_fields: Sequence[str] = ("argv", "env")
    ui_color = "#e8f0d8"

    def __init__(
        self, *, argv: list[str], aws_conn_id: str | None = None, env: dict[str, str] | None = None, **kwargs: Any
    ) -> None:
        super().__init__(**kwargs)
        if isinstance(argv, str) or not argv:
            raise TypeError(f"{self.task_id}: argv must be a non-empty list of arguments, got {argv!r}")
        self.argv = list(argv)
        self.aws_conn_id = aws_conn_id
        self.env = dict(env or {})
        self._proc: subprocess.Popen[str] | None = None

    def execute(self, context: Any) -> Any:
        tie_task_to_worker()
        argv = [str(a) for a in self.argv]
        # the job checks it is still this process's child (shoplake.process): a task killed between fork and the
        # job's own prctl call does not leave it running
        env = {**os.environ, **self.env, PARENT_PID_ENV: str(os.getpid())}
        if self.aws_conn_id:
            env |= aws_job_env(self.aws_conn_id)
        self.log.info("running %s", argv)
        self._proc = subprocess.Popen(
            argv,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            env=env,
            preexec_fn=die_with_parent_preexec(),  # the job dies with this (the task's) process
        )
        errors = threading.Thread(target=self._log_lines, args=(self._proc.stderr,), daemon=True)
        errors.start()
        last = self._log_lines(self._proc.stdout)
        code = self._proc.wait()
        errors.join()
        if code in DETERMINISTIC_EXITS:
            raise data_error(code)
        if code != 0:
            raise AirflowException(f"the job exited with {code} (the log above says why); the task may be retried")
        return job_result(last)

    def _log_lines(self, stream: Any) -> str:
        """Log ``stream`` line by line; returns its last non-blank line."""
        last = ""
        for line in stream:
            line = line.rstrip("\n")
            self.log.info("%s", line)
            last = line if line.strip() else last
        return last

    def on_kill(self) -> None:
        if self._proc is not None and self._proc.poll() is None:
            self._proc.terminate()
            try:
                self._proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self._proc.kill()


def job_result(line: str) -> dict[str, Any]:
    """A job's result: its last stdout line, a JSON object (``shoplake.jobconfig.run_job`` prints it).

    Raises:
        AirflowFailException: the line is not a JSON object (the job ended without printing its result).
    """
    try:
        result = json.loads(line)
    except ValueError:
        result = None
    if not isinstance(result, dict):
        raise AirflowFailException(
            f"the job exited 0 but its last stdout line is not its JSON result: {line[:200]!r} (not retried: a job "
            "ends with shoplake.jobconfig.run_job, which prints it)"
        )
    return result


class JobSparkSubmitOperator(_NoRetryOnDataErrors, SparkSubmitOperator):
    """``SparkSubmitOperator`` running a ``jobs/spark/`` entry point (see the module doc for its retries)."""

    exit_pattern = _SPARK_EXIT

    def _get_hook(self) -> Any:
        hook = super()._get_hook()
        submit = hook.submit  # spark-submit's JVM dies with this process: extra Popen arguments pass through submit
        hook.submit = lambda application="", **kw: submit(application, preexec_fn=die_with_parent_preexec(), **kw)
        return hook
