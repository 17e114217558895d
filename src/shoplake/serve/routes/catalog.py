"""``GET /models`` (every model's current version, champion and loaded version, or why it cannot be served) and
``GET /models/{key}`` (load one: its version, the columns its requests carry and a request body that works)."""

# no `from __future__ import annotations`: FastAPI resolves the annotations at run time

from typing import Annotated, Any

from fastapi import APIRouter, HTTPException, Path

from shoplake.paths import (
    CHURN_SOURCES,
    ENGAGEMENT,
    STEAM_PURCHASE_FEATURES,
    Zone,
    churn_names,
    dataset_path,
    partition_path,
)
from shoplake.serve.models import Served
from shoplake.serve.routes import Context, purchase, recommendations


def router(ctx: Context) -> APIRouter:
    r = APIRouter()

    @r.get("/models", **ctx.operation("models"))
    def models() -> dict[str, Any]:
        return {"lake_root": ctx.settings.lake_root, "models": ctx.store.status()}

    keys = list(ctx.store.specs)

    @r.get("/models/{key:path}", **ctx.operation("models", 404, 422, 503))
    def model(
        key: Annotated[str, Path(description="the model, as GET /models names it", json_schema_extra={"enum": keys})],
    ) -> dict[str, Any]:
        """Load ``key`` (``purchase``, ``churn/telco``…) if needed: its version, the columns a request carries and a
        request body that works."""
        if key not in ctx.store.specs:
            raise HTTPException(404, f"no model {key!r}; models: {', '.join(ctx.store.specs)}")
        m = ctx.served(key)
        return {"model": key, "version": m.version, "load_s": m.load_s, "info": m.info, "example": example(ctx, key, m)}

    return r


#: the features table each row model was trained on (its newest day gives the page a real row to predict on) and
#: the id columns the example keeps beside the model's inputs (the answer echoes them)
ROW_TABLES = {
    "purchase": (STEAM_PURCHASE_FEATURES, ("recommendationid",)),
    "clickstream_engagement": (ENGAGEMENT, ("user_id", "product_id")),
    **{f"churn/{s}": (churn_names(s).features, ("user_id",)) for s in CHURN_SOURCES},
}


def example(ctx: Context, key: str, m: Served) -> dict[str, Any]:
    """A request body for model ``key`` that works (the page's template)."""
    if key in ("sentiment", "review_sentiment", "engagement"):  # the request body's own documented example
        return getattr(ctx.bodies, key).model_json_schema()["examples"][0]
    if key == "recommendations":
        return recommendations.example(m)
    if m.example is None:  # once per loaded version: one row of one file, however large the table
        dataset, ids = ROW_TABLES[key]
        m.example = {"rows": [example_row(ctx.settings.lake_root, dataset, [*ids, *m.info["columns"]])]}
    if key == "purchase" and m.example["rows"][0].get("appid") is None:
        return purchase.example(m)
    return m.example


def example_row(lake_root: str, dataset: str, columns: list[str]) -> dict[str, Any]:
    """The first row of the newest day of ``enriched/<dataset>``, cut to ``columns``, NaN as null: a
    real input, so Predict answers something other than the model's answer for an all-missing row. Every column
    null when the table has no day (the model's own imputation answers)."""
    import math

    from shoplake.io import delta
    from shoplake.io.lake import partition_days

    empty = {c: None for c in columns}
    table = dataset_path(lake_root, Zone.ENRICHED, dataset)
    try:
        days = partition_days(table)
        head = delta.day_head(partition_path(lake_root, Zone.ENRICHED, dataset, max(days)), 1)[2] if days else None
    except (FileNotFoundError, OSError, ValueError):
        return empty
    if head is None or head.num_rows == 0:
        return empty
    row = head.to_pylist()[0]
    return {c: None if isinstance(v := row.get(c), float) and not math.isfinite(v) else _plain(v) for c in columns}


def _plain(value: Any) -> Any:
    """A JSON value a request may carry: numbers, flags, strings (ids) and null."""
    return value if value is None or isinstance(value, bool | int | float | str) else str(value)
