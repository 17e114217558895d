"""The service's operations, one module per model family, each a ``router(ctx)`` that :func:`~shoplake.serve.app.
create_app` includes in :data:`ROUTERS`' order (the order of ``/openapi.json``).

A new endpoint: add its request body to :mod:`shoplake.serve.schemas`, its loader to :mod:`shoplake.serve.models`,
and a module here whose ``router(ctx)`` declares its operations with ``**ctx.operation(tag, *statuses)`` (the key,
the tag and every status it answers); list the module in :data:`ROUTERS`.
"""

# no `from __future__ import annotations`: FastAPI resolves the request models at run time

import hmac
from dataclasses import dataclass, field
from typing import Any

from fastapi import Depends, HTTPException, Security
from fastapi.security import APIKeyHeader

from shoplake.config import Settings
from shoplake.serve.models import ModelStore, ModelUnavailable, Served
from shoplake.serve.schemas import RequestModels, errors, request_models


@dataclass(frozen=True)
class Context:
    """What every route module needs: the settings, the model store, the request bodies under the service's limits,
    and the key check (empty without a key: the document then declares no security and no 401)."""

    settings: Settings
    store: ModelStore
    bodies: RequestModels
    guarded: list[Any] = field(default_factory=list)
    auth: tuple[int, ...] = ()

    @classmethod
    def of(cls, settings: Settings, store: ModelStore) -> "Context":
        if not settings.api_key:
            return cls(settings, store, request_models(settings.serve))
        key_header = APIKeyHeader(name="X-API-Key", auto_error=False, description="the service's SHOPLAKE_API_KEY")

        def require_key(key: str | None = Security(key_header)) -> None:
            if not (key and hmac.compare_digest(key.encode(), settings.api_key.encode())):
                # RFC 9110: a 401 names how to authenticate
                challenge = {"WWW-Authenticate": 'APIKey realm="shoplake", header="X-API-Key"'}
                raise HTTPException(401, "missing or wrong X-API-Key", headers=challenge)

        return cls(settings, store, request_models(settings.serve), [Depends(require_key)], (401,))

    def operation(self, tag: str, *statuses: int) -> dict[str, Any]:
        """An operation's keywords: the key check, its tag, and the error statuses it answers (401 with a key)."""
        return {"dependencies": self.guarded, "tags": [tag], "responses": errors(*self.auth, *statuses)}

    def served(self, key: str) -> Served:
        """Model ``key``'s loaded version, or 503 with why not and when to retry."""
        try:
            return self.store.get(key)
        except ModelUnavailable as exc:
            detail = {"model": key, "reason": exc.reason, "retry_after_s": exc.retry_after_s}
            headers = {"Retry-After": str(exc.retry_after_s)} if exc.retry_after_s else None
            raise HTTPException(503, detail, headers=headers) from exc
