"""Job operators: a job failing on its input or flags fails once (no retries); other failures keep them."""

import os
import subprocess
import sys
from pathlib import Path

import pytest
from airflow.sdk.exceptions import AirflowException, AirflowFailException

from shoplake.jobconfig import DATA_ERROR_EXIT
from shoplake_airflow.operators import JobOperator

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.parametrize(("code", "raised"), [(DATA_ERROR_EXIT, AirflowFailException), (2, AirflowFailException),
                                               (1, AirflowException)])  # fmt: skip
def test_the_exit_code_decides_whether_a_retry_can_help(code, raised):
    op = JobOperator(task_id="job", argv=[sys.executable, "-c", f"raise SystemExit({code})"])
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


def test_a_killed_worker_takes_the_task_process_and_its_job_with_it():
    """worker → task process (running JobOperator, as Airflow's task runner does) → the job: SIGKILL of the worker
    leaves neither the task process nor the job running."""
    import signal
    import textwrap
    import time

    import psutil

    from shoplake_airflow.operators import TASK_DIES_WITH_WORKER_ENV

    job = "from shoplake.jobconfig import run_main; import time; run_main(lambda argv: time.sleep(120), [])"
    task = textwrap.dedent(f"""
        from shoplake_airflow.operators import JobOperator
        JobOperator(task_id="job", argv=[{sys.executable!r}, "-c", {job!r}]).execute({{}})
    """)
    worker_code = textwrap.dedent(f"""
        import subprocess, sys, time
        p = subprocess.Popen([sys.executable, "-c", {task!r}], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        print(p.pid, flush=True)
        time.sleep(120)
    """)
    env = {**os.environ, TASK_DIES_WITH_WORKER_ENV: "true", "PYTHONPATH": os.pathsep.join(sys.path)}
    worker = subprocess.Popen([sys.executable, "-c", worker_code], stdout=subprocess.PIPE, text=True, env=env)
    task_proc = psutil.Process(int(worker.stdout.readline()))
    deadline = time.monotonic() + 60
    while not (jobs := [c for c in task_proc.children(recursive=True) if "run_main" in " ".join(c.cmdline())]):
        assert time.monotonic() < deadline, "the job never started"
        time.sleep(0.2)
    worker.send_signal(signal.SIGKILL)
    worker.wait()
    _, alive = psutil.wait_procs([task_proc, *jobs], timeout=15)
    assert not [p for p in alive if p.status() != psutil.STATUS_ZOMBIE], f"outlived the worker: {alive}"


def test_spark_submit_is_started_to_die_with_the_task_process(monkeypatch):
    from airflow.providers.apache.spark.hooks import spark_submit

    from shoplake_airflow.operators import JobSparkSubmitOperator

    seen = {}

    class Stop(Exception):
        pass

    def popen(cmd, **kwargs):
        seen.update(kwargs)
        raise Stop

    monkeypatch.setattr(spark_submit.subprocess, "Popen", popen)
    op = JobSparkSubmitOperator(task_id="job", application="jobs/spark/x.py", conn_id="spark_local")
    monkeypatch.setenv("AIRFLOW_CONN_SPARK_LOCAL", '{"conn_type": "spark", "host": "local[1]"}')
    with pytest.raises(Stop):
        op._get_hook().submit(op.application)
    assert callable(seen.get("preexec_fn")), seen


def test_a_job_hands_back_its_last_stdout_line_parsed_and_one_without_a_result_fails_once():
    from shoplake_airflow.operators import JobOperator

    code = "import json, sys; print('a log line'); sys.stderr.write('a warning\\n'); print(json.dumps({'rows': 3}))"
    assert JobOperator(task_id="job", argv=[sys.executable, "-c", code]).execute({}) == {"rows": 3}
    silent = JobOperator(task_id="job", argv=[sys.executable, "-c", "print('done, no result')"])
    with pytest.raises(AirflowFailException, match="not its JSON result"):
        silent.execute({})
