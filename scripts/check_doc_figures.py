"""Blocks of figures in docs are a named command's output, and a run of that command re-checks them.

A page marks a block of printed figures with ``<!-- figures: <command> -->`` on the line before its fence::

    <!-- figures: make demo-reviews -->
    ```
    held-out: the newest 189 reviews …
    ```

* ``--list``: every marked block (page, line, command).
* ``--page P --output LOG``: compare the marked blocks of page ``P`` with a run's output saved in ``LOG``.
* ``--page P --run``: run each block's command (from the repository root, as a list: no shell) and compare.

Every line of a block must occur in the output, once the parts that change from run to run are masked on both sides
(a version folder ``v-<time>-<id>``, seconds of run time ``in 62 s`` / ``(87 s)``); ``…`` in a block line stands
for any text. Exit status 1 lists each block line the run did not print: the page or the code is wrong.
``make check-doc-figures`` re-runs the cheap ones (``make demo-reviews`` and ``make demo``, about 2 min each on 2
cores); ``--page docs/recommendations.md --run`` re-runs ``make demo-recs`` (about 5 min) for its two blocks.
"""

from __future__ import annotations

import argparse
import re
import shlex
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
MARK = re.compile(r"^<!--\s*figures:\s*(?P<command>.+?)\s*-->\s*$")
#: what differs between two runs of the same command on the same input, masked before comparing
MASKS = (
    (re.compile(r"v-\d{8}T\d{6}\d*Z-[0-9a-f]+"), "v-…"),
    (re.compile(r"\bin \d+(\.\d+)? s\b"), "in … s"),
    (re.compile(r"\(\d+(\.\d+)? s\)"), "(… s)"),
)


@dataclass(frozen=True)
class Block:
    page: Path
    line: int  # of the mark, 1-based
    command: str
    lines: tuple[str, ...]


def blocks(page: Path) -> list[Block]:
    """The marked blocks of ``page``, in order."""
    text = page.read_text().splitlines()
    out = []
    for i, line in enumerate(text):
        m = MARK.match(line)
        if not m:
            continue
        if i + 1 >= len(text) or not text[i + 1].startswith("```"):
            raise ValueError(f"{page}:{i + 1}: a figures mark must be followed by a fenced block")
        end = next((j for j in range(i + 2, len(text)) if text[j].startswith("```")), None)
        if end is None:
            raise ValueError(f"{page}:{i + 1}: the block after the figures mark is not closed")
        body = tuple(ln for ln in text[i + 2 : end] if ln.strip())
        out.append(Block(page, i + 1, m["command"], body))
    return out


def mask(line: str) -> str:
    for pattern, replacement in MASKS:
        line = pattern.sub(replacement, line)
    return line.strip()


def missing(block: Block, output: str) -> list[str]:
    """The lines of ``block`` that no line of ``output`` matches (masked; ``…`` in a block line is any text)."""
    printed = [mask(ln) for ln in output.splitlines()]
    lost = []
    for line in block.lines:
        parts = [re.escape(p) for p in mask(line).split("…")]
        pattern = re.compile(".*".join(parts))
        if not any(pattern.fullmatch(p) for p in printed):
            lost.append(line)
    return lost


def run(command: str) -> str:
    """The command's stdout and stderr together (it runs from the repository root, as an argument list)."""
    done = subprocess.run(shlex.split(command), cwd=ROOT, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        raise RuntimeError(f"{command} exited {done.returncode}:\n{done.stdout[-2000:]}{done.stderr[-2000:]}")
    return done.stdout + done.stderr


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--list", action="store_true", help="list every marked block of docs/ and README.md")
    ap.add_argument("--page", type=Path, help="the page whose marked blocks to check")
    src = ap.add_mutually_exclusive_group()
    src.add_argument("--output", type=Path, help="a saved output of the blocks' command")
    src.add_argument("--run", action="store_true", help="run each block's command and check its output")
    args = ap.parse_args(argv)
    if args.list:
        for page in [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]:
            for b in blocks(page):
                sys.stdout.write(f"{b.page.relative_to(ROOT)}:{b.line}\t{b.command}\t{len(b.lines)} lines\n")
        return 0
    if args.page is None or not (args.output or args.run):
        ap.error("give --list, or --page with --output or --run")
    failed, outputs = 0, {}  # a command quoted by several blocks of the page runs once
    for b in blocks(args.page):
        if b.command not in outputs:
            outputs[b.command] = args.output.read_text() if args.output else run(b.command)
        output = outputs[b.command]
        lost = missing(b, output)
        where = f"{b.page}:{b.line} ({b.command})"
        if lost:
            failed += 1
            sys.stderr.write(f"{where}: {len(lost)} of {len(b.lines)} lines not printed by the run:\n")
            sys.stderr.writelines(f"  {line}\n" for line in lost)
        else:
            sys.stdout.write(f"{where}: {len(b.lines)} lines, all printed by the run\n")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
