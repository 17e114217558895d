"""Error answers of shoplake's FastAPI apps (the prediction service and the Lake page): always JSON, never the input.

* A request that fails validation gets **422** with one entry per problem — ``field`` (``body.rows.0.votes_up``;
  ``loc``, the same as a list, as FastAPI gives it), ``reason`` and ``type`` (pydantic's), and at most
  :data:`EXCERPT_CHARS` characters of the offending value — never the whole input echoed back (an 800 KB batch would
  come back as an 800 KB error, and NaN / Infinity, which Python's JSON parser accepts, cannot be encoded in the
  answer at all). At most :data:`MAX_ERRORS` entries, with the total.
* Anything unexpected gets **500** ``{"detail": "internal error", "request_id": …}``: the trace goes to the log
  under that request id, never to the client.

Every answer carries ``X-Request-ID`` (the caller's, or a fresh one).
"""

from __future__ import annotations

import json
import logging
import math
import uuid
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exception_handlers import http_exception_handler
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from shoplake.quarantine import utf8

#: characters of an offending value quoted back in a 422
EXCERPT_CHARS = 80
#: validation problems listed in one 422 (the answer says how many there were)
MAX_ERRORS = 20

log = logging.getLogger("shoplake.serve.errors")


def request_id(request: Request) -> str:
    """The request's id: the one the middleware stored, the caller's ``X-Request-ID`` (first 64 characters), or new."""
    rid = getattr(request.state, "request_id", None)
    if not rid:
        rid = (request.headers.get("x-request-id") or "")[:64] or uuid.uuid4().hex[:16]
        request.state.request_id = rid
    return rid


def excerpt(value: Any, limit: int = EXCERPT_CHARS) -> str:
    """A short, JSON-safe rendering of an offending value: ``nan``, ``inf``, the start of a long string or list.

    Rendered piece by piece within ``limit`` characters: a 200,000-item list or a deeply nested body is never
    serialised whole only to be cut.
    """
    parts: list[str] = []
    budget = [limit + 1]

    def put(text: str) -> bool:
        parts.append(text[: budget[0]])
        budget[0] -= len(text)
        return budget[0] > 0

    def walk(v: Any, depth: int) -> bool:
        if isinstance(v, dict):
            if depth > 8 or not put("{"):
                return put("…}")
            for i, (k, item) in enumerate(v.items()):
                if (i and not put(", ")) or not put(json.dumps(str(k)) + ": ") or not walk(item, depth + 1):
                    return False
            return put("}")
        if isinstance(v, list | tuple):
            if depth > 8 or not put("["):
                return put("…]")
            for i, item in enumerate(v):
                if (i and not put(", ")) or not walk(item, depth + 1):
                    return False
            return put("]")
        if isinstance(v, float) and not math.isfinite(v):
            return put(repr(v))
        if isinstance(v, str):
            return put(json.dumps(v[: budget[0]], ensure_ascii=False) if depth else v[: budget[0]])
        if v is None or isinstance(v, bool | int | float):
            return put(json.dumps(v) if not isinstance(v, int) or abs(v) < 10**30 else f"<{v.bit_length()}-bit int>")
        return put(repr(v)[: budget[0]])

    walk(value, 0)
    text = utf8("".join(parts))  # before the cut: a lone surrogate becomes six characters (\\ud800)
    return text if len(text) <= limit else text[: limit - 1] + "…"


def validation_errors(errors: list[dict], content_type: str | None = None) -> dict[str, Any]:
    """The body of a 422: pydantic's errors as ``field`` / ``reason`` / ``type`` / ``excerpt``, bounded. Two of
    FastAPI's say what happened in a person's words: a body that is not JSON (FastAPI's location is a character
    offset, ``body.10``) and a body sent without a JSON content type (read as bytes: "a valid dictionary")."""
    out = []
    for err in errors[:MAX_ERRORS]:
        if err.get("type") == "json_invalid":
            at = next((p for p in err.get("loc", ())[1:] if isinstance(p, int)), None)
            why = (err.get("ctx") or {}).get("error", "")
            where = f" at character {at}" if at is not None else ""
            err = {**err, "loc": ("body",), "msg": f"the body is not valid JSON{where}" + (f": {why}" if why else "")}
        elif (
            tuple(err.get("loc", ())) == ("body",)
            and isinstance(err.get("input"), bytes | str)
            and not _is_json(content_type)
        ):
            sent = f"as {content_type}" if content_type else "without a content type"
            err = {**err, "msg": f"the body was sent {sent}: send JSON with Content-Type: application/json"}
        # a location names the input's own keys (an unknown column's name): each part is cut like an excerpt
        loc = [p if isinstance(p, int) else excerpt(str(p), 40) for p in err.get("loc", ())]
        entry = {
            "field": ".".join(str(p) for p in loc) or "body",
            "loc": loc,
            "reason": utf8(str(err.get("msg", "invalid"))[:200]),
            "type": utf8(str(err.get("type", "value_error"))),
        }
        if "input" in err and err["type"] not in ("missing", "json_invalid"):
            entry["excerpt"] = excerpt(err["input"])
        out.append(entry)
    return {"detail": out, "errors_total": len(errors)}


def _is_json(content_type: str | None) -> bool:
    media = (content_type or "").split(";", 1)[0].strip().lower()
    return media == "application/json" or media.endswith("+json")


class Unprocessable(Exception):
    """A 422 an endpoint raises itself, in the same shape as a schema's: ``(field, reason)`` pairs, plus context
    (e.g. the columns a model takes)."""

    def __init__(self, problems: list[tuple[str, str]], **extra: Any) -> None:
        super().__init__("; ".join(f"{f}: {r}" for f, r in problems[:3]))
        self.problems, self.extra = problems, extra

    def body(self) -> dict[str, Any]:
        detail = [{"field": utf8(f), "reason": utf8(r[:200]), "type": "value_error"} for f, r in self.problems]
        return {"detail": detail[:MAX_ERRORS], "errors_total": len(detail), **self.extra}


def install(app: FastAPI, logger: logging.Logger | None = None) -> None:
    """Register the 422 (schema and :class:`Unprocessable`) and 500 handlers above on ``app``."""
    logger = logger or log

    @app.exception_handler(RequestValidationError)
    async def invalid(request: Request, exc: RequestValidationError) -> JSONResponse:
        problems = validation_errors(list(exc.errors()), request.headers.get("content-type"))
        body = {**problems, "request_id": request_id(request)}
        return JSONResponse(body, 422, headers={"X-Request-ID": body["request_id"]})

    @app.exception_handler(Unprocessable)
    async def refused(request: Request, exc: Unprocessable) -> JSONResponse:
        body = {**exc.body(), "request_id": request_id(request)}
        return JSONResponse(body, 422, headers={"X-Request-ID": body["request_id"]})

    @app.exception_handler(StarletteHTTPException)
    async def refused_http(request: Request, exc: StarletteHTTPException) -> Any:
        # FastAPI answers a body it cannot decode (not UTF-8) with a bare 400; it is invalid input like any other,
        # and gets the 422 every other invalid body gets
        if exc.status_code == 400 and exc.detail == "There was an error parsing the body":
            problem = {"loc": ("body",), "msg": "the body is not valid JSON (UTF-8)", "type": "json_invalid"}
            body = {**validation_errors([problem]), "request_id": request_id(request)}
            return JSONResponse(body, 422, headers={"X-Request-ID": body["request_id"]})
        return await http_exception_handler(request, exc)

    @app.exception_handler(Exception)
    async def crashed(request: Request, exc: Exception) -> JSONResponse:
        rid = request_id(request)
        logger.error("request %s %s %s failed", rid, request.method, request.url.path, exc_info=exc)
        body = {"detail": "internal error", "request_id": rid}
        return JSONResponse(body, 500, headers={"X-Request-ID": rid})
