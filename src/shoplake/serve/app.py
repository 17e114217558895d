"""The FastAPI application of ``shoplake serve``: the lake's current models behind JSON endpoints and a small page.

* ``GET /models`` — per model the current version (its pointer), the loaded one, or why it cannot be served;
  ``GET /models/{key}`` loads one and lists the columns its requests carry.
* ``POST /predict/purchase`` — rows of the ``enriched/steam_purchase_features`` layout → P(Steam purchase).
* ``POST /predict/sentiment`` — a batch of texts → ``positive_prob`` by the Steam DAG's engine and model map.
* ``POST /predict/engagement`` — one tweet (text, hashtags, followers…) → predicted likes + retweets.
* ``POST /predict/churn/{source}`` — rows of that source's ``…_churn_features`` layout → P(churn), no Spark.
* ``GET /recommendations/{user_id}`` — the user's ALS top-k (popularity when ALS never saw the user);
  ``GET /similar/{product_id}`` — item-item neighbours; both from the newest ``enriched/recs_*`` partitions.
* ``GET /healthz`` (the process answers), ``GET /readyz`` (the lake is readable and a model can be served),
  ``/docs`` + ``/openapi.json``, and ``/`` — a page where a person picks a model, types a text or features and sees
  the prediction.

Every endpoint but ``/``, ``/healthz``, ``/readyz`` and the docs needs ``X-API-Key`` when ``SHOPLAKE_API_KEY`` is set
(``shoplake serve`` refuses a non-loopback host without one). Bodies over ``max_body_bytes`` get 413, batches over
``max_batch`` 422, a model that cannot be served 503 with the reason. One JSON log line per request.
"""

# no `from __future__ import annotations`: FastAPI resolves the request models defined inside create_app()

import datetime as dt
import hmac
import json
import logging
import time
from importlib import resources
from typing import Annotated, Any, Literal

from fastapi import Depends, FastAPI, HTTPException, Path, Query, Request, Security
from fastapi.responses import HTMLResponse, JSONResponse
from fastapi.security import APIKeyHeader
from pydantic import AfterValidator, BaseModel, ConfigDict, Field, StringConstraints, create_model

from shoplake.config import Settings
from shoplake.paths import CHURN_SOURCES
from shoplake.serve import errors
from shoplake.serve.models import ModelStore, ModelUnavailable, Served
from shoplake.transforms.purchase_features import ALL_FEATURES
from shoplake.transforms.tweets import PLATFORMS, tweet_features

log = logging.getLogger("shoplake.serve")
access_log = logging.getLogger("shoplake.serve.access")

LOOPBACK = ("127.0.0.1", "localhost", "::1")


class BodyTooLarge(Exception):
    pass


class BodyLimit:
    """ASGI middleware: a request body over ``limit`` bytes gets 413 (declared length or counted as it streams)."""

    def __init__(self, app: Any, limit: int) -> None:
        self.app, self.limit = app, limit

    async def __call__(self, scope: dict, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        declared = dict(scope.get("headers") or []).get(b"content-length")
        if declared is not None and declared.isdigit() and int(declared) > self.limit:
            await self._reject(send)
            return
        seen = 0

        async def counted() -> dict:
            nonlocal seen
            message = await receive()
            seen += len(message.get("body", b""))
            if seen > self.limit:
                raise BodyTooLarge
            return message

        try:
            await self.app(scope, counted, send)
        except BodyTooLarge:
            await self._reject(send)

    async def _reject(self, send: Any) -> None:
        body = json.dumps({"detail": f"request body over {self.limit} bytes"}).encode()
        await send({"type": "http.response.start", "status": 413, "headers": [(b"content-type", b"application/json")]})
        await send({"type": "http.response.body", "body": body})


def unicode(text: str) -> str:
    """A string that encodes as UTF-8 (JSON's ``\\ud800`` escapes decode to lone surrogates no tokenizer takes)."""
    try:
        text.encode("utf-8")
    except UnicodeEncodeError as exc:
        raise ValueError(f"not valid Unicode: a lone surrogate at character {exc.start}") from None
    return text


def is_loopback(host: str) -> bool:
    return host in LOOPBACK or host.startswith("127.")


def create_app(settings: Settings | None = None, store: ModelStore | None = None) -> FastAPI:
    """The application over ``settings``' lake (``Settings.from_env()`` by default)."""
    settings = settings or Settings.from_env()
    store = store or ModelStore(settings)
    limits = settings.serve
    Text = Annotated[str, StringConstraints(min_length=1, max_length=limits.max_text_chars), AfterValidator(unicode)]
    #: numbers in a body must be finite: Python's JSON parser reads NaN and Infinity, the models cannot use them
    strict = ConfigDict(extra="forbid", allow_inf_nan=False)

    app = FastAPI(
        title="shoplake prediction service",
        version="1",
        description="The lake's current models (purchase, sentiment, tweet engagement, churn per source, "
        "recommendations). Send `X-API-Key` when the service has a key.",
    )
    app.state.store = store
    app.state.settings = settings

    key_header = APIKeyHeader(name="X-API-Key", auto_error=False, description="the service's SHOPLAKE_API_KEY")

    def require_key(key: str | None = Security(key_header)) -> None:
        if settings.api_key and not (key and hmac.compare_digest(key.encode(), settings.api_key.encode())):
            raise HTTPException(401, "missing or wrong X-API-Key")

    guarded = [Depends(require_key)]

    def served(key: str) -> Served:
        try:
            return store.get(key)
        except ModelUnavailable as exc:
            raise HTTPException(503, {"model": key, "reason": exc.reason}) from exc

    @app.middleware("http")
    async def log_requests(request: Request, call_next: Any) -> Any:
        request_id = errors.request_id(request)
        started = time.perf_counter()
        status = 500
        try:
            response = await call_next(request)
            status = response.status_code
            response.headers["X-Request-ID"] = request_id
            return response
        finally:
            access_log.info(
                json.dumps(
                    {
                        "event": "request",
                        "request_id": request_id,
                        "method": request.method,
                        "path": request.url.path,
                        "status": status,
                        "ms": round((time.perf_counter() - started) * 1000, 2),
                        "client": request.client.host if request.client else None,
                    }
                )
            )

    app.add_middleware(BodyLimit, limit=limits.max_body_bytes)
    errors.install(app, log)

    # ---- schemas ---------------------------------------------------------------------------------------------

    purchase_fields: dict[str, Any] = {
        "appid": (
            int,
            Field(ge=0, le=2**32 - 1, description="Steam app id of the reviewed game (its one-hot column in training)"),
        ),
        "recommendationid": (str | None, Field(None, description="echoed back; not a feature")),
    }
    for name in ALL_FEATURES:
        purchase_fields[name] = (float | None, Field(None, description=f"feature {name}; null = missing"))
    PurchaseRow = create_model("PurchaseRow", __config__=strict, **purchase_fields)

    class PurchaseRequest(BaseModel):
        model_config = strict
        rows: list[PurchaseRow] = Field(min_length=1, max_length=limits.max_batch)  # type: ignore[valid-type]

    class SentimentRequest(BaseModel):
        model_config = strict
        texts: list[Text] = Field(min_length=1, max_length=limits.max_batch, description="review texts")
        languages: list[Annotated[str, StringConstraints(max_length=16)] | None] | None = Field(
            None, description="language code per text (routes it like the Steam DAG); omitted = every text 'en'"
        )

    class EngagementRequest(BaseModel):
        model_config = strict
        text: Text = Field(description="the tweet's text (decoded)")
        hashtags: list[Annotated[str, StringConstraints(max_length=140), AfterValidator(unicode)]] | None = Field(
            None, max_length=100, description="hashtags without '#'; omitted = the #tags of the text"
        )
        followers: int = Field(0, ge=0, le=10**12, description="the author's follower count")
        created_at: dt.datetime | None = Field(None, description="posting time (UTC hour is a feature); omitted = now")
        platform: Literal[PLATFORMS] = Field("shopee", description="which store's tweets: shopee or tokopedia")  # type: ignore[valid-type]
        has_location: bool = Field(False, description="whether the author's profile names a location")

    Value = float | int | Annotated[str, StringConstraints(max_length=1000), AfterValidator(unicode)] | bool | None

    class ChurnRequest(BaseModel):
        model_config = strict
        rows: list[dict[str, Value]] = Field(
            min_length=1,
            max_length=limits.max_batch,
            description="rows of the source's features table (user_id and label optional, label ignored); missing "
            "features are imputed like in training, unseen categories take the unknown slot",
        )

    # ---- routes ----------------------------------------------------------------------------------------------

    @app.get("/", response_class=HTMLResponse, include_in_schema=False)
    def page() -> str:
        return resources.files("shoplake.serve").joinpath("page.html").read_text(encoding="utf-8")

    @app.get("/healthz", tags=["ops"])
    def healthz() -> dict[str, str]:
        return {"status": "ok"}

    @app.get("/readyz", tags=["ops"])
    def readyz() -> JSONResponse:
        from shoplake.io.lake import filesystem

        try:
            fs, root = filesystem(settings.lake_root)
            reachable = fs.exists(root)
        except Exception as exc:
            return JSONResponse({"ready": False, "reason": f"lake {settings.lake_root} unreadable: {exc}"}, 503)
        if not reachable:
            return JSONResponse({"ready": False, "reason": f"lake {settings.lake_root} does not exist"}, 503)
        models = {k: v["available"] for k, v in store.status().items()}
        ready = any(models.values())
        body = {"ready": ready, "models": models}
        if not ready:
            body["reason"] = "no model has a current version in the lake"
        return JSONResponse(body, 200 if ready else 503)

    @app.get("/models", dependencies=guarded, tags=["models"])
    def models() -> dict[str, Any]:
        return {"lake_root": settings.lake_root, "models": store.status()}

    @app.get("/models/{key:path}", dependencies=guarded, tags=["models"])
    def model(key: str) -> dict[str, Any]:
        """Load ``key`` (``purchase``, ``churn/telco``…) if needed; its version and the columns a request carries."""
        if key not in store.specs:
            raise HTTPException(404, f"no model {key!r}; models: {', '.join(store.specs)}")
        m = served(key)
        return {"model": key, "version": m.version, "load_s": m.load_s, "info": m.info}

    @app.post("/predict/purchase", dependencies=guarded, tags=["predict"])
    def predict_purchase(req: PurchaseRequest) -> dict[str, Any]:
        from shoplake.ml.xgb import predict_rows

        m = served("purchase")
        rows = [r.model_dump() for r in req.rows]
        probs = predict_rows(m.model, rows)
        threshold = m.info["threshold"]
        return {
            "model_version": m.version,
            "target": m.info["target"],
            "threshold": threshold,
            "predictions": [
                {"recommendationid": r["recommendationid"], "probability": float(p), "purchase": bool(p >= threshold)}
                for r, p in zip(rows, probs, strict=True)
            ],
        }

    @app.post("/predict/sentiment", dependencies=guarded, tags=["predict"])
    def predict_sentiment(req: SentimentRequest) -> dict[str, Any]:
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

    @app.post("/predict/engagement", dependencies=guarded, tags=["predict"])
    def predict_engagement(req: EngagementRequest) -> dict[str, Any]:
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
            "model_version": m.version,
            "features": {k: row[k] for k in ("n_hashtags", "n_mentions", "n_urls", "text_chars", "hour")},
        }

    @app.post("/predict/churn/{source}", dependencies=guarded, tags=["predict"])
    def predict_churn(
        req: ChurnRequest, source: Annotated[str, Path(description=f"one of {', '.join(CHURN_SOURCES)}")]
    ) -> dict[str, Any]:
        if source not in CHURN_SOURCES:
            raise HTTPException(404, f"no churn source {source!r}; sources: {', '.join(CHURN_SOURCES)}")
        m = served(f"churn/{source}")
        allowed = {*m.model.input_columns, "user_id", "label"}  # the features table's id and label are not features
        problems = [
            (f"body.rows.{i}.{errors.excerpt(c, 40)}", f"unknown column {errors.excerpt(c, 40)!r}")
            for i, row in enumerate(req.rows)
            for c in row
            if c not in allowed
        ]
        if problems:
            raise errors.Unprocessable(problems, columns=m.model.input_columns, model_version=m.version)
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

    K = Annotated[int, Query(ge=1, le=100, description="how many products")]

    @app.get("/recommendations/{user_id}", dependencies=guarded, tags=["recommendations"])
    def recommendations(user_id: str, k: K = 10) -> dict[str, Any]:
        m = served("recommendations")
        items = m.model["users"].get(user_id)
        source = "als"
        if items is None:  # a user ALS never saw (new, or outside the window) gets the most popular products
            items, source = m.model["popular"], "popularity"
        return {"user_id": user_id, "source": source, "model_version": m.version, "items": items[:k]}

    @app.get("/similar/{product_id}", dependencies=guarded, tags=["recommendations"])
    def similar(product_id: str, k: K = 10) -> dict[str, Any]:
        m = served("recommendations")
        items = m.model["products"].get(product_id)
        if items is None:
            raise HTTPException(404, f"product {product_id} has no item-item neighbours in the {m.version} partition")
        return {"product_id": product_id, "model_version": m.version, "items": items[:k]}

    return app
