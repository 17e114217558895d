"""The demo scripts end the way jobs end: after ``deltalake`` was used, a demo that finished exits 0 — never the
teardown abort (``terminate called without an active exception``, SIGABRT) that made a first ``make demo`` fail
after printing its whole summary (delta-rs's runtime threads while the interpreter finalises; measured here: 3 of
30 plain ``sys.exit(0)`` runs aborted)."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
DEMOS = sorted((ROOT / "scripts").glob("demo*.py"))

#: what a demo has done by the time it returns: written and read Delta days (delta-rs's runtime is up)
USED_DELTALAKE = """
import sys, tempfile
import pyarrow as pa
from shoplake.io.lake import read_partition, write_partition
lake = tempfile.mkdtemp()
for i in range(3):
    write_partition(pa.table({"id": [str(i)] * 100}), f"{lake}/raw/e/ds=2024-01-0{i + 1}")
    read_partition(f"{lake}/raw/e/ds=2024-01-0{i + 1}")
"""


def _tail(script: Path) -> str:
    """The script's own ``if __name__ == "__main__":`` block, as it stands in the file."""
    source = script.read_text()
    marker = 'if __name__ == "__main__":\n'
    assert marker in source, f"{script.name} has no __main__ block"
    return textwrap.dedent(source.split(marker, 1)[1])


def _run(program: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-c", program], capture_output=True, text=True, timeout=120, cwd=ROOT)


def test_each_demo_ends_through_run_script():
    assert DEMOS, "no scripts/demo*.py"
    for script in DEMOS:
        assert "run_script(main)" in _tail(script), f"{script.name} does not end the way jobs end"


@pytest.mark.parametrize("script", DEMOS, ids=[s.stem for s in DEMOS])
def test_a_demo_that_used_deltalake_and_finished_exits_0_every_time(script):
    runs = 12 if script.name == "demo.py" else 3  # `make demo` is the one a newcomer runs first
    program = f"{USED_DELTALAKE}\ndef main():\n    return 0\n\n{_tail(script)}"
    with ThreadPoolExecutor(2) as pool:
        results = list(pool.map(_run, [program] * runs))
    codes = [r.returncode for r in results]
    assert codes == [0] * runs, [r.stderr[-400:] for r in results if r.returncode]


@pytest.mark.parametrize(
    ("body", "code", "stderr"),
    [
        ("return 1", 1, ""),
        ("raise SystemExit('--to-date 2019-03-01 is before --from-date 2019-03-03')", 1, "is before --from-date"),
        ("raise RuntimeError('boom')", 1, "RuntimeError: boom"),
        ("return None", 0, ""),
    ],
)
def test_run_script_keeps_what_main_says(body, code, stderr):
    tail = "from shoplake.jobconfig import run_script\nrun_script(main)\n"
    program = f"{USED_DELTALAKE}\ndef main():\n    {body}\n\n{tail}"
    result = _run(program)
    assert result.returncode == code
    assert stderr in result.stderr
