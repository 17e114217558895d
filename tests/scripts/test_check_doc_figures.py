"""scripts/check_doc_figures.py: a marked block of figures in a page is checked line by line against a run's output;
every marked block in docs names a command this repository has."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
SCRIPT = ROOT / "scripts" / "check_doc_figures.py"

PAGE = """# A page

Measured with the demo:

<!-- figures: make demo-reviews -->
```
held-out: the newest 189 reviews, stars {'1': 4}; trained on 758 older ones
  review-sentiment-minilm-head-5        0.571    0.513  0.643
  confusion PNG: <lake>/model/rs/version=2026-02-26/v-20261207T201950497924Z-b166e62e/confusion.png
  decision rule: log-bias per class 1..5 [0.4, 0.0, -0.6, 0.0, 0.0], chosen out of fold on 758 reviews (…)
```

An unmarked block is not checked:

```
anything 1.0
```
"""

OUTPUT = """== airflow dags test product_review_sentiment
   product_review_sentiment 2026-02-26: success in 36 s

held-out: the newest 189 reviews, stars {'1': 4}; trained on 758 older ones
  review-sentiment-minilm-head-5        0.571    0.513  0.643
  confusion PNG: <lake>/model/rs/version=2026-02-26/v-20270101T000000000001Z-0123abcd/confusion.png
  decision rule: log-bias per class 1..5 [0.4, 0.0, -0.6, 0.0, 0.0], chosen out of fold on 758 reviews (the rule)
"""


def _check(tmp_path: Path, output: str) -> subprocess.CompletedProcess:
    page, log = tmp_path / "page.md", tmp_path / "run.log"
    page.write_text(PAGE)
    log.write_text(output)
    return subprocess.run([sys.executable, str(SCRIPT), "--page", str(page), "--output", str(log)],
                          capture_output=True, text=True, timeout=60)  # fmt: skip


def test_a_run_that_prints_the_pages_figures_passes_with_its_own_version_folder_and_run_time(tmp_path):
    done = _check(tmp_path, OUTPUT)
    assert done.returncode == 0, done.stderr
    assert "4 lines, all printed by the run" in done.stdout


def test_a_figure_the_run_does_not_print_fails_naming_the_line(tmp_path):
    done = _check(tmp_path, OUTPUT.replace("0.513", "0.420"))
    assert done.returncode == 1
    assert "1 of 4 lines not printed by the run" in done.stderr
    assert "review-sentiment-minilm-head-5        0.571    0.513  0.643" in done.stderr
    dropped = _check(tmp_path, OUTPUT.replace("[0.4, 0.0, -0.6, 0.0, 0.0]", "[-1.3, -2.3, -1.3, -2.6, 0.0]"))
    assert dropped.returncode == 1
    assert "decision rule" in dropped.stderr


def test_every_marked_block_in_the_docs_names_a_make_target_that_exists():
    done = subprocess.run([sys.executable, str(SCRIPT), "--list"], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    listed = [line.split("\t") for line in done.stdout.splitlines()]
    assert listed, "no page marks its figures"
    targets = set(re.findall(r"^([a-z][a-z-]*):", (ROOT / "Makefile").read_text(), flags=re.M))
    for where, command, _ in listed:
        words = command.split()
        make = words.index("make") if "make" in words else None
        assert make is not None, f"{where}: {command!r} is not a make target"
        assert words[make + 1] in targets, f"{where}: no make target {words[make + 1]!r}"


def test_a_command_quoted_by_two_blocks_of_a_page_runs_once(tmp_path):
    fake = tmp_path / "fake_demo.py"  # stands in for a demo: prints the run's output, counts its runs
    fake.write_text(f"import pathlib\np = pathlib.Path({str(tmp_path / 'runs')!r})\n"
                    f"p.write_text(p.read_text() + 'x' if p.exists() else 'x')\nprint({OUTPUT!r})\n")  # fmt: skip
    marker = f"<!-- figures: {sys.executable} {fake} -->"
    page = tmp_path / "page.md"
    page.write_text(
        PAGE.replace("<!-- figures: make demo-reviews -->", marker)
        + f"\n{marker}\n```\n{OUTPUT.splitlines()[1]}\n```\n"
    )
    done = subprocess.run([sys.executable, str(SCRIPT), "--page", str(page), "--run"], capture_output=True, text=True,
                          timeout=60)  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert done.stdout.count("all printed by the run") == 2
    assert (tmp_path / "runs").read_text() == "x"
