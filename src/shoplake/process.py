"""A job's processes die with the process that started them: Linux's parent-death signal (``PR_SET_PDEATHSIG``).

A task starts external processes (spark-submit and its JVM, the JVM's Python driver, a GPU or training job). When
the task's own process is killed — a worker host lost, ``kill -9`` of the worker — those would otherwise be
reparented and run on, unowned, still writing the lake beside the task's retry. Each link of the chain therefore
asks the kernel to SIGKILL it when its parent dies:

* the Airflow task process, when the worker's process that supervises it dies (``shoplake_airflow.operators``);
* spark-submit (the JVM: ``spark-submit`` execs it, which keeps the setting), set between fork and exec
  (:func:`die_with_parent_preexec`);
* a job's own Python process (``shoplake.jobconfig.run_main``): the Spark driver dies with its JVM, a GPU or
  training job with the task process (its parent names itself in :data:`PARENT_PID_ENV`, which closes the window
  between the fork and this call: a parent already gone ends the job at once).

The signal follows the parent *thread* that forked the child: every fork here happens on the thread that waits for
the child. Elsewhere than Linux the calls do nothing and say so (``False``).

The scripts that run servers (``scripts/cluster.py``, ``devserver.py``, ``standalone.py``) find, stop and check
processes through the one helper below (psutil): :func:`alive` (a zombie is gone; our own child is reaped),
:func:`find_processes` (a mark in the environment, or a command line) and :func:`stop_processes` (TERM, wait, KILL).
"""

from __future__ import annotations

import contextlib
import ctypes
import os
import signal
import sys
import time
from collections.abc import Callable, Iterable

#: ``prctl`` option (linux/prctl.h)
PR_SET_PDEATHSIG = 1
#: the environment variable in which a process names itself to the job it starts (see the module doc)
PARENT_PID_ENV = "SHOPLAKE_PARENT_PID"
#: the exit code of a job whose parent was already gone when it started
ORPHANED_EXIT = 75


def die_with_parent(expected_parent: int | None = None, sig: int = signal.SIGKILL) -> bool:
    """Ask the kernel to send ``sig`` to this process when its parent dies. With ``expected_parent``: when that
    process is gone already (it died before this call), end this one at once with :data:`ORPHANED_EXIT`; when it
    runs but is not the parent (a shell between them that did not ``exec``), go on, tied to the parent there is.
    Returns whether the setting took (``False`` off Linux)."""
    if not sys.platform.startswith("linux"):
        return False
    libc = ctypes.CDLL(None, use_errno=True)
    if libc.prctl(PR_SET_PDEATHSIG, ctypes.c_ulong(sig), 0, 0, 0) != 0:
        err = ctypes.get_errno()
        raise OSError(err, f"prctl(PR_SET_PDEATHSIG) failed: {os.strerror(err)}")
    if expected_parent is not None and os.getppid() != expected_parent and not process_running(expected_parent):
        os.write(2, f"parent process {expected_parent} is gone: this job ends before it starts\n".encode())
        os._exit(ORPHANED_EXIT)
    return True


def die_with_parent_from_env() -> bool:
    """:func:`die_with_parent`, checked against the parent named in :data:`PARENT_PID_ENV` when it is set. The
    variable is removed from the environment: it names this process's parent, not its children's."""
    named = os.environ.pop(PARENT_PID_ENV, "")
    return die_with_parent(int(named) if named.isdigit() else None)


def die_with_parent_preexec() -> Callable[[], None]:
    """A ``preexec_fn`` for ``subprocess.Popen``: the child (after fork, before exec) dies with this process."""
    parent = os.getpid()

    def preexec() -> None:
        die_with_parent(parent)

    return preexec


def process_running(pid: int) -> bool:
    """Whether a process ``pid`` exists and has not exited: a zombie (dead, not yet reaped) is gone. An orphaned
    task process stays a zombie until init reaps it — over a second on the dev VM (measured 1.2–1.4 s), forever
    under a container's pid 1 that never reaps — and a job checking its named parent, or a script waiting for a
    server to stop, must not take it for alive. Without /proc (macOS) ``kill(pid, 0)`` is all there is."""
    if not pid_exists(pid):
        return False
    try:
        with open(f"/proc/{pid}/stat") as f:
            state = f.read().rsplit(")", 1)[1].split()[0]
    except (OSError, IndexError):  # no /proc at all, or the process went between the two looks
        return not os.path.isdir("/proc/self")
    return state not in ("Z", "X")


def pid_exists(pid: int) -> bool:
    """Whether a process ``pid`` exists (``kill(pid, 0)``; another user's counts; a zombie too)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def alive(pid: int) -> bool:
    """Whether ``pid`` still runs. An ended process is not alive while it waits to be reaped: this process's own
    child is reaped here, another's zombie (an orphan whose new parent does not reap, as under some container inits)
    counts as gone (:func:`process_running`) — ``kill(pid, 0)`` alone finds both and would wait out every timeout."""
    with contextlib.suppress(ChildProcessError):
        if os.waitpid(pid, os.WNOHANG)[0] == pid:
            return False
    return process_running(pid)


def find_processes(
    *, env: tuple[str, str] | None = None, cmdline: Callable[[list[str]], bool] | None = None
) -> list[int]:
    """Pids of the live processes (never this one nor its ancestors) whose environment holds ``env`` (name, value)
    — the mark a script gives everything it starts — or whose command line satisfies ``cmdline``. Processes that
    end while read, or that this user cannot read, are skipped."""
    import psutil

    mine = {os.getpid(), *(p.pid for p in psutil.Process().parents())}
    found = []
    for proc in psutil.process_iter():
        with contextlib.suppress(psutil.Error):
            if proc.pid in mine:
                continue
            if env is not None and proc.environ().get(env[0]) != env[1]:
                continue
            if cmdline is not None and not cmdline(proc.cmdline()):
                continue
            if process_running(proc.pid):  # a zombie is gone; nothing is reaped here (see stop_processes)
                found.append(proc.pid)
    return found


def stop_processes(pids: Iterable[int] = (), *, groups: Iterable[int] = (), timeout_s: float) -> list[int]:
    """SIGTERM each of ``pids`` and each process group of ``groups`` (by its leader's pid); wait up to ``timeout_s``
    until all of them have ended (a zombie has); SIGKILL what is left — and every group whatever its leader did, so
    a group's stragglers die too. ``timeout_s=0``: SIGKILL at once, no SIGTERM. Returns the pids that outlived
    SIGTERM (a group by its leader; with ``timeout_s=0``, those that were running). Nothing is reaped here (a
    caller's ``Popen`` keeps its exit status): a caller that started a process without keeping its ``Popen`` reaps
    it with :func:`alive`."""
    pids, groups = list(pids), list(groups)
    if timeout_s > 0:
        _signal(pids, groups, signal.SIGTERM)
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline and any(process_running(p) for p in (*pids, *groups)):
        time.sleep(0.2)
    left = [p for p in (*pids, *groups) if process_running(p)]
    _signal([p for p in left if p in pids], groups, signal.SIGKILL)
    return left


def _signal(pids: list[int], groups: list[int], sig: int) -> None:
    for pid in pids:
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.kill(pid, sig)
    for group in groups:
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(group, sig)
