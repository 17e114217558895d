"""Write the settings' part of docs/configuration.md from their declarations (``shoplake.config``); ``--check``
only compares.

python scripts/configuration_docs.py [--check]
"""

import argparse
import sys
from pathlib import Path

from shoplake.config import with_reference

DOC = Path(__file__).resolve().parents[1] / "docs" / "configuration.md"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--check", action="store_true", help="exit 1 when the file differs from the declarations")
    args = parser.parse_args()
    text = with_reference(DOC.read_text())
    if args.check:
        same = DOC.exists() and DOC.read_text() == text
        sys.stdout.write("docs/configuration.md " + ("is up to date\n" if same else "differs: run this script\n"))
        return 0 if same else 1
    DOC.write_text(text)
    sys.stdout.write(f"wrote {DOC}\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
