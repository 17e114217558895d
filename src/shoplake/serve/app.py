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

The pieces: :mod:`~shoplake.serve.middleware`, :mod:`~shoplake.serve.schemas` (request bodies and error bodies,
importable by clients), :mod:`~shoplake.serve.models` (finding and loading each model's current version), and
:mod:`shoplake.serve.routes` (one module per model family).
"""

# no `from __future__ import annotations`: FastAPI resolves the request models at run time

import logging

from fastapi import Depends, FastAPI
from fastapi_offline import FastAPIOffline

from shoplake.config import Settings
from shoplake.serve import errors
from shoplake.serve.middleware import LOOPBACK, AccessLog, BodyLimit, is_loopback, known_query
from shoplake.serve.models import ModelStore, with_lake_sentiment_defaults
from shoplake.serve.routes import Context, catalog, engagement, ops, purchase, recommendations, sentiment, tabular

__all__ = ["LOOPBACK", "ROUTERS", "create_app", "is_loopback"]

log = logging.getLogger("shoplake.serve")

#: the route modules, in the order of ``/openapi.json``
ROUTERS = (ops, catalog, purchase, sentiment, engagement, tabular, recommendations)

DESCRIPTION = (
    "The lake's current models (purchase, sentiment, five-class review sentiment, tweet engagement, clickstream "
    "engagement, churn per source, recommendations). Send `X-API-Key` when the service has a key."
)


def create_app(settings: Settings | None = None, store: ModelStore | None = None) -> FastAPI:
    """The application over ``settings``' lake (``Settings.from_env()`` with the lake's own sentiment models where
    nothing else is configured, by default): the middleware, the error handlers, then every module of
    :data:`ROUTERS`."""
    settings = settings or with_lake_sentiment_defaults(Settings.from_env())
    store = store or ModelStore(settings)
    app = FastAPIOffline(
        dependencies=[Depends(known_query)], title="shoplake prediction service", version="1", description=DESCRIPTION
    )
    app.state.store = store
    app.state.settings = settings
    app.add_middleware(BodyLimit, limit=settings.serve.max_body_bytes)
    app.add_middleware(AccessLog)  # added last: outermost, so it sees what BodyLimit answers too
    errors.install(app, log)
    ctx = Context.of(settings, store)
    for module in ROUTERS:
        app.include_router(module.router(ctx))
    return app
