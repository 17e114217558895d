"""Export one day of Steam reviews from MongoDB to the raw zone as typed Parquet.

The window is the half-open interval ``[start, end)`` on the indexed ``timestamp_created``. pymongoarrow
decodes the BSON batches straight into Arrow with an explicit (nested) schema — no per-document Python and no
server-side expressions. It refuses a document whose field has another BSON type than the schema's; only then
does the export ask the server (``$type`` query operators) for the few documents of the window that break the
type contract, quarantine them with per-field reasons, and decode the rest. Values of
the right type are then checked for ranges, sizes and duplicate keys, vectorised on the Arrow table.
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import pyarrow as pa
import pyarrow.compute as pc

from shoplake.quarantine import quarantine_table

if TYPE_CHECKING:
    from pymongo.collection import Collection

log = logging.getLogger(__name__)

INT_TYPES = ("int", "long")
INT64_MAX_SANE = 2**31  # Steam counters past this are an upstream overflow (seen: votes_funny 4294967295)


@dataclass(frozen=True)
class FieldSpec:
    """One raw column: where it is in the document and what it may hold.

    ``bson_types`` are the accepted ``$type`` names (one Arrow type each); ``min_value``/``max_value`` bound
    integers.
    """

    name: str
    path: str
    arrow_type: pa.DataType
    bson_types: tuple[str, ...]
    required: bool = True
    min_value: int | None = None
    max_value: int | None = None


STEAM_REVIEW_FIELDS: tuple[FieldSpec, ...] = (
    FieldSpec("recommendationid", "recommendationid", pa.string(), ("string",)),
    FieldSpec("appid", "appid", pa.int64(), INT_TYPES, min_value=0),
    FieldSpec("author_steamid", "author.steamid", pa.string(), ("string",)),
    FieldSpec(
        "author_num_games_owned",
        "author.num_games_owned",
        pa.int64(),
        INT_TYPES,
        min_value=0,
        max_value=INT64_MAX_SANE,
    ),
    FieldSpec(
        "author_num_reviews",
        "author.num_reviews",
        pa.int64(),
        INT_TYPES,
        min_value=0,
        max_value=INT64_MAX_SANE,
    ),
    FieldSpec(
        "author_playtime_forever",
        "author.playtime_forever",
        pa.int64(),
        INT_TYPES,
        min_value=0,
        max_value=INT64_MAX_SANE,
    ),
    FieldSpec(
        "author_playtime_last_two_weeks",
        "author.playtime_last_two_weeks",
        pa.int64(),
        INT_TYPES,
        min_value=0,
        max_value=20_160,
    ),  # minutes in two weeks
    FieldSpec("author_last_played", "author.last_played", pa.int64(), INT_TYPES, min_value=0),
    FieldSpec("language", "language", pa.string(), ("string",)),
    FieldSpec("review", "review", pa.string(), ("string",)),
    FieldSpec("timestamp_created", "timestamp_created", pa.int64(), INT_TYPES, min_value=0),
    FieldSpec("timestamp_updated", "timestamp_updated", pa.int64(), INT_TYPES, min_value=0),
    FieldSpec("voted_up", "voted_up", pa.bool_(), ("bool",)),
    FieldSpec("votes_up", "votes_up", pa.int64(), INT_TYPES, min_value=0, max_value=INT64_MAX_SANE),
    FieldSpec("votes_funny", "votes_funny", pa.int64(), INT_TYPES, min_value=0, max_value=INT64_MAX_SANE),
    # the loader stores Steam's number-or-string score as its string form (see mongo_load.normalize_review)
    FieldSpec("weighted_vote_score", "weighted_vote_score", pa.string(), ("string",)),
    FieldSpec("comment_count", "comment_count", pa.int64(), INT_TYPES, min_value=0, max_value=INT64_MAX_SANE),
    FieldSpec("steam_purchase", "steam_purchase", pa.bool_(), ("bool",)),
    FieldSpec("received_for_free", "received_for_free", pa.bool_(), ("bool",)),
    FieldSpec("written_during_early_access", "written_during_early_access", pa.bool_(), ("bool",)),
    FieldSpec("developer_response", "developer_response", pa.string(), ("string",), required=False),
    FieldSpec(
        "timestamp_dev_responded",
        "timestamp_dev_responded",
        pa.int64(),
        INT_TYPES,
        required=False,
        min_value=0,
    ),
)

RAW_STEAM_REVIEWS_SCHEMA = pa.schema([pa.field(f.name, f.arrow_type) for f in STEAM_REVIEW_FIELDS])

_PY_BSON_TYPES: tuple[tuple[type, str], ...] = (
    (bool, "bool"),  # before int: bool is an int subclass
    (int, "long"),
    (float, "double"),
    (str, "string"),
    (dict, "object"),
    (list, "array"),
)


def _bson_type(value: Any) -> str:
    """The ``$type`` name of a decoded BSON value (``int`` is ``int`` or ``long`` by size, like the server)."""
    if value is None:
        return "null"
    for py_type, name in _PY_BSON_TYPES:
        if isinstance(value, py_type):
            if name == "long" and -(2**31) <= value < 2**31:
                return "int"
            return name
    return type(value).__name__


_MISSING = object()


def _get_path(doc: dict[str, Any], path: str) -> Any:
    value: Any = doc
    for key in path.split("."):
        if not isinstance(value, dict) or key not in value:
            return _MISSING
        value = value[key]
    return value


def type_reasons(doc: dict[str, Any], fields: tuple[FieldSpec, ...] = ()) -> list[str]:
    """Per-field type problems of one decoded document (missing required fields included)."""
    reasons = []
    for f in fields or STEAM_REVIEW_FIELDS:
        value = _get_path(doc, f.path)
        if value is _MISSING or value is None:
            if f.required:
                reasons.append(f"{f.name} missing")
        elif _bson_type(value) not in f.bson_types:
            reasons.append(f"{f.name} is BSON {_bson_type(value)}, expected {'/'.join(f.bson_types)}")
    return reasons


def type_violation_filter(fields: tuple[FieldSpec, ...]) -> dict[str, Any]:
    """A query matching documents with a field of a type the schema refuses (nested parents included).

    An array is refused explicitly: ``$type`` matches an array by its *elements*, so ``[1, 2]`` would pass as a
    long (no field of the contract is an array; pymongoarrow cannot decode one into a scalar column)."""
    clauses: list[dict[str, Any]] = []
    parents = sorted({f.path.rsplit(".", 1)[0] for f in fields if "." in f.path})
    for parent in parents:
        clauses.append({parent: {"$exists": True, "$not": {"$type": ["object", "null"]}}})
        clauses.append({parent: {"$type": "array"}})
    for f in fields:
        clauses.append({f.path: {"$exists": True, "$not": {"$type": [*f.bson_types, "null"]}}})
        clauses.append({f.path: {"$type": "array"}})
    return {"$or": clauses}


def document_schema(fields: tuple[FieldSpec, ...]) -> dict[str, pa.DataType]:
    """Nested Arrow schema mirroring the document shape (``author.steamid`` → ``author: struct<steamid>``)."""
    nested: dict[str, Any] = {}
    for f in fields:
        *parents, leaf = f.path.split(".")
        node = nested
        for p in parents:
            node = node.setdefault(p, {})
        node[leaf] = f.arrow_type

    def build(node: dict[str, Any]) -> dict[str, pa.DataType]:
        return {k: pa.struct(build(v)) if isinstance(v, dict) else v for k, v in node.items()}

    return build(nested)


def _flatten(table: pa.Table, fields: tuple[FieldSpec, ...]) -> pa.Table:
    columns = []
    for f in fields:
        head, *rest = f.path.split(".")
        col = table[head]
        for key in rest:
            col = pc.struct_field(col, key)
        columns.append(pc.cast(col, f.arrow_type))
    return pa.table(columns, schema=pa.schema([pa.field(f.name, f.arrow_type) for f in fields]))


def _value_reasons(table: pa.Table, fields: tuple[FieldSpec, ...], max_review_chars: int) -> list[str]:
    """One ``;``-joined reason string per row of a well-typed table (empty string = good row).

    The checks run vectorised; reason strings are only built for the (rare) rows that fail one.
    """
    if table.num_rows == 0:
        return []  # (pyarrow crashes in indices_nonzero on a chunked array with no chunks)
    masks: list[tuple[Any, str]] = []
    for f in fields:
        col = table[f.name]
        if f.required:
            masks.append((pc.is_null(col), f"{f.name} missing"))
        if f.min_value is not None:
            masks.append((pc.less(col, f.min_value), f"{f.name} below {f.min_value}"))
        if f.max_value is not None:
            masks.append((pc.greater(col, f.max_value), f"{f.name} above {f.max_value}"))
    masks.append(
        (
            pc.greater(pc.utf8_length(table["review"]), max_review_chars),
            f"review longer than {max_review_chars} characters",
        )
    )
    masks.append((_bad_score(table["weighted_vote_score"]), "weighted_vote_score not a number in [0, 1]"))
    masks.append(
        (
            pc.less(table["timestamp_updated"], table["timestamp_created"]),
            "timestamp_updated before timestamp_created",
        )
    )
    masks.append((_duplicates(table["recommendationid"]), "duplicate recommendationid"))
    masks = [(pc.fill_null(m, False), text) for m, text in masks]
    any_bad = masks[0][0]
    for m, _ in masks[1:]:
        any_bad = pc.or_(any_bad, m)
    reasons = [""] * table.num_rows
    if isinstance(any_bad, pa.ChunkedArray):
        any_bad = any_bad.combine_chunks()
    bad_rows = pc.indices_nonzero(any_bad).to_pylist()
    if bad_rows:
        idx = pa.array(bad_rows, pa.int64())
        hits = [(pc.take(m, idx).to_pylist(), text) for m, text in masks]
        for j, row in enumerate(bad_rows):
            reasons[row] = ";".join(text for flags, text in hits if flags[j])
    return reasons


def _bad_score(col: pa.ChunkedArray) -> pa.ChunkedArray | pa.Array:
    """Scores that are not decimal numbers in [0, 1] (missing ones are the type check's business)."""
    try:
        x = pc.cast(col, pa.float64())
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
        out = []
        for v in col.to_pylist():
            try:
                out.append(v is not None and not 0.0 <= float(v) <= 1.0)
            except ValueError:
                out.append(True)
        return pa.array(out, pa.bool_())
    return pc.or_(pc.less(x, 0.0), pc.greater(x, 1.0))


def _duplicates(col: pa.ChunkedArray) -> pa.Array:
    """True on every occurrence of a key after its first."""
    counts = pc.value_counts(col)
    dup_keys = pc.filter(counts.field("values"), pc.greater(counts.field("counts"), 1))
    if len(dup_keys) == 0:
        return pa.array([False] * len(col), pa.bool_())
    dups = set(dup_keys.to_pylist())
    seen: set[str] = set()
    out = []
    for rid in col.to_pylist():
        out.append(rid in seen)
        if rid in dups:
            seen.add(rid)
    return pa.array(out, pa.bool_())


@dataclass(frozen=True)
class ExtractResult:
    """Rows of the window split into good (raw schema) and quarantined (with reasons)."""

    good: pa.Table
    quarantine: pa.Table

    def counts(self) -> dict[str, int]:
        n_good, n_bad = self.good.num_rows, self.quarantine.num_rows
        return {"in": n_good + n_bad, "good": n_good, "quarantined": n_bad}


def extract_window(
    collection: Collection,
    *,
    start_ts: int,
    end_ts: int,
    max_review_chars: int = 20_000,
    fields: tuple[FieldSpec, ...] = STEAM_REVIEW_FIELDS,
) -> ExtractResult:
    """Read reviews created in ``[start_ts, end_ts)`` and split them into good rows and quarantine rows.

    Args:
        collection: the Mongo collection (from ``MongoHook`` in Airflow, ``MongoClient`` elsewhere).
        start_ts: window start, unix seconds, inclusive.
        end_ts: window end, unix seconds, exclusive.
        max_review_chars: longer review texts are quarantined as absurd.
        fields: the column contract (``STEAM_REVIEW_FIELDS``).

    Returns:
        Good rows in the flat raw schema, and quarantine rows (``record_id``, ``reason``, ``document``: the
        stored document as extended JSON for type problems, the decoded row for value problems).
    """
    from bson import json_util
    from pymongoarrow.api import Schema, find_arrow_all

    if start_ts >= end_ts:
        raise ValueError(f"empty window [{start_ts}, {end_ts})")
    window = {"timestamp_created": {"$gte": start_ts, "$lt": end_ts}}

    schema = Schema(document_schema(fields))
    try:
        decoded = find_arrow_all(collection, window, schema=schema)
        mistyped: list[dict[str, Any]] = []
    except TypeError:
        # Some document breaks the type contract: find those few server-side, decode the rest.
        mistyped = list(collection.find({"$and": [window, type_violation_filter(fields)]}))
        if not mistyped:
            raise
        decoded = find_arrow_all(collection, {**window, "_id": {"$nin": [d["_id"] for d in mistyped]}}, schema=schema)
    ids, reasons, docs = [], [], []
    for doc in mistyped:
        rid = _get_path(doc, "recommendationid")
        ids.append(rid if isinstance(rid, str) else None)
        reasons.append(";".join(type_reasons(doc, fields)))
        docs.append(json_util.dumps(doc, sort_keys=True))
    table = _flatten(decoded, fields)
    row_reasons = _value_reasons(table, fields, max_review_chars)
    bad = pa.array([bool(r) for r in row_reasons], pa.bool_())
    for row, reason in zip(table.filter(bad).to_pylist(), (r for r in row_reasons if r), strict=True):
        ids.append(row["recommendationid"])
        reasons.append(reason)
        docs.append(json.dumps(row, sort_keys=True))

    result = ExtractResult(good=table.filter(pc.invert(bad)), quarantine=quarantine_table(ids, reasons, docs))
    log.info("extracted [%s, %s): %s", start_ts, end_ts, result.counts())
    return result
