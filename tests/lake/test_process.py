"""A job's processes die with the process that started them (``shoplake.process``): a parent SIGKILLed takes its
child with it, and a job whose parent is already gone does not start."""

import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

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


# ---- the scripts' one process helper: alive, find_processes, stop_processes -------------------------------------


def _stat(pid: int) -> str | None:
    """The kernel's state letter for ``pid`` (``Z`` for a zombie), None once it is gone."""
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[-1].split()[0]
    except OSError:
        return None


def test_an_ended_child_is_not_alive_and_is_reaped_and_a_live_one_is():
    from shoplake.process import alive

    live = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(30)"])
    try:
        assert alive(live.pid)
    finally:
        live.kill()
    ended = subprocess.Popen([sys.executable, "-c", "pass"])
    while _stat(ended.pid) not in ("Z", None):  # ended, not yet reaped
        pass
    assert not alive(ended.pid)
    assert _stat(ended.pid) is None  # alive() reaped it
    live.wait()
    assert not alive(os.getpid() + 10_000_000)  # no such pid


def test_processes_are_found_by_their_mark_or_command_line_never_this_one(monkeypatch):
    from shoplake.process import find_processes, stop_processes

    mark = f"shoplake-test-{os.getpid()}-{time.monotonic_ns()}"
    monkeypatch.setenv("SHOPLAKE_TEST_MARK", mark)  # this process carries it too: it is never found
    marked = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    other = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)", mark], env={"PATH": "/usr/bin"})
    try:
        assert find_processes(env=("SHOPLAKE_TEST_MARK", mark)) == [marked.pid]
        assert find_processes(cmdline=lambda argv: mark in argv) == [other.pid]
    finally:
        stop_processes([marked.pid, other.pid], timeout_s=5)
    assert find_processes(env=("SHOPLAKE_TEST_MARK", mark)) == []


def test_stop_terms_then_kills_what_ignores_it_and_a_groups_stragglers():
    from shoplake.process import alive, stop_processes

    polite = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    stubborn = subprocess.Popen([sys.executable, "-c", STUBBORN], stdout=subprocess.PIPE, text=True)
    assert stubborn.stdout.readline().strip() == "ready"
    start = time.monotonic()
    assert stop_processes([polite.pid, stubborn.pid], timeout_s=2) == [stubborn.pid]  # TERM ignored: KILLed
    assert time.monotonic() - start >= 2
    assert not alive(polite.pid)
    assert polite.returncode is None or polite.returncode < 0
    # a group whose leader ended on TERM while a member ignores it: the member is KILLed with the group
    leader = subprocess.Popen(
        [sys.executable, "-c", GROUP_LEADER], stdout=subprocess.PIPE, text=True, start_new_session=True
    )
    member = int(leader.stdout.readline())
    assert stop_processes(groups=[leader.pid], timeout_s=5) == []
    deadline = time.monotonic() + 5
    while alive(member) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert not alive(member)


STUBBORN = (
    "import signal, time; signal.signal(signal.SIGTERM, signal.SIG_IGN); print('ready', flush=True); time.sleep(60)"
)
GROUP_LEADER = (
    "import subprocess, sys, time\n"
    "m = subprocess.Popen([sys.executable, '-c', " + repr(STUBBORN) + "], stdout=subprocess.PIPE, text=True)\n"
    "m.stdout.readline()\n"
    "print(m.pid, flush=True)\n"
    "time.sleep(60)\n"
)
