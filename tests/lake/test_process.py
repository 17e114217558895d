"""A job's processes die with the process that started them (``shoplake.process``): a parent SIGKILLed takes its
child with it, and a job whose parent is already gone does not start."""

import os
import signal
import subprocess
import sys
import textwrap
import time

import psutil
import pytest

from shoplake.process import ORPHANED_EXIT, PARENT_PID_ENV

pytestmark = pytest.mark.skipif(not sys.platform.startswith("linux"), reason="PR_SET_PDEATHSIG is Linux's")


def _gone(pid: int, timeout_s: float = 10) -> bool:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        try:
            if psutil.Process(pid).status() == psutil.STATUS_ZOMBIE:
                return True
        except psutil.NoSuchProcess:
            return True
        time.sleep(0.1)
    return False


def _parent_with_child(parent_code: str) -> tuple[subprocess.Popen, int]:
    """A parent process running ``parent_code`` (which starts one child and prints its pid), and that pid."""
    parent = subprocess.Popen([sys.executable, "-c", textwrap.dedent(parent_code)], stdout=subprocess.PIPE, text=True)
    line = parent.stdout.readline()
    assert line.strip().isdigit(), line
    return parent, int(line)


def test_a_child_started_with_the_preexec_dies_when_its_parent_is_killed():
    parent, child = _parent_with_child("""
        import subprocess, sys, time
        from shoplake.process import die_with_parent_preexec
        sleeper = [sys.executable, "-c", "import time; time.sleep(120)"]
        p = subprocess.Popen(sleeper, preexec_fn=die_with_parent_preexec())
        print(p.pid, flush=True)
        time.sleep(120)
    """)
    assert psutil.Process(child).is_running()
    parent.send_signal(signal.SIGKILL)
    parent.wait()
    assert _gone(child), "the child outlived its SIGKILLed parent"


def test_a_job_execd_by_bash_dies_with_the_task_process_that_named_itself():
    # a job started through a shell that execs it (as jobs were before JobOperator): the task process names itself in
    # the environment, and the job's run_main ties itself to that parent
    parent, child = _parent_with_child(f"""
        import os, subprocess, sys, time
        job = "from shoplake.jobconfig import run_main; import time; run_main(lambda argv: time.sleep(120), [])"
        env = {{**os.environ, "{PARENT_PID_ENV}": str(os.getpid())}}
        p = subprocess.Popen(["bash", "-c", f"exec {{sys.executable}} -c '{{job}}'"], env=env)
        print(p.pid, flush=True)
        time.sleep(120)
    """)
    time.sleep(2)  # the job has passed run_main's start
    assert psutil.Process(child).is_running()
    parent.send_signal(signal.SIGKILL)
    parent.wait()
    assert _gone(child), "the job outlived the task process that started it"


def test_a_job_whose_parent_is_already_gone_ends_before_it_starts():
    code = "from shoplake.jobconfig import run_main; run_main(lambda argv: print('ran'), [])"
    other = os.getpid()  # not the job's parent (its parent is the subprocess machinery's fork of this process)
    done = subprocess.run([sys.executable, "-c", code], env={**os.environ, PARENT_PID_ENV: str(other + 10**6)},
                          capture_output=True, text=True, timeout=60)  # fmt: skip
    assert done.returncode == ORPHANED_EXIT, done.stderr
    assert "ran" not in done.stdout
    assert "is gone" in done.stderr
    ok = subprocess.run([sys.executable, "-c", code], env={**os.environ, PARENT_PID_ENV: str(os.getpid())},
                        capture_output=True, text=True, timeout=60)  # fmt: skip
    assert ok.returncode == 0, ok.stderr
    assert "ran" in ok.stdout


def test_a_zombie_parent_is_a_gone_parent():
    """A task process killed with its worker is an unreaped zombie until init gets to it (over a second here, forever
    under a pid 1 that does not reap): a job that checks its named parent then must end, not run on orphaned."""
    from shoplake.process import pid_exists, process_running

    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    deadline = time.monotonic() + 30
    while process_running(dead.pid):  # not waited for: it stays a zombie of this process
        assert time.monotonic() < deadline, "the child never exited"
        time.sleep(0.05)
    assert pid_exists(dead.pid)  # the pid is still taken
    code = "from shoplake.jobconfig import run_main; run_main(lambda argv: print('ran'), [])"
    done = subprocess.run([sys.executable, "-c", code], env={**os.environ, PARENT_PID_ENV: str(dead.pid)},
                          capture_output=True, text=True, timeout=60)  # fmt: skip
    dead.wait()
    assert done.returncode == ORPHANED_EXIT, done.stderr
    assert "ran" not in done.stdout
    assert process_running(os.getpid())


def test_a_shell_between_the_task_and_the_job_is_tolerated():
    # bash without exec: the job's parent is the shell, the named process its grandparent, alive — the job runs
    code = "from shoplake.jobconfig import run_main; run_main(lambda argv: print('ran'), [])"
    env = {**os.environ, PARENT_PID_ENV: str(os.getpid())}
    done = subprocess.run(["bash", "-c", f"{sys.executable} -c \"{code}\"; true"], env=env, capture_output=True,
                          text=True, timeout=60)  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert "ran" in done.stdout
