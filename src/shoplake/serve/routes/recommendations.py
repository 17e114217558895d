"""``GET /recommendations/{user_id}`` (the user's ALS top-k; popularity when ALS never saw the user) and
``GET /similar/{product_id}`` (item-item neighbours), both from the newest ``enriched/recs_*`` partitions."""

# no `from __future__ import annotations`: FastAPI resolves the annotations at run time

from typing import Annotated, Any

from fastapi import APIRouter, HTTPException, Query

from shoplake.serve.models import Served
from shoplake.serve.routes import Context

K = Annotated[int, Query(ge=1, le=100, description="how many products")]


def router(ctx: Context) -> APIRouter:
    r = APIRouter()

    @r.get("/recommendations/{user_id}", **ctx.operation("recommendations", 422, 503))
    def recommendations(user_id: str, k: K = 10) -> dict[str, Any]:
        m = ctx.served("recommendations")
        items = m.model["users"].get(user_id)
        source = "als"
        if items is None:  # a user ALS never saw (new, or outside the window) gets the most popular products
            items, source = m.model["popular"], "popularity"
        return {"user_id": user_id, "source": source, "model_version": m.version, "items": items[:k]}

    @r.get("/similar/{product_id}", **ctx.operation("recommendations", 404, 422, 503))
    def similar(product_id: str, k: K = 10) -> dict[str, Any]:
        m = ctx.served("recommendations")
        items = m.model["products"].get(product_id)
        if items is None:
            raise HTTPException(404, f"product {product_id} has no item-item neighbours in the {m.version} partition")
        return {"product_id": product_id, "model_version": m.version, "items": items[:k]}

    return r


def example(m: Served) -> dict[str, Any]:
    """A user and a product the served partitions hold."""
    return {"user_id": next(iter(m.model["users"]), ""), "product_id": next(iter(m.model["products"]), "")}
