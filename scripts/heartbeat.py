"""Run a command, pass its output through, and print a line whenever it has been silent for a while.

``python3 scripts/heartbeat.py --what "installing the pinned requirements" -- pip install -q …``

A first ``make`` spends minutes in steps that print nothing (``pip -q`` resolving and unpacking wheels): a
newcomer cannot tell that from a hang. The wrapper prints ``<what>: still running (N s)`` after every ``--every``
seconds without output, and exits with the command's own code. Standard library only: it runs before the venv
exists. No shell: the command is an argument list.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import threading
import time


def run(cmd: list[str], what: str, every: float) -> int:
    started = time.monotonic()
    last = [started]
    done = threading.Event()

    def beat() -> None:
        while not done.wait(1.0):
            now = time.monotonic()
            if now - last[0] >= every:
                last[0] = now
                print(f"{what}: still running ({now - started:.0f} s)", flush=True)  # noqa: T201 - its output

    print(f"{what} …", flush=True)  # noqa: T201 - its output
    thread = threading.Thread(target=beat, daemon=True)
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, bufsize=0)
    thread.start()
    assert proc.stdout is not None
    for line in iter(proc.stdout.readline, b""):
        last[0] = time.monotonic()
        sys.stdout.buffer.write(line)
        sys.stdout.flush()
    code = proc.wait()
    done.set()
    thread.join()
    outcome = "done" if code == 0 else f"failed (exit {code})"
    print(f"{what}: {outcome} in {time.monotonic() - started:.0f} s", flush=True)  # noqa: T201 - its output
    return code


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--what", required=True, help="what the command does, as the lines say it")
    p.add_argument("--every", type=float, default=20.0, help="seconds of silence before a line (default 20)")
    p.add_argument("cmd", nargs=argparse.REMAINDER, help="-- then the command and its arguments")
    a = p.parse_args(argv)
    cmd = a.cmd[1:] if a.cmd[:1] == ["--"] else a.cmd
    if not cmd:
        p.error("give the command after --")
    if a.every <= 0:
        p.error(f"--every must be above 0 seconds, not {a.every}")
    return run(cmd, a.what, a.every)


if __name__ == "__main__":
    sys.exit(main())
