"""``GET /models`` (every model's current version, champion and loaded version, or why it cannot be served) and
``GET /models/{key}`` (load one: its version, the columns its requests carry and a request body that works)."""

# no `from __future__ import annotations`: FastAPI resolves the annotations at run time

from typing import Any

from fastapi import APIRouter, HTTPException

from shoplake.serve.models import Served
from shoplake.serve.routes import Context, purchase, recommendations


def router(ctx: Context) -> APIRouter:
    r = APIRouter()

    @r.get("/models", **ctx.operation("models"))
    def models() -> dict[str, Any]:
        return {"lake_root": ctx.settings.lake_root, "models": ctx.store.status()}

    @r.get("/models/{key:path}", **ctx.operation("models", 404, 422, 503))
    def model(key: str) -> dict[str, Any]:
        """Load ``key`` (``purchase``, ``churn/telco``…) if needed: its version, the columns a request carries and a
        request body that works."""
        if key not in ctx.store.specs:
            raise HTTPException(404, f"no model {key!r}; models: {', '.join(ctx.store.specs)}")
        m = ctx.served(key)
        return {"model": key, "version": m.version, "load_s": m.load_s, "info": m.info, "example": example(ctx, key, m)}

    return r


def example(ctx: Context, key: str, m: Served) -> dict[str, Any]:
    """A request body for model ``key`` that works (the page's template)."""
    if key in ("sentiment", "review_sentiment"):
        return ctx.bodies.review_sentiment.model_json_schema()["examples"][0]
    if key == "engagement":
        return ctx.bodies.engagement.model_json_schema()["examples"][0]
    if key == "purchase":
        return purchase.example(m)
    if key == "recommendations":
        return recommendations.example(m)
    return {"rows": [{c: None for c in m.info["columns"]}]}  # churn and engagement rows: missing = imputed
