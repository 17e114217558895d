"""The prediction service's contract: request bodies (with examples), answers and error bodies.

Importable by clients and tests. Request models depend on the service's limits (batch size, text length), so each
is built per :class:`~shoplake.config.ServeSettings` by its own function (:func:`purchase_request`,
:func:`sentiment_request`, :func:`review_sentiment_request`, :func:`engagement_request`, :func:`rows_request`);
:func:`request_models` builds them all and :data:`DEFAULT` holds the ones of the default limits. Every error the
service answers has a model here, and :func:`errors` declares them on an operation, so ``/openapi.json`` states
each status an operation can answer and the shape of its body (``tests/serve/test_contract.py``
checks the app against it with schemathesis).
"""

# no `from __future__ import annotations`: pydantic and FastAPI resolve these annotations at run time

import datetime as dt
import re
from dataclasses import dataclass
from typing import Annotated, Any, Literal

from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    StrictBool,
    StrictInt,
    StrictStr,
    StringConstraints,
    WithJsonSchema,
    create_model,
)

from shoplake.config import ServeSettings
from shoplake.transforms.purchase_features import ALL_FEATURES, ID_COLUMNS
from shoplake.transforms.tweets import PLATFORMS

#: numbers in a body must be finite: Python's JSON parser reads NaN and Infinity, the models cannot use them; numbers,
#: counts and flags are strict (``true`` is not a follower count, ``"3"`` not a feature value)
STRICT = ConfigDict(extra="forbid", allow_inf_nan=False)

#: columns of an ``enriched/steam_purchase_features`` row that are not features: accepted, ignored, and named in
#: the answer (the id is echoed back)
PURCHASE_IGNORED = tuple(c for c in (*ID_COLUMNS, "steam_purchase", "ds") if c not in ("appid", "recommendationid"))


def unicode(text: str) -> str:
    """A string that encodes as UTF-8 (JSON's ``\\ud800`` escapes decode to lone surrogates no tokenizer takes)."""
    try:
        text.encode("utf-8")
    except UnicodeEncodeError as exc:
        raise ValueError(f"not valid Unicode: a lone surrogate at character {exc.start}") from None
    return text


def _integral(value: Any) -> Any:
    """JSON Schema's integers include ``12.0``: an integral float becomes the int (a bool or a string stays, and is
    refused)."""
    return int(value) if isinstance(value, float) and value.is_integer() else value


#: an integer as JSON Schema has it: ``12`` or ``12.0``, never ``true`` or ``"12"``
WholeNumber = Annotated[StrictInt, BeforeValidator(_integral)]


#: the largest float32: XGBoost reads features as float32, a larger value would become infinity in silence
FLOAT32_MAX = 3.4028234663852886e38


def _feature(value: Any) -> Any:
    """A feature value: a number, a flag (``true`` is 1.0: the table holds voted_up, has_url… as booleans) or null;
    a string is refused (``"3"`` is not read as a number)."""
    if isinstance(value, str):
        raise ValueError("a feature value is a number, true/false or null, not a string")
    if isinstance(value, int | float) and not isinstance(value, bool) and abs(value) > FLOAT32_MAX:
        raise ValueError(f"a feature value must lie within ±{FLOAT32_MAX:.4g} (the model reads float32)")
    return float(value) if isinstance(value, bool) else value


#: a language code as the curated ``language_code`` spells them: ISO 639-1 (or -3), an optional region or script
LANGUAGE_CODE = r"^[a-z]{2,3}([-_][A-Za-z0-9]{2,8})?$"

#: RFC 3339's date-time (what OpenAPI's ``format: date-time`` means): a date, ``T``, a time and its offset
RFC3339 = re.compile(r"\d{4}-\d{2}-\d{2}[Tt]\d{2}:\d{2}:\d{2}(\.\d+)?([Zz]|[+-]\d{2}:\d{2})")


def _iso_time(value: Any) -> Any:
    """A time is an RFC 3339 date-time string (or null), as the document's ``format: date-time`` says: a number,
    or a string pydantic would read as Unix seconds (``"0"``) or as a naive time, is refused."""
    if value is None or isinstance(value, dt.datetime):
        return value
    if not isinstance(value, str) or not RFC3339.fullmatch(value):
        raise ValueError("a time is an RFC 3339 date-time with its offset, e.g. 2022-12-22T10:00:00Z")
    return value


#: an ISO 8601 date-time or null, as the document says (never a number read as Unix seconds)
Timestamp = Annotated[dt.datetime | None, BeforeValidator(_iso_time)]

#: one feature of a purchase row: a number, a flag or null (missing)
FeatureValue = Annotated[
    float | None,
    BeforeValidator(_feature),
    WithJsonSchema(
        {
            "anyOf": [
                {"type": "number", "minimum": -FLOAT32_MAX, "maximum": FLOAT32_MAX},
                {"type": "boolean"},
                {"type": "null"},
            ]
        }
    ),
]


# ---- errors -----------------------------------------------------------------------------------------------------


class Problem(BaseModel):
    """A refused request (401, 404, 413): what is wrong and what to do."""

    detail: str = Field(description="what is wrong, and what to do")
    request_id: str | None = Field(None, description="the request's X-Request-ID")


class FieldProblem(BaseModel):
    """One problem of a 422."""

    field: str = Field(description="where, dotted: body.rows.0.votes_up")
    loc: list[str | int] | None = Field(None, description="the same as a list (FastAPI's loc)")
    reason: str = Field(description="what is wrong with it")
    type: str = Field(description="pydantic's error type, or value_error")
    excerpt: str | None = Field(None, description="at most 80 characters of the offending value")


class ValidationProblem(BaseModel):
    """A 422: one entry per problem (at most 20), their total, and context such as a model's columns."""

    model_config = ConfigDict(extra="allow")

    detail: list[FieldProblem]
    errors_total: int = Field(description="how many problems there were (detail lists at most 20)")
    request_id: str


class Unavailable(BaseModel):
    """Why a model cannot be served now, and when to ask again."""

    model: str
    reason: str = Field(description="what is missing or failed, and what to run")
    retry_after_s: int | None = Field(None, description="the next load attempt is not before this (also Retry-After)")


class UnavailableProblem(BaseModel):
    """A 503: the model cannot be served (no current version, or its version does not load)."""

    detail: Unavailable


class ServerError(BaseModel):
    """A 500: the trace is in the service's log under the request id, never in the answer."""

    detail: Literal["internal error"]
    request_id: str


ERRORS: dict[int, tuple[type[BaseModel], str]] = {
    401: (Problem, "missing or wrong X-API-Key"),
    404: (Problem, "no such model, source, user or product"),
    413: (Problem, "request body over the service's limit (declared or counted as it streams)"),
    422: (ValidationProblem, "the body, a path or a query value is invalid (each problem named)"),
    503: (UnavailableProblem, "the model cannot be served now (the reason says what to run; Retry-After)"),
}


def errors(*codes: int) -> dict[int | str, dict[str, Any]]:
    """``responses=`` of an operation: the error statuses it can answer, each with its body's model."""
    return {code: {"model": ERRORS[code][0], "description": ERRORS[code][1]} for code in codes}


# ---- requests ---------------------------------------------------------------------------------------------------

EXAMPLE_REVIEW = "Fifty hours in and still fun; the co-op is great, the ending a bit short."
EXAMPLE_PRODUCT_REVIEW = (
    "Absorbs fast and my skin feels soft all day, but the scent is strong and it pills under makeup."
)
EXAMPLE_TWEET = "Flash sale tonight! Gratis ongkir for every order #shopee #promo"


@dataclass(frozen=True)
class RequestModels:
    """The request bodies under one set of limits."""

    purchase: type[BaseModel]
    sentiment: type[BaseModel]
    review_sentiment: type[BaseModel]
    engagement: type[BaseModel]
    rows: type[BaseModel]


def purchase_row_model() -> type[BaseModel]:
    """One row of ``enriched/steam_purchase_features`` as the features table holds it."""
    fields: dict[str, Any] = {
        "appid": (
            WholeNumber,
            Field(ge=0, le=2**32 - 1, description="Steam app id of the reviewed game (its one-hot column in training)"),
        ),
        "recommendationid": (StrictStr | StrictInt | None, Field(None, description="echoed back; not a feature")),
    }
    for name in ALL_FEATURES:
        # the table holds flags (voted_up, has_url…) as booleans: a row copied from it carries them as true/false
        fields[name] = (FeatureValue, Field(None, description=f"feature {name}; null = missing"))
    for name in PURCHASE_IGNORED:
        fields[name] = (Any, Field(None, description=f"the features table's {name}: accepted and ignored"))
    return create_model("PurchaseRow", __config__=STRICT, **fields)


def _text(limits: ServeSettings) -> Any:
    return Annotated[str, StringConstraints(min_length=1, max_length=limits.max_text_chars), AfterValidator(unicode)]


def _texts(limits: ServeSettings) -> Any:
    return Field(min_length=1, max_length=limits.max_batch, description="review texts")


def purchase_request(limits: ServeSettings) -> type[BaseModel]:
    """``POST /predict/purchase``: rows of ``enriched/steam_purchase_features``."""
    PurchaseRow = purchase_row_model()

    class PurchaseRequest(BaseModel):
        model_config = ConfigDict(
            **STRICT,
            json_schema_extra={"examples": [{"rows": [{"appid": 570, "recommendationid": "r1", "review_chars": 312,
                                                       "votes_up": 4, "positive_prob": 0.93}]}]},
        )  # fmt: skip
        rows: list[PurchaseRow] = Field(min_length=1, max_length=limits.max_batch)  # type: ignore[valid-type]

    return PurchaseRequest


def sentiment_request(limits: ServeSettings) -> type[BaseModel]:
    """``POST /predict/sentiment``: texts with their language codes."""
    Text = _text(limits)

    class SentimentRequest(BaseModel):
        model_config = ConfigDict(
            **STRICT, json_schema_extra={"examples": [{"texts": [EXAMPLE_REVIEW, "Gran juego"], "languages": ["en",
                                                                                                          "es"]}]}
        )  # fmt: skip
        texts: list[Text] = _texts(limits)  # type: ignore[valid-type]
        languages: list[Annotated[str, StringConstraints(pattern=LANGUAGE_CODE)] | None] | None = Field(
            None, description="ISO 639 language code per text, e.g. en, es, pt-BR (routes it like the Steam DAG: a "
            "code without a route of its own goes to the '*' route, and the answer's route says so); omitted = every "
            "text 'en'",
        )  # fmt: skip

    return SentimentRequest


def review_sentiment_request(limits: ServeSettings) -> type[BaseModel]:
    """``POST /predict/review_sentiment``: product review texts, with their titles where the reviews have them."""
    Text = _text(limits)
    Title = Annotated[str, StringConstraints(max_length=limits.max_text_chars), AfterValidator(unicode)]

    class ReviewSentimentRequest(BaseModel):
        model_config = ConfigDict(
            **STRICT,
            json_schema_extra={
                "examples": [{"texts": [EXAMPLE_PRODUCT_REVIEW], "titles": ["Soft skin, strong scent"]}]
            },
        )
        texts: list[Text] = _texts(limits)  # type: ignore[valid-type]
        titles: list[Title] | None = Field(  # type: ignore[valid-type]
            None, description="the review's title per text ('' for none; omitted = none): a model fitted on text and "
            "title reads it, any other model the text alone",
        )  # fmt: skip

    return ReviewSentimentRequest


def engagement_request(limits: ServeSettings) -> type[BaseModel]:
    """``POST /predict/engagement``: one tweet."""
    Text = _text(limits)

    class EngagementRequest(BaseModel):
        model_config = ConfigDict(
            **STRICT,
            json_schema_extra={"examples": [{"text": EXAMPLE_TWEET, "hashtags": ["shopee", "promo"], "followers": 1200,
                                             "created_at": "2022-12-22T10:00:00Z", "platform": "shopee",
                                             "has_location": False}]},
        )  # fmt: skip
        text: Text = Field(description="the tweet's text (decoded)")  # type: ignore[valid-type]
        hashtags: list[Annotated[str, StringConstraints(max_length=140), AfterValidator(unicode)]] | None = Field(
            None, max_length=100, description="hashtags without '#'; omitted = the #tags of the text"
        )
        followers: WholeNumber = Field(0, ge=0, le=10**12, description="the author's follower count")
        created_at: Timestamp = Field(
            None, description="posting time, ISO 8601 (the UTC hour is a feature); omitted = now"
        )
        platform: Literal[PLATFORMS] = Field("shopee", description="which store's tweets: shopee or tokopedia")  # type: ignore[valid-type]
        has_location: StrictBool = Field(False, description="whether the author's profile names a location")

    return EngagementRequest


def rows_request(limits: ServeSettings) -> type[BaseModel]:
    """``POST /predict/churn/{source}`` and ``/predict/clickstream_engagement``: rows of a features table."""
    Value = float | int | Annotated[str, StringConstraints(max_length=1000), AfterValidator(unicode)] | bool | None

    class RowsRequest(BaseModel):
        model_config = ConfigDict(**STRICT, json_schema_extra={"examples": [{"rows": [{"user_id": "u1"}]}]})
        rows: list[dict[str, Value]] = Field(
            min_length=1,
            max_length=limits.max_batch,
            description="rows of the model's features table (user_id and label optional, label ignored); missing "
            "features are imputed like in training, unseen categories take the unknown slot. Beyond this schema "
            "(the columns belong to the model version served, not to the document): a column the model does not "
            "read is refused with a 422 that names it and lists the model's columns (GET /models/{key} lists them "
            "too), so a misspelt feature is never imputed in silence",
        )

    return RowsRequest


def request_models(limits: ServeSettings) -> RequestModels:
    """Every request body under ``limits`` (batch size, text length)."""
    return RequestModels(
        purchase_request(limits),
        sentiment_request(limits),
        review_sentiment_request(limits),
        engagement_request(limits),
        rows_request(limits),
    )


#: the request bodies under the default limits (for clients and tests)
DEFAULT = request_models(ServeSettings())
