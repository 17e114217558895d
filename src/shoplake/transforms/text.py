"""Review text cleaning rules, shared by the Spark job and plain-Python callers (one definition of each rule)."""

from __future__ import annotations

import re

# Steam review markup: [b], [/i], [h1], [url=…], [spoiler], [list], [*] …
BBCODE_RE = (
    r"\[/?(?:b|i|u|s|h[1-3]|spoiler|noparse|hr|list|olist|\*|quote|code|table|tr|td|th|strike|url)(?:=[^\]]*)?\]"
)
URL_RE = r"https?://\S+"
CONTROL_RE = r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]"

_CONTROL = re.compile(CONTROL_RE)
_BBCODE = re.compile(BBCODE_RE, re.IGNORECASE)
_SPACE = re.compile(r"\s+")


def clean_review_text(text: str | None) -> str:
    """Strip Steam markup and control characters, collapse whitespace, trim (as ``clean_text`` does in Spark)."""
    if not text:
        return ""
    return _SPACE.sub(" ", _BBCODE.sub(" ", _CONTROL.sub(" ", text))).strip()
