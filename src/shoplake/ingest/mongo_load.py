"""Upsert source reviews into MongoDB, keyed by ``recommendationid`` — rerunning a load changes nothing.

Only what is needed to store and window a document is checked here (a key and a creation time); the full
schema is checked on the way out to the raw zone, where a bad document is quarantined with its reason.
"""

from __future__ import annotations

import json
import logging
import re
from collections.abc import Iterable
from dataclasses import asdict, dataclass, field
from typing import TYPE_CHECKING, Any

from shoplake.ingest.mongo_extract import INT_TYPES, STEAM_REVIEW_FIELDS
from shoplake.ingest.steam_source import SourceRecord
from shoplake.progress import Progress
from shoplake.quarantine import quarantine_table

if TYPE_CHECKING:
    import pyarrow as pa
    from pymongo.collection import Collection

log = logging.getLogger(__name__)

BATCH_SIZE = 1000


#: integer fields (dotted document paths) that older API responses may send as numeric strings
INT_PATHS = tuple(f.path for f in STEAM_REVIEW_FIELDS if f.bson_types == INT_TYPES)
_INT_RE = re.compile(r"^\s*[+-]?\d+(\.0*)?\s*$")


@dataclass
class LoadResult:
    """Counts of one load: ``read == out_of_window + inserted + matched + quarantined``.

    ``coerced`` counts the stored reviews with at least one number that came as a string; ``files_skipped`` the
    source files that could not be read (each one is a quarantine row, not a review).
    """

    read: int = 0
    out_of_window: int = 0
    inserted: int = 0
    matched: int = 0
    quarantined: int = 0
    coerced: int = 0
    files_skipped: int = 0
    quarantine: list[tuple[str | None, str, str]] = field(default_factory=list, repr=False)
    coerced_fields: dict[str, int] = field(default_factory=dict, repr=False)

    def counts(self) -> dict[str, int]:
        return {k: v for k, v in asdict(self).items() if k not in ("quarantine", "coerced_fields")}

    def quarantine_table(self) -> pa.Table:
        ids, reasons, docs = zip(*self.quarantine, strict=True) if self.quarantine else ((), (), ())
        return quarantine_table(ids, reasons, docs)


def _as_json(value: Any) -> str:
    return json.dumps(value, sort_keys=True, default=str)


def _reject_reason(review: Any) -> str | None:
    if not isinstance(review, dict):
        return f"review is a {type(review).__name__}, not a JSON object"
    rid = review.get("recommendationid")
    if not isinstance(rid, str) or not rid.isdigit():
        return "recommendationid missing or not a string of digits"
    ts = review.get("timestamp_created")
    if not isinstance(ts, int) or isinstance(ts, bool):
        return "timestamp_created missing or not an integer (cannot place the review in a day)"
    return None


def normalize_review(review: dict[str, Any]) -> dict[str, Any]:
    """Give fields the source sends in two shapes one BSON type.

    Steam sends ``weighted_vote_score`` as a decimal string (``"0.7304787635"``) or, for unscored reviews, the
    JSON integer ``0``; the string form is kept so the raw schema can type the field as a string without loss.
    """
    score = review.get("weighted_vote_score")
    if isinstance(score, int | float) and not isinstance(score, bool):
        return {**review, "weighted_vote_score": str(score)}
    return review


def coerce_numbers(review: dict[str, Any]) -> tuple[dict[str, Any], list[str]]:
    """Integer fields sent as numeric strings (``"comment_count": "3"``, older API responses) become integers.

    Returns the review (a copy when anything changed) and the coerced paths. Strings that are not whole numbers
    are left as they are: the raw extract quarantines them with a type reason, as it does negative values and
    Steam's 4294967295 overflow (range checks run on the coerced integers).
    """
    coerced: list[str] = []
    out = review
    for path in INT_PATHS:
        *parents, leaf = path.split(".")
        node: Any = out
        for key in parents:
            node = node.get(key) if isinstance(node, dict) else None
        value = node.get(leaf) if isinstance(node, dict) else None
        if isinstance(value, str) and _INT_RE.match(value):
            if out is review:
                out = json.loads(json.dumps(review))  # deep copy of plain JSON
            target = out
            for key in parents:
                target = target[key]
            target[leaf] = int(float(value))
            coerced.append(path)
    return out, coerced


def unstorable_reason(doc: dict[str, Any]) -> str | None:
    """Why MongoDB cannot store ``doc`` (``None`` when it can): what BSON encoding refuses — integers beyond 64
    bits, lone surrogates in strings, NUL bytes in keys — checked per document, so one such review is quarantined
    instead of failing the whole batch."""
    import bson

    try:
        bson.encode(doc)
    except (bson.errors.InvalidDocument, bson.errors.InvalidStringData, OverflowError, UnicodeError) as exc:
        return f"not storable in MongoDB: {type(exc).__name__}: {str(exc)[:200]}"
    return None


def ensure_indexes(collection: Collection) -> None:
    """The extract's window query runs on ``timestamp_created``; keep it indexed."""
    collection.create_index("timestamp_created")


def _document(
    rec: SourceRecord, seen: dict[str, str], start_ts: int, end_ts: int
) -> tuple[SourceRecord, Any, dict[str, Any] | None, str | None, list[str]]:
    """One source record made a document: ``(record with numbers coerced, its id, the document, why it is refused,
    the coerced fields)``; neither a document nor a reason: created outside ``[start_ts, end_ts)``."""
    review, coerced = coerce_numbers(rec.review) if isinstance(rec.review, dict) else (rec.review, [])
    rec = SourceRecord(appid=rec.appid, review=review, source=rec.source)
    reason = _reject_reason(rec.review)
    rid = rec.review.get("recommendationid") if isinstance(rec.review, dict) else None
    if reason is None:
        if not start_ts <= rec.review["timestamp_created"] < end_ts:
            return rec, rid, None, None, coerced
        if rid in seen:
            reason = f"duplicate recommendationid in this load (first seen in {seen[rid]})"
    if reason is not None:
        return rec, rid, None, reason, coerced
    doc = {**normalize_review(rec.review), "_id": rid, "appid": rec.appid, "_source": rec.source}
    if coerced:  # kept on the document: which values the source sent as strings
        doc["_coerced"] = coerced
    return rec, rid, doc, unstorable_reason(doc), coerced


def load_reviews(collection: Collection, records: Iterable[SourceRecord], *, start_ts: int, end_ts: int) -> LoadResult:
    """Upsert the reviews created in ``[start_ts, end_ts)`` into ``collection``.

    Documents are stored as the source gave them plus ``_id`` (= ``recommendationid``), ``appid`` and
    ``_source``. A record without a usable key or creation time, a second copy of a key in the same load, or a
    document MongoDB cannot store (refused by BSON encoding or by the server) is returned in
    ``LoadResult.quarantine`` with its reason rather than dropped or failing the load.
    """
    from pymongo import ReplaceOne
    from pymongo.errors import BulkWriteError

    ensure_indexes(collection)
    result = LoadResult()
    seen: dict[str, str] = {}
    batch: list[ReplaceOne] = []
    sources: list[SourceRecord] = []  # the record of each batch entry, to quarantine what the server refuses
    progress = Progress(None, "source reviews read", log)

    def flush() -> None:
        if not batch:
            return
        try:
            res = collection.bulk_write(batch, ordered=False)
            result.inserted += res.upserted_count
            result.matched += res.matched_count
        except BulkWriteError as exc:  # the server refused some documents (e.g. nested too deep): the rest stand
            details = exc.details
            result.inserted += details.get("nUpserted", 0)
            result.matched += details.get("nMatched", 0)
            for err in details.get("writeErrors", []):
                rec = sources[err["index"]]
                reason = f"refused by MongoDB (code {err.get('code')}): {str(err.get('errmsg', ''))[:200]}"
                quarantine(rec, rec.review.get("recommendationid"), reason)
        batch.clear()
        sources.clear()

    def quarantine(rec: SourceRecord, rid: Any, reason: str) -> None:
        result.quarantined += 1
        doc = {"appid": rec.appid, "source": rec.source, "review": rec.review}
        result.quarantine.append((rid if isinstance(rid, str) else None, reason, _as_json(doc)))

    for rec in records:
        progress.update(1)
        if rec.error:
            result.files_skipped += 1
            doc = {"appid": rec.appid, "source": rec.source}
            result.quarantine.append((None, f"source file skipped: {rec.error}", _as_json(doc)))
            continue
        result.read += 1
        rec, rid, doc, reason, coerced = _document(rec, seen, start_ts, end_ts)
        if reason is not None:
            quarantine(rec, rid, reason)
            continue
        if doc is None:
            result.out_of_window += 1
            continue
        seen[rid] = rec.source
        if coerced:
            result.coerced += 1
            for path in coerced:
                result.coerced_fields[path] = result.coerced_fields.get(path, 0) + 1
        batch.append(ReplaceOne({"_id": rid}, doc, upsert=True))
        sources.append(rec)
        if len(batch) >= BATCH_SIZE:
            flush()
    flush()
    progress.finish()
    log.info("load counts %s", result.counts())
    if result.coerced:
        log.info("numbers sent as strings, coerced to integers: %s", result.coerced_fields)
    if result.files_skipped:
        log.warning("%s source file(s) skipped (unreadable; see the load quarantine)", result.files_skipped)
    return result
