"""The FastAPI application of ``shoplake serve``: the lake's current models behind JSON endpoints and a small page.

* ``GET /models`` — per model the current version (its pointer), its champion (and whether that is a constant
  baseline), the loaded version, or why it cannot be served; ``GET /models/{key}`` loads one and lists the columns
  its requests carry, with a request body that works (the page's template).
* ``POST /predict/purchase`` — rows of the ``enriched/steam_purchase_features`` layout → P(Steam purchase); a row
  copied from the table as it is works (its id, target and time columns are ignored, and the answer names them).
* ``POST /predict/sentiment`` — a batch of texts → ``positive_prob`` by the Steam DAG's engine and model map.
* ``POST /predict/review_sentiment`` — a batch of product review texts → stars 1–5 with their probabilities.
* ``POST /predict/engagement`` — one tweet (text, hashtags, followers…) → predicted likes + retweets.
* ``POST /predict/clickstream_engagement`` — rows of ``enriched/clickstream_engagement`` → engagement level.
* ``POST /predict/churn/{source}`` — rows of that source's ``…_churn_features`` layout → P(churn), no Spark.
* ``GET /recommendations/{user_id}`` — the user's ALS top-k (popularity when ALS never saw the user);
  ``GET /similar/{product_id}`` — item-item neighbours; both from the newest ``enriched/recs_*`` partitions.
* ``GET /healthz`` (the process answers), ``GET /readyz`` (the lake is readable and a model can be served),
  ``/docs`` (Swagger UI served from the installed ``fastapi-offline`` package: it works offline) + ``/openapi.json``,
  and ``/`` — a page where a person picks a model, sees a working example, and the prediction.

Every endpoint but ``/``, ``/healthz``, ``/readyz`` and the docs needs ``X-API-Key`` when ``SHOPLAKE_API_KEY`` is set
(``shoplake serve`` refuses a non-loopback host without one). Bodies over ``max_body_bytes`` get 413 (declared or
counted as they stream, chunked included), batches over ``max_batch`` 422, a model that cannot be served 503 with
the reason and ``Retry-After``. One JSON access-log line per request, whatever answered it. Every status an
operation answers is declared in ``/openapi.json`` with its body (:mod:`shoplake.serve.schemas`).
"""

# no `from __future__ import annotations`: FastAPI resolves the request models at run time

import hmac
import json
import logging
import time
import uuid
from importlib import resources
from typing import Annotated, Any

from fastapi import Depends, FastAPI, HTTPException, Path, Query, Request, Security
from fastapi.responses import HTMLResponse, JSONResponse
from fastapi.security import APIKeyHeader
from fastapi_offline import FastAPIOffline

from shoplake.config import Settings
from shoplake.ml.registry import is_baseline
from shoplake.paths import CHURN_SOURCES
from shoplake.serve import errors
from shoplake.serve.models import ModelStore, ModelUnavailable, Served, with_lake_sentiment_defaults
from shoplake.serve.schemas import PURCHASE_IGNORED, request_models
from shoplake.serve.schemas import errors as declared
from shoplake.transforms.tweets import tweet_features

log = logging.getLogger("shoplake.serve")
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


def create_app(settings: Settings | None = None, store: ModelStore | None = None) -> FastAPI:
    """The application over ``settings``' lake (``Settings.from_env()`` with the lake's own sentiment models where
    nothing else is configured, by default)."""
    settings = settings or with_lake_sentiment_defaults(Settings.from_env())
    store = store or ModelStore(settings)
    bodies = request_models(settings.serve)

    app = FastAPIOffline(
        dependencies=[Depends(known_query)],
        title="shoplake prediction service",
        version="1",
        description="The lake's current models (purchase, sentiment, five-class review sentiment, tweet engagement, "
        "clickstream engagement, churn per source, recommendations). Send `X-API-Key` when the service has a key.",
    )
    app.state.store = store
    app.state.settings = settings
    app.add_middleware(BodyLimit, limit=settings.serve.max_body_bytes)
    app.add_middleware(AccessLog)  # added last: outermost, so it sees what BodyLimit answers too
    errors.install(app, log)

    key_header = APIKeyHeader(name="X-API-Key", auto_error=False, description="the service's SHOPLAKE_API_KEY")

    def require_key(key: str | None = Security(key_header)) -> None:
        if not (key and hmac.compare_digest(key.encode(), settings.api_key.encode())):
            raise HTTPException(401, "missing or wrong X-API-Key")

    # without a key there is nothing to send: the document then declares no security and no 401
    guarded = [Depends(require_key)] if settings.api_key else []
    auth = (401,) if settings.api_key else ()

    def served(key: str) -> Served:
        try:
            return store.get(key)
        except ModelUnavailable as exc:
            detail = {"model": key, "reason": exc.reason, "retry_after_s": exc.retry_after_s}
            headers = {"Retry-After": str(exc.retry_after_s)} if exc.retry_after_s else None
            raise HTTPException(503, detail, headers=headers) from exc

    # ---- the page and probes ---------------------------------------------------------------------------------

    @app.get("/", response_class=HTMLResponse, include_in_schema=False)
    def page() -> str:
        return resources.files("shoplake.serve").joinpath("page.html").read_text(encoding="utf-8")

    @app.get("/healthz", tags=["ops"])
    def healthz() -> dict[str, str]:
        return {"status": "ok"}

    @app.get("/readyz", tags=["ops"], responses={503: {"description": "the lake is unreadable or no model can be "
                                                                       "served (reason)"}})  # fmt: skip
    def readyz() -> JSONResponse:
        from shoplake.io.lake import filesystem

        try:
            fs, root = filesystem(settings.lake_root)
            reachable = fs.exists(root)
        except Exception as exc:
            return JSONResponse({"ready": False, "reason": f"lake {settings.lake_root} unreadable: {exc}"}, 503)
        if not reachable:
            return JSONResponse({"ready": False, "reason": f"lake {settings.lake_root} does not exist"}, 503)
        status = store.status()
        models = {k: v["available"] for k, v in status.items()}
        ready = any(models.values())
        body: dict[str, Any] = {"ready": ready, "models": models}
        unavailable = {k: v["reason"] for k, v in status.items() if not v["available"]}
        if unavailable:
            body["unavailable"] = unavailable
        if not ready:
            body["reason"] = "no model can be served (unavailable: why each)"
        return JSONResponse(body, 200 if ready else 503)

    # ---- models ----------------------------------------------------------------------------------------------

    @app.get("/models", dependencies=guarded, tags=["models"], responses=declared(*auth))
    def models() -> dict[str, Any]:
        return {"lake_root": settings.lake_root, "models": store.status()}

    @app.get("/models/{key:path}", dependencies=guarded, tags=["models"], responses=declared(*auth, 404, 422, 503))
    def model(key: str) -> dict[str, Any]:
        """Load ``key`` (``purchase``, ``churn/telco``…) if needed: its version, the columns a request carries and a
        request body that works."""
        if key not in store.specs:
            raise HTTPException(404, f"no model {key!r}; models: {', '.join(store.specs)}")
        m = served(key)
        return {"model": key, "version": m.version, "load_s": m.load_s, "info": m.info, "example": example(key, m)}

    def example(key: str, m: Served) -> dict[str, Any]:
        if key in ("sentiment", "review_sentiment"):
            return bodies.review_sentiment.model_json_schema()["examples"][0]
        if key == "engagement":
            return bodies.engagement.model_json_schema()["examples"][0]
        if key == "purchase":
            apps = [f.removeprefix("app_") for f in m.info["features"] if f.startswith("app_") and f[4:].isdigit()]
            row = {"appid": int(apps[0]) if apps else 0, **{c: None for c in m.info["columns"] if c != "appid"}}
            return {"rows": [row]}
        if key == "recommendations":
            return {"user_id": next(iter(m.model["users"]), ""), "product_id": next(iter(m.model["products"]), "")}
        return {"rows": [{c: None for c in m.info["columns"]}]}  # churn and engagement rows: missing = imputed

    # ---- predictions -----------------------------------------------------------------------------------------

    predict = {"dependencies": guarded, "tags": ["predict"]}
    model_errors = declared(*auth, 413, 422, 503)

    @app.post("/predict/purchase", **predict, responses=model_errors)
    def predict_purchase(req: bodies.purchase) -> dict[str, Any]:  # type: ignore[valid-type]
        from shoplake.ml.xgb import predict_rows

        m = served("purchase")
        rows = [r.model_dump(exclude=set(PURCHASE_IGNORED)) for r in req.rows]
        ignored = sorted({c for r in req.rows for c in PURCHASE_IGNORED if c in r.model_fields_set})
        probs = predict_rows(m.model, rows)
        threshold = m.info["threshold"]
        return {
            "model_version": m.version,
            "target": m.info["target"],
            "threshold": threshold,
            "ignored_columns": ignored,
            "predictions": [
                {"recommendationid": r["recommendationid"], "probability": float(p), "purchase": bool(p >= threshold)}
                for r, p in zip(rows, probs, strict=True)
            ],
        }

    @app.post("/predict/sentiment", **predict, responses=model_errors)
    def predict_sentiment(req: bodies.sentiment) -> dict[str, Any]:  # type: ignore[valid-type]
        from shoplake.ml.sentiment import score_texts

        if req.languages is not None and len(req.languages) != len(req.texts):
            reason = f"{len(req.languages)} languages for {len(req.texts)} texts"
            raise errors.Unprocessable([("body.languages", reason)])
        m = served("sentiment")
        langs = req.languages or ["en"] * len(req.texts)
        table = score_texts(m.model, [str(i) for i in range(len(req.texts))], req.texts, langs)
        keep = ["sentiment_status", "sentiment_label", "positive_prob", "model_id", "model_revision"]
        rows = table.select(keep).to_pylist()
        return {"model_version": m.version, "predictions": rows}

    @app.post("/predict/review_sentiment", **predict, responses=model_errors)
    def predict_review_sentiment(req: bodies.review_sentiment) -> dict[str, Any]:  # type: ignore[valid-type]
        from shoplake.ml.sentiment import five_class_positive_prob

        m = served("review_sentiment")
        probs = m.model.five_class_proba(list(req.texts))
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

    @app.post("/predict/engagement", **predict, responses=model_errors)
    def predict_engagement(req: bodies.engagement) -> dict[str, Any]:  # type: ignore[valid-type]
        import numpy as np
        import pandas as pd

        m = served("engagement")
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
            "features": {k: row[k] for k in ("n_hashtags", "n_mentions", "n_urls", "text_chars", "hour")},
        }

    def checked_rows(m: Served, rows: list[dict[str, Any]], ids: set[str]) -> None:
        allowed = {*m.model.input_columns, *ids}  # the features table's ids and label are not features
        problems = [
            (f"body.rows.{i}.{errors.excerpt(c, 40)}", f"unknown column {errors.excerpt(c, 40)!r}")
            for i, row in enumerate(rows)
            for c in row
            if c not in allowed
        ]
        if problems:
            raise errors.Unprocessable(problems, columns=m.model.input_columns, model_version=m.version)

    @app.post("/predict/churn/{source}", **predict, responses=declared(*auth, 404, 413, 422, 503))
    def predict_churn(
        req: bodies.rows,  # type: ignore[valid-type]
        source: Annotated[str, Path(description=f"one of {', '.join(CHURN_SOURCES)}")],
    ) -> dict[str, Any]:
        if source not in CHURN_SOURCES:
            raise HTTPException(404, f"no churn source {source!r}; sources: {', '.join(CHURN_SOURCES)}")
        m = served(f"churn/{source}")
        checked_rows(m, req.rows, {"user_id", "label"})
        try:
            probs = m.model.churn_probability(req.rows)
        except ValueError as exc:  # a numeric feature that is not a number
            raise errors.Unprocessable([("body.rows", str(exc))], columns=m.model.input_columns) from exc
        return {
            "model_version": m.version,
            "model": m.info["model"],
            "predictions": [
                {"user_id": row.get("user_id"), "churn_probability": float(p), "churn": bool(p > 0.5)}
                for row, p in zip(req.rows, probs, strict=True)
            ],
        }

    @app.post("/predict/clickstream_engagement", **predict, responses=model_errors)
    def predict_clickstream_engagement(req: bodies.rows) -> dict[str, Any]:  # type: ignore[valid-type]
        m = served("clickstream_engagement")
        ids = {"user_id", "product_id", "user_session", "session_start", "level", "held_out", "ds"}
        checked_rows(m, req.rows, ids)
        try:
            probs = m.model.class_probabilities(req.rows)
        except ValueError as exc:
            raise errors.Unprocessable([("body.rows", str(exc))], columns=m.model.input_columns) from exc
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

    # ---- recommendations -------------------------------------------------------------------------------------

    K = Annotated[int, Query(ge=1, le=100, description="how many products")]
    recs = {"dependencies": guarded, "tags": ["recommendations"]}

    @app.get("/recommendations/{user_id}", **recs, responses=declared(*auth, 422, 503))
    def recommendations(user_id: str, k: K = 10) -> dict[str, Any]:
        m = served("recommendations")
        items = m.model["users"].get(user_id)
        source = "als"
        if items is None:  # a user ALS never saw (new, or outside the window) gets the most popular products
            items, source = m.model["popular"], "popularity"
        return {"user_id": user_id, "source": source, "model_version": m.version, "items": items[:k]}

    @app.get("/similar/{product_id}", **recs, responses=declared(*auth, 404, 422, 503))
    def similar(product_id: str, k: K = 10) -> dict[str, Any]:
        m = served("recommendations")
        items = m.model["products"].get(product_id)
        if items is None:
            raise HTTPException(404, f"product {product_id} has no item-item neighbours in the {m.version} partition")
        return {"product_id": product_id, "model_version": m.version, "items": items[:k]}

    return app
