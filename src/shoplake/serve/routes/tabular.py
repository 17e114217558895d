"""Models over rows of a features table, read without Spark: ``POST /predict/churn/{source}`` (P(churn) per user)
and ``POST /predict/clickstream_engagement`` (engagement level 0–3 with its probabilities)."""

# no `from __future__ import annotations`: FastAPI resolves the request models at run time

from typing import Annotated, Any

from fastapi import APIRouter, HTTPException, Path

from shoplake.paths import CHURN_SOURCES
from shoplake.serve import errors
from shoplake.serve.models import Served
from shoplake.serve.routes import Context

#: columns of ``enriched/clickstream_engagement`` that are ids or the label, not features
ENGAGEMENT_IDS = frozenset({"user_id", "product_id", "user_session", "session_start", "level", "held_out", "ds"})
CHURN_IDS = frozenset({"user_id", "label"})


def router(ctx: Context) -> APIRouter:
    r = APIRouter()

    @r.post("/predict/churn/{source}", **ctx.operation("predict", 404, 413, 422, 503))
    def predict_churn(
        req: ctx.bodies.rows,  # type: ignore[name-defined]
        source: Annotated[str, Path(description="the churn source", json_schema_extra={"enum": list(CHURN_SOURCES)})],
    ) -> dict[str, Any]:
        if source not in CHURN_SOURCES:
            raise HTTPException(404, f"no churn source {source!r}; sources: {', '.join(CHURN_SOURCES)}")
        m = ctx.served(f"churn/{source}")
        probs = _scored(m, req.rows, CHURN_IDS, m.model.churn_probability)
        return {
            "model_version": m.version,
            "model": m.info["model"],
            "predictions": [
                {"user_id": row.get("user_id"), "churn_probability": float(p), "churn": bool(p > 0.5)}
                for row, p in zip(req.rows, probs, strict=True)
            ],
        }

    @r.post("/predict/clickstream_engagement", **ctx.operation("predict", 413, 422, 503))
    def predict_clickstream_engagement(req: ctx.bodies.rows) -> dict[str, Any]:  # type: ignore[name-defined]
        m = ctx.served("clickstream_engagement")
        probs = _scored(m, req.rows, ENGAGEMENT_IDS, m.model.class_probabilities)
        levels = m.info["levels"]
        return {
            "model_version": m.version,
            "model": m.info["model"],
            "levels": dict(enumerate(levels)),
            "predictions": [
                {"user_id": row.get("user_id"), "product_id": row.get("product_id"), "level": int(p.argmax()),
                 "level_name": levels[int(p.argmax())], "probabilities": [float(v) for v in p]}
                for row, p in zip(req.rows, probs, strict=True)
            ],
        }  # fmt: skip

    return r


def _scored(m: Served, rows: list[dict[str, Any]], ids: frozenset[str], score: Any) -> Any:
    """``score(rows)`` after refusing columns the model does not read (the table's ids and label are allowed); a
    numeric feature that is not a number is a 422 naming the columns."""
    allowed = {*m.model.input_columns, *ids}
    problems = [
        (f"body.rows.{i}.{errors.excerpt(c, 40)}", f"unknown column {errors.excerpt(c, 40)!r}")
        for i, row in enumerate(rows)
        for c in row
        if c not in allowed
    ]
    if problems:
        raise errors.Unprocessable(problems, columns=m.model.input_columns, model_version=m.version)
    try:
        return score(rows)
    except ValueError as exc:
        raise errors.Unprocessable([("body.rows", str(exc))], columns=m.model.input_columns) from exc
