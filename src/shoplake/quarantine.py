"""Quarantine rows: a rejected record, the reason, and the record itself as JSON.

Every stage that rejects input writes its rejects to ``quarantine/<zone>_<dataset>/ds=…`` so that
``rows in == rows good + rows quarantined`` holds at every step and nothing is lost silently.
"""

from __future__ import annotations

from collections.abc import Sequence

import pyarrow as pa

QUARANTINE_SCHEMA = pa.schema(
    [
        pa.field("record_id", pa.string()),
        pa.field("reason", pa.string(), nullable=False),
        pa.field("document", pa.string()),
    ]
)


def quarantine_table(
    record_ids: Sequence[str | None], reasons: Sequence[str], documents: Sequence[str | None]
) -> pa.Table:
    """Build a quarantine table; every row must carry a non-empty reason."""
    if not len(record_ids) == len(reasons) == len(documents):
        raise ValueError("record_ids, reasons and documents must have the same length")
    if any(not r for r in reasons):
        raise ValueError("every quarantined row needs a reason")
    return pa.table(
        {
            "record_id": [_utf8(v) for v in record_ids],
            "reason": [_utf8(v) for v in reasons],
            "document": [_utf8(v) for v in documents],
        },
        schema=QUARANTINE_SCHEMA,
    )


def _utf8(value: str | None) -> str | None:
    """``value`` as valid UTF-8: a lone surrogate (JSON's ``"\\udc80"`` decodes to one) cannot be stored in
    Parquet, so it is kept as its escape (``\\udc80``) rather than failing the quarantine write."""
    if value is None:
        return None
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        return value.encode("utf-8", "backslashreplace").decode("utf-8")
    return value
