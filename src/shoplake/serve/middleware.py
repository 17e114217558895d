"""The service's ASGI middleware and request checks: one access-log line per request, the body-size limit, unknown
query parameters refused, and what counts as a loopback host (``shoplake serve`` needs a key for any other)."""

# no `from __future__ import annotations`: FastAPI resolves the dependency's annotations at run time

import json
import logging
import time
import uuid
from typing import Any

from fastapi import Request

from shoplake.serve import errors

access_log = logging.getLogger("shoplake.serve.access")

LOOPBACK = ("127.0.0.1", "localhost", "::1")


class AccessLog:
    """ASGI middleware, outermost: one JSON line per request with the status that went out — a 413 from the body
    limit or a 500 included — and ``X-Request-ID`` on every answer (the caller's, or a fresh one)."""

    def __init__(self, app: Any) -> None:
        self.app = app

    async def __call__(self, scope: dict, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        given = dict(scope.get("headers") or []).get(b"x-request-id", b"").decode("latin-1")[:64]
        rid = given or uuid.uuid4().hex[:16]
        scope.setdefault("state", {})["request_id"] = rid
        started = time.perf_counter()
        status = [500]

        async def send_logged(message: dict) -> None:
            if message["type"] == "http.response.start":
                status[0] = message["status"]
                headers = [(k, v) for k, v in message.get("headers", []) if k.lower() != b"x-request-id"]
                message = {**message, "headers": [*headers, (b"x-request-id", rid.encode("latin-1"))]}
            await send(message)

        try:
            await self.app(scope, receive, send_logged)
        finally:
            client = scope.get("client")
            access_log.info(
                json.dumps(
                    {
                        "event": "request",
                        "request_id": rid,
                        "method": scope.get("method"),
                        "path": scope.get("path"),
                        "status": status[0],
                        "ms": round((time.perf_counter() - started) * 1000, 2),
                        "client": client[0] if client else None,
                    }
                )
            )


class BodyLimit:
    """ASGI middleware: a request body over ``limit`` bytes gets 413, whether its length is declared or it streams
    (chunked): past the limit the 413 goes out, the application sees the client gone, and what it would answer is
    dropped."""

    def __init__(self, app: Any, limit: int) -> None:
        self.app, self.limit = app, limit

    async def __call__(self, scope: dict, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        declared_length = dict(scope.get("headers") or []).get(b"content-length")
        if declared_length is not None and declared_length.isdigit() and int(declared_length) > self.limit:
            await self._reject(send)
            return
        seen, answered = 0, False

        async def counted() -> dict:
            nonlocal seen, answered
            if answered:
                return {"type": "http.disconnect"}
            message = await receive()
            seen += len(message.get("body", b""))
            if seen > self.limit:
                answered = True
                await self._reject(send)
                return {"type": "http.disconnect"}
            return message

        async def unless_answered(message: dict) -> None:
            if not answered:
                await send(message)

        await self.app(scope, counted, unless_answered)

    async def _reject(self, send: Any) -> None:
        body = json.dumps({"detail": f"request body over {self.limit} bytes"}).encode()
        headers = [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())]
        await send({"type": "http.response.start", "status": 413, "headers": headers})
        await send({"type": "http.response.body", "body": body})


def known_query(request: Request) -> None:
    """Refuse query parameters the operation does not take (``?kk=5`` for ``?k=5`` would be ignored in silence)."""
    route = request.scope.get("route")
    dependant = getattr(route, "dependant", None)
    if dependant is None or not request.query_params or not getattr(route, "include_in_schema", True):
        return  # the page and the docs are for people: a stray ?utm_source= must not break them
    known = {p.alias for p in dependant.query_params}
    unknown = [k for k in request.query_params if k not in known]
    if unknown:
        taken = ", ".join(sorted(known)) or "none"
        raise errors.Unprocessable(
            [(f"query.{errors.excerpt(k, 40)}", f"unknown query parameter (this operation takes: {taken})")
             for k in unknown]
        )  # fmt: skip


def is_loopback(host: str) -> bool:
    return host in LOOPBACK or host.startswith("127.")
