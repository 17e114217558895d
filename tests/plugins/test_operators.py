"""Job operators: a job failing on its input or flags fails once (no retries); other failures keep them."""

import subprocess
import sys
from pathlib import Path

import pytest
from airflow.sdk.exceptions import AirflowException, AirflowFailException

from shoplake.jobconfig import DATA_ERROR_EXIT
from shoplake_airflow.operators import JobBashOperator

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.parametrize(("code", "raised"), [(DATA_ERROR_EXIT, AirflowFailException), (2, AirflowFailException),
                                               (1, AirflowException)])  # fmt: skip
def test_the_exit_code_decides_whether_a_retry_can_help(code, raised, tmp_path):
    op = JobBashOperator(task_id="job", bash_command=f"exit {code}", cwd=str(tmp_path))
    with pytest.raises(raised) as info:
        op.execute({})
    assert (info.type is AirflowFailException) is (raised is AirflowFailException)


def test_a_job_on_missing_data_exits_with_the_data_error_code_and_says_why(tmp_path):
    job = ROOT / "jobs" / "train" / "train_purchase_model.py"
    out = subprocess.run(
        [sys.executable, str(job), "--ds", "2019-03-03", "--lake-root", str(tmp_path), "--mlflow-uri", "none"],
        capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert out.returncode == DATA_ERROR_EXIT, out.stderr[-2000:]
    assert "no steam_purchase_features partition in the 28 days up to 2019-03-03" in out.stderr
    assert "Traceback" not in out.stderr
    bad_flag = subprocess.run([sys.executable, str(job), "--ds", "yesterday", "--lake-root", "/x"], capture_output=True)
    assert bad_flag.returncode == DATA_ERROR_EXIT  # ds must be YYYY-MM-DD: a flag error, not a crash


def test_spark_submit_exit_codes_map_the_same_way():
    from shoplake_airflow.operators import _SPARK_EXIT, no_retry_on_data_errors

    with pytest.raises(AirflowFailException, match="not retried"):
        no_retry_on_data_errors(AirflowException("Cannot execute: spark-submit x. Error code is: 3."), _SPARK_EXIT)
    with pytest.raises(AirflowException, match="Error code is: 137") as info:
        no_retry_on_data_errors(AirflowException("Cannot execute: spark-submit x. Error code is: 137."), _SPARK_EXIT)
    assert info.type is AirflowException  # killed (OOM): retried
