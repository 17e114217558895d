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
            "record_id": [utf8(v) for v in record_ids],
            "reason": [utf8(v) for v in reasons],
            "document": [utf8(v) for v in documents],
        },
        schema=QUARANTINE_SCHEMA,
    )


def utf8(text: str | None) -> str | None:
    """``text`` as valid UTF-8: a lone surrogate (JSON's ``"\\ud800"`` decodes to one) has no UTF-8 form, so Parquet
    and JSON responses cannot hold it; it is kept as its escape (``\\ud800``, six characters) instead of failing."""
    if text is None:
        return None
    return text.encode("utf-8", "backslashreplace").decode("utf-8")
