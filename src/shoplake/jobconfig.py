"""Job configs are dataclasses; their CLI flags are the kebab-case field names (one parser for every job)."""

from __future__ import annotations

import argparse
import dataclasses
from typing import Any, TypeVar

T = TypeVar("T")


def _bool(text: str) -> bool:
    if text.lower() in ("1", "true", "yes"):
        return True
    if text.lower() in ("0", "false", "no"):
        return False
    raise argparse.ArgumentTypeError(f"expected true/false, got {text!r}")


def parse_job_args(cls: type[T], argv: list[str] | None, description: str | None) -> T:
    """Parse ``argv`` into ``cls``: fields without a default are required flags, the rest typed by their default.

    The dataclass's own ``__post_init__`` validates the values.
    """
    p = argparse.ArgumentParser(description=description, formatter_class=argparse.RawDescriptionHelpFormatter)
    for f in dataclasses.fields(cls):  # type: ignore[arg-type]
        flag = "--" + f.name.replace("_", "-")
        help_text = f.metadata.get("help")
        if f.default is dataclasses.MISSING:
            p.add_argument(flag, required=True, help=help_text)
        else:
            kind = _bool if isinstance(f.default, bool) else type(f.default)
            p.add_argument(flag, type=kind, default=f.default, help=help_text)
    values: dict[str, Any] = vars(p.parse_args(argv))
    return cls(**values)
