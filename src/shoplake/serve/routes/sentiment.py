"""``POST /predict/sentiment`` (texts → ``positive_prob`` by the Steam DAG's engine and language → model map) and
``POST /predict/review_sentiment`` (product review texts → stars 1–5 with their probabilities)."""

# no `from __future__ import annotations`: FastAPI resolves the request models at run time

from typing import Any

from fastapi import APIRouter

from shoplake.serve import errors
from shoplake.serve.routes import Context

KEEP = ["sentiment_status", "sentiment_label", "positive_prob", "model_id", "model_revision"]


def router(ctx: Context) -> APIRouter:
    r = APIRouter()

    @r.post("/predict/sentiment", **ctx.operation("predict", 413, 422, 503))
    def predict_sentiment(req: ctx.bodies.sentiment) -> dict[str, Any]:  # type: ignore[name-defined]
        from shoplake.ml.sentiment import score_texts

        if req.languages is not None and len(req.languages) != len(req.texts):
            reason = f"{len(req.languages)} languages for {len(req.texts)} texts"
            raise errors.Unprocessable([("body.languages", reason)])
        m = ctx.served("sentiment")
        langs = req.languages or ["en"] * len(req.texts)
        table = score_texts(m.model, [str(i) for i in range(len(req.texts))], req.texts, langs)
        predictions = table.select(KEEP).to_pylist()
        for p, lang in zip(predictions, langs, strict=True):  # which route scored it: its own, or the '*' route
            route = m.model.route(lang)
            p["route"] = None if route is None else route.language
        return {"model_version": m.version, "predictions": predictions}

    @r.post("/predict/review_sentiment", **ctx.operation("predict", 413, 422, 503))
    def predict_review_sentiment(req: ctx.bodies.review_sentiment) -> dict[str, Any]:  # type: ignore[name-defined]
        from shoplake.ml.sentiment import five_class_positive_prob

        if req.titles is not None and len(req.titles) != len(req.texts):
            raise errors.Unprocessable([("body.titles", f"{len(req.titles)} titles for {len(req.texts)} texts")])
        m = ctx.served("review_sentiment")
        probs = m.model.five_class_proba(list(req.texts), None if req.titles is None else list(req.titles))
        labels = m.info["labels"]
        positive = five_class_positive_prob(probs)
        return {
            "model_version": m.version,
            "model_id": m.info["model_id"],
            "predictions": [
                {"stars": int(row.argmax()) + 1, "label": labels[int(row.argmax())], "positive_prob": float(pos),
                 "probabilities": {label: float(p) for label, p in zip(labels, row, strict=True)}}
                for row, pos in zip(probs, positive, strict=True)
            ],
        }  # fmt: skip

    return r
