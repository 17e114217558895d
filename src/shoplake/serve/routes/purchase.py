"""``POST /predict/purchase``: rows of the ``enriched/steam_purchase_features`` layout → P(Steam purchase); a row
copied from the table as it is works (its id, target and time columns are ignored, and the answer names them)."""

# no `from __future__ import annotations`: FastAPI resolves the request models at run time

from typing import Any

from fastapi import APIRouter

from shoplake.serve.models import Served
from shoplake.serve.routes import Context
from shoplake.serve.schemas import PURCHASE_IGNORED


def router(ctx: Context) -> APIRouter:
    r = APIRouter()

    @r.post("/predict/purchase", **ctx.operation("predict", 413, 422, 503))
    def predict_purchase(req: ctx.bodies.purchase) -> dict[str, Any]:  # type: ignore[name-defined]
        from shoplake.ml.xgb import predict_rows

        m = ctx.served("purchase")
        rows = [r.model_dump(exclude=set(PURCHASE_IGNORED)) for r in req.rows]
        ignored = sorted({c for r in req.rows for c in PURCHASE_IGNORED if c in r.model_fields_set})
        if m.model.booster is None:  # the per-game rate baseline is the champion
            from shoplake.ml.baselines import PRIOR_ROWS

            probs = [m.model.games.rate(r.get("appid"), PRIOR_ROWS) for r in rows]
        else:
            probs = predict_rows(m.model.booster, rows, m.model.games)
        threshold = m.info["threshold"]
        return {
            "model_version": m.version,
            "target": m.info["target"],
            "threshold": threshold,
            "ignored_columns": ignored,
            "model": m.info.get("model", "xgboost"),
            "baseline": bool(m.info.get("baseline")),
            # a game the training rows never held is answered through the same path, from the training rate
            "predictions": [
                {
                    "recommendationid": r["recommendationid"],
                    "probability": float(p),
                    "purchase": bool(p >= threshold),
                    "game_seen": None if m.model.games is None else m.model.games.knows(r.get("appid")),
                }
                for r, p in zip(rows, probs, strict=True)
            ],
        }

    return r


def example(m: Served) -> dict[str, Any]:
    """One row: a game the model knows (its game-table row or one-hot column) and every feature column null."""
    apps = [f.removeprefix("app_") for f in m.info["features"] if f.startswith("app_") and f[4:].isdigit()]
    known = m.info.get("example_appid") or (int(apps[0]) if apps else 0)
    row = {"appid": known, **{c: None for c in m.info["columns"] if c != "appid"}}
    return {"rows": [row]}
