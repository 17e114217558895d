"""Text rules (review cleaning, valid UTF-8) shared by the Spark job and plain-Python callers: one definition each."""

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


def utf8(text: str | None) -> str | None:
    """``text`` as valid UTF-8: a lone surrogate (JSON's ``"\\ud800"`` decodes to one) has no UTF-8 form, so Parquet
    and JSON responses cannot hold it; it is kept as its escape (``\\ud800``, six characters) instead of failing."""
    if text is None:
        return None
    return text.encode("utf-8", "backslashreplace").decode("utf-8")


def clean_review_text(text: str | None) -> str:
    """Strip Steam markup and control characters, collapse whitespace, trim (as ``clean_text`` does in Spark)."""
    if not text:
        return ""
    return _SPACE.sub(" ", _BBCODE.sub(" ", _CONTROL.sub(" ", text))).strip()
