"""``POST /predict/engagement``: one tweet (text, hashtags, followers…) → predicted likes + retweets."""

# no `from __future__ import annotations`: FastAPI resolves the request models at run time

from typing import Any

from fastapi import APIRouter

from shoplake.ml.registry import is_baseline
from shoplake.serve.routes import Context
from shoplake.transforms.tweets import tweet_features

SHOWN = ("n_hashtags", "n_mentions", "n_urls", "text_chars", "hour")


def router(ctx: Context) -> APIRouter:
    r = APIRouter()

    @r.post("/predict/engagement", **ctx.operation("predict", 413, 422, 503))
    def predict_engagement(req: ctx.bodies.engagement) -> dict[str, Any]:  # type: ignore[name-defined]
        import numpy as np
        import pandas as pd

        m = ctx.served("engagement")
        row = tweet_features(
            req.text, hashtags=req.hashtags, followers=req.followers, created_at=req.created_at,
            platform=req.platform, has_location=req.has_location,
        )  # fmt: skip
        df = pd.DataFrame([row])
        if m.model["encoder"] is not None:
            df["embedding"] = list(m.model["encoder"].embed([row["clean_text"]]))
        log1p = float(m.model["predictor"].predict(df)[0])
        return {
            "engagement": float(np.clip(np.expm1(log1p), 0, None)),
            "engagement_log1p": log1p,
            "target": "likes + retweets",
            "model": m.info["model"],
            "baseline": is_baseline(m.info["model"]),
            "model_version": m.version,
            "features": {k: row[k] for k in SHOWN},
        }

    return r
