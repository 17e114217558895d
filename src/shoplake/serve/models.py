"""The service's models: found through the lake's ``current.json`` pointers, loaded lazily, reloaded when they move.

Each served model has a *spec*: how to read its current version (cheap: one small file) and how to load that
version. :class:`ModelStore` re-reads a pointer at most every ``pointer_ttl_s`` seconds; a new version is loaded
under the model's lock and swapped in whole, so a request sees the old model or the new one, never a mix. If the new
version fails to load, the old one keeps serving and ``GET /models`` says why. A model with no pointer (never
trained, or its DAG not run yet) raises :class:`ModelUnavailable` with what to run — the API answers 503.

A version that fails to load is not tried again by every request: for ``retry_s`` (30 s, doubling per failure up to
10 min) its requests answer 503 with the reason and ``Retry-After`` at once, and ``GET /models`` / ``/readyz``
report it unavailable. ``shoplake serve`` loads every model with a current version in the background at start
(:meth:`ModelStore.warm`), so a model that cannot load shows as such before its first request. A hub model the
local Hugging Face cache does not hold is unavailable at once: the service never downloads at request time.

Served models (the version each reports):

* ``purchase`` — the Steam purchase XGBoost booster (``model/steam_purchase``), its features and F1 threshold.
* ``sentiment`` — the review sentiment engine of the Steam DAG with the same language → model map
  (``SHOPLAKE_SENTIMENT_MODELS`` / ``SHOPLAKE_SENTIMENT_MODEL``); a lake model's version is its pointer's.
* ``review_sentiment`` — the five-class product review model of ``product_review_sentiment``
  (``model/review_sentiment``): stars 1–5 with their probabilities.
* ``engagement`` — the tweet engagement regressor the pointer names (``model/tweet_engagement``), with the offline
  MiniLM encoder when that model reads sentence embeddings.
* ``churn/<source>`` — the Spark churn pipeline read without Spark (:mod:`shoplake.ml.spark_portable`).
* ``clickstream_engagement`` — the engagement-level classifier of ``clickstream_recommendations_daily``
  (``model/clickstream_engagement``), also read without Spark: a level (0–3) with its probabilities.
* ``recommendations`` — the newest ``enriched/recs_*`` partitions (ALS per user, item-item per product,
  popularity); the version is their day.
"""

from __future__ import annotations

import logging
import math
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from shoplake.config import Settings
from shoplake.ml.registry import is_baseline
from shoplake.paths import (
    CHURN_SOURCES,
    ENGAGEMENT_MODEL,
    PURCHASE_MODELS,
    RECS_DATASETS,
    REVIEW_SENTIMENT_MODEL,
    TWEET_ENGAGEMENT_MODEL,
    Zone,
    churn_names,
    dataset_path,
    partition_path,
)

log = logging.getLogger(__name__)

PURCHASE_TARGET = "steam_purchase"
#: the DAG that trains each churn source's model (named in the 503 of a source without one)
CHURN_DAGS = {
    "sparkify": "sparkify_churn_daily",
    "telco": "telco_churn_weekly",
    "clickstream": "clickstream_churn_daily",
}


#: seconds before a version that failed to load is tried again (doubling per failure, up to RETRY_MAX_S)
RETRY_S = 30.0
RETRY_MAX_S = 600.0


class ModelUnavailable(Exception):
    """A model cannot be served: no current version, or its version does not load. ``reason`` says what to do;
    ``retry_after_s``, when set, is when the next load attempt is due."""

    def __init__(self, key: str, reason: str, retry_after_s: int | None = None) -> None:
        super().__init__(f"{key}: {reason}")
        self.key = key
        self.reason = reason
        self.retry_after_s = retry_after_s


@dataclass
class Served:
    """One loaded version of a model."""

    key: str
    version: str
    model: Any
    info: dict[str, Any] = field(default_factory=dict)
    loaded_at: float = field(default_factory=time.time)
    load_s: float = 0.0
    #: what the pointer named when it loaded (its version, files and model): a rerun of the same day, or a baseline
    #: published in the model's place, moves it without changing the version
    identity: str = ""
    #: the request body the page fills for this version (``GET /models/{key}``), made once on first ask
    example: dict[str, Any] | None = None


@dataclass
class Spec:
    """How to find a model's current version (``current() -> (version, pointer)``) and load it (``load(pointer)``).

    ``champion`` names what serves when the pointer does not (the pointer's ``model`` field wins).
    """

    key: str
    current: Callable[[], tuple[str, dict[str, Any]]]
    load: Callable[[dict[str, Any]], tuple[Any, dict[str, Any]]]
    champion: str = ""


@dataclass
class _Failure:
    """A version that failed to load: the reason, and when the next attempt is due."""

    version: str
    reason: str
    due: float
    delay: float


def _pointer(settings: Settings, name: str, hint: str) -> Callable[[], tuple[str, dict[str, Any]]]:
    def current() -> tuple[str, dict[str, Any]]:
        from shoplake.ml.registry import read_current

        pointer = read_current(settings.lake_root, name)
        if pointer is None:
            raise ModelUnavailable(name, f"no current version of model {name!r} in {settings.lake_root} ({hint})")
        return pointer["version"], pointer

    return current


# ---- loaders ------------------------------------------------------------------------------------------------------


def _load_purchase(pointer: dict[str, Any]) -> tuple[Any, dict[str, Any]]:
    from shoplake.ml.xgb import load_version_files
    from shoplake.transforms.purchase_features import ALL_FEATURES

    if pointer.get("model") == "per_game_rate":  # the per-game rate baseline won: served from the game table
        _, spec, games = load_version_files(pointer["path"], spec_only=True)
        info = {"target": spec["target"], "features": ["appid"], "columns": ["appid"], "threshold": games.prior,
                "model": "per_game_rate", "baseline": True, "game_table": len(games.rows),
                "example_appid": min(games.rows)}  # fmt: skip
        return PurchaseModel(None, games), info
    booster, spec, games = load_version_files(pointer["path"])
    booster.set_param({"nthread": 1})  # requests run concurrently on the server's threads: one core each
    # the request's columns: the game id (its one-hot and game-level columns come from it) and the feature columns
    columns = ["appid", *(c for c in ALL_FEATURES if c in spec["features"])]
    known = sorted(games.rows)[:1] if games is not None else []
    return PurchaseModel(booster, games), {"target": spec["target"], "features": spec["features"],
                                           "threshold": spec["threshold"], "columns": columns,
                                           "game_table": len(games.rows) if games is not None else None,
                                           "example_appid": known[0] if known else None}  # fmt: skip


@dataclass(frozen=True)
class PurchaseModel:
    """A purchase version as served: the booster and, when it reads game-level features, its game table."""

    booster: Any
    games: Any = None


def _sentiment_specs(settings: Settings) -> Spec:
    from shoplake.ml.sentiment import parse_model_map

    routes = parse_model_map(settings.sentiment_model_map)

    def current() -> tuple[str, dict[str, Any]]:
        from shoplake.io.lake import filesystem
        from shoplake.ml.registry import read_pointer
        from shoplake.ml.sentiment import directory_revision, looks_like_path

        parts = []
        for r in routes:
            version = r.revision or "unpinned"
            if looks_like_path(r.uri):
                fs, root = filesystem(r.uri)
                if fs.exists(f"{root}/current.json"):  # a lake model root: its champion's version
                    version = read_pointer(r.uri)["version"]
                elif fs.exists(root):  # a model directory: its content hash (a change of files reloads it)
                    version = directory_revision(root) if "://" not in r.uri else "dir"
                else:
                    raise ModelUnavailable(
                        "sentiment",
                        f"sentiment model {r.uri} does not exist: run `make sentiment-model` (or the "
                        "sentiment_model_weekly DAG), or point SHOPLAKE_SENTIMENT_MODELS at a hub model@revision",
                    )
            elif not hub_cached(r.uri, r.revision):
                raise ModelUnavailable(
                    "sentiment",
                    f"hub model {r.uri}@{r.revision or 'main'} ({r.language} route) is not in the local Hugging Face "
                    "cache and the service never downloads at request time: fetch it once (`hf download "
                    f"{r.uri} --revision {r.revision or 'main'}`), or route {r.language} to a lake model "
                    "(SHOPLAKE_SENTIMENT_MODELS, e.g. the lake's model/sentiment_head after `make sentiment-model`)",
                )
            parts.append(f"{r.language}={version}")
        return ",".join(parts), {}

    def load(_pointer: dict[str, Any]) -> tuple[Any, dict[str, Any]]:
        from shoplake.ml.sentiment import EngineConfig, Router

        router = Router(routes, EngineConfig(), cache_dir=settings.model_cache)
        for r in routes:  # load now: the first request must not pay for it
            router.classifier(r)
        return router, {"routes": router.models()}

    return Spec("sentiment", current, load, champion="sentiment engine")


def with_lake_sentiment_defaults(settings: Settings) -> Settings:
    """``settings`` with the lake's own sentiment models where nothing else names one and the lake has them:
    ``model/sentiment_head`` for English (unless ``SHOPLAKE_SENTIMENT_MODEL`` names another) and
    ``model/sentiment_multilingual`` for every other language (unless ``SHOPLAKE_SENTIMENT_MULTILINGUAL_MODEL`` is
    set) — what the Makefile's embedded defaults name, so ``shoplake serve`` and ``make serve`` serve the same
    models. A lake without them keeps the hub default. Reads two small files.
    """
    if settings.sentiment_models:
        return settings
    from dataclasses import fields, replace

    from shoplake.ml.registry import read_current
    from shoplake.paths import model_root

    def in_lake(name: str) -> str:
        try:
            return model_root(settings.lake_root, name) if read_current(settings.lake_root, name) else ""
        except Exception:  # an unreadable lake or pointer: the service reports it (readyz); nothing to resolve here
            return ""

    changes: dict[str, Any] = {}
    default_model = next(f.default for f in fields(settings) if f.name == "sentiment_model")
    if settings.sentiment_model == default_model and (head := in_lake("sentiment_head")):
        changes["sentiment_model"] = head
    if not settings.sentiment_multilingual_model and (multi := in_lake("sentiment_multilingual")):
        changes["sentiment_multilingual_model"] = multi
    return replace(settings, **changes) if changes else settings


def hub_cached(repo_id: str, revision: str = "") -> bool:
    """Whether the local Hugging Face cache holds ``repo_id`` at ``revision`` (its config), without the network."""
    from huggingface_hub import try_to_load_from_cache

    found = try_to_load_from_cache(repo_id, "config.json", revision=revision or None)
    return isinstance(found, str)


def _load_review_sentiment(settings: Settings) -> Callable[[dict[str, Any]], tuple[Any, dict[str, Any]]]:
    def load(pointer: dict[str, Any]) -> tuple[Any, dict[str, Any]]:
        from shoplake.ml.baselines import MAJORITY_CLASS, ConstantClassifier
        from shoplake.ml.sentiment import FIVE_CLASSES, EngineConfig, load_classifier

        if pointer.get("model") == MAJORITY_CLASS:  # the majority rating won: every text gets it
            constant = ConstantClassifier(pointer["class_probabilities"])
            return constant, {"model_id": MAJORITY_CLASS, "model_revision": "", "labels": list(FIVE_CLASSES),
                              "baseline": True}  # fmt: skip
        clf = load_classifier(pointer["path"], cfg=EngineConfig(), cache_dir=settings.model_cache)
        labels = clf.labels()
        if len(labels) != 5:
            raise ValueError(f"{pointer['path']} has {len(labels)} labels, the five-class model needs 5: {labels}")
        return clf, {"model_id": clf.model_id, "model_revision": clf.revision, "labels": labels}

    return load


def _load_engagement(pointer: dict[str, Any]) -> tuple[Any, dict[str, Any]]:
    from shoplake.ml.engagement_models import load_saved, saved_models

    model = pointer.get("model", "")
    known = saved_models(pointer["path"])
    if model not in known:
        raise ValueError(f"pointer names model {model!r}, the version holds {known}")
    encoder = None
    if model == "xgb_embeddings_meta":  # the encoder embed_tweets uses by default
        from shoplake.ml.sentiment import EngineConfig
        from shoplake.ml.sentiment_head import SentenceEncoder, default_encoder_dir

        encoder = SentenceEncoder(default_encoder_dir(), EngineConfig())
    return {"predictor": load_saved(pointer["path"], model), "encoder": encoder}, {"model": model}


def _load_churn(pointer: dict[str, Any]) -> tuple[Any, dict[str, Any]]:
    from shoplake.ml.baselines import MAJORITY_CLASS, ConstantClassifier
    from shoplake.ml.spark_portable import load_pipeline

    pipe = load_pipeline(f"{pointer['path']}/model")
    if pointer.get("model") == MAJORITY_CLASS:  # the majority class won: it answers, requests checked the same way
        constant = ConstantClassifier(pointer["class_probabilities"], pipe.input_columns)
        return constant, {"model": MAJORITY_CLASS, "baseline": True, "columns": pipe.input_columns}
    return pipe, {"model": pointer.get("model") or pipe.classifier, "columns": pipe.input_columns}


def _load_clickstream_engagement(pointer: dict[str, Any]) -> tuple[Any, dict[str, Any]]:
    from shoplake.transforms.engagement import LEVEL_NAMES

    pipe, info = _load_churn(pointer)  # the same saved Spark pipeline layout, read without Spark
    return pipe, {**info, "levels": list(LEVEL_NAMES)}


def _recs_spec(settings: Settings) -> Spec:
    datasets = {k: RECS_DATASETS[k] for k in ("als_user", "item_item", "popularity")}

    def current() -> tuple[str, dict[str, Any]]:
        from shoplake.io.lake import partition_days

        days = {k: partition_days(dataset_path(settings.lake_root, Zone.ENRICHED, d)) for k, d in datasets.items()}
        common = set.intersection(*(set(v) for v in days.values()))
        if not common:
            raise ModelUnavailable(
                "recommendations",
                f"no day with all of {sorted(datasets.values())} in {settings.lake_root}/enriched "
                "(run clickstream_recommendations_daily)",
            )
        return max(common), {"version": max(common)}

    def load(pointer: dict[str, Any]) -> tuple[Any, dict[str, Any]]:
        from shoplake.io.lake import read_partition

        ds = pointer["version"]
        tables = {
            k: read_partition(partition_path(settings.lake_root, Zone.ENRICHED, d, ds)).to_pylist()
            for k, d in datasets.items()
        }
        by_user: dict[str, list[dict[str, Any]]] = {}
        for r in sorted(tables["als_user"], key=lambda r: r["rec_rank"]):
            by_user.setdefault(str(r["user_id"]), []).append(
                {"rank": r["rec_rank"], "product_id": str(r["rec_product_id"]), "score": float(r["score"])}
            )
        by_product: dict[str, list[dict[str, Any]]] = {}
        for r in sorted(tables["item_item"], key=lambda r: r["rec_rank"]):
            by_product.setdefault(str(r["product_id"]), []).append(
                {"rank": r["rec_rank"], "product_id": str(r["rec_product_id"]), "score": float(r["score"])}
            )
        popular = [
            {"rank": r["rec_rank"], "product_id": str(r["product_id"]), "score": float(r["users"])}
            for r in sorted(tables["popularity"], key=lambda r: r["rec_rank"])
        ]
        recs = {"ds": ds, "users": by_user, "products": by_product, "popular": popular}
        return recs, {"ds": ds, "users": len(by_user), "products": len(by_product)}

    return Spec("recommendations", current, load, champion="als (popularity for unseen users)")


def specs(settings: Settings) -> dict[str, Spec]:
    """Every served model's spec, by key."""
    purchase = PURCHASE_MODELS[PURCHASE_TARGET]
    out = {
        "purchase": Spec(
            "purchase", _pointer(settings, purchase, "run steam_purchase_model_weekly, or `make demo`"), _load_purchase
        ),
        "sentiment": _sentiment_specs(settings),
        "engagement": Spec(
            "engagement",
            _pointer(settings, TWEET_ENGAGEMENT_MODEL, "run tweet_engagement_daily, or `make demo-engagement`"),
            _load_engagement,
        ),
        "recommendations": _recs_spec(settings),
        "review_sentiment": Spec(
            "review_sentiment",
            _pointer(settings, REVIEW_SENTIMENT_MODEL, "run product_review_sentiment, or `make demo-reviews`"),
            _load_review_sentiment(settings),
        ),
        "clickstream_engagement": Spec(
            "clickstream_engagement",
            _pointer(settings, ENGAGEMENT_MODEL, "run clickstream_recommendations_daily, or `make demo-recs`"),
            _load_clickstream_engagement,
        ),
    }
    for source in CHURN_SOURCES:
        hint = f"run the {CHURN_DAGS[source]} DAG, or `make demo-churn`"
        pointer = _pointer(settings, churn_names(source).model, hint)
        out[f"churn/{source}"] = Spec(f"churn/{source}", pointer, _load_churn)
    return out


class ModelStore:
    """Loaded models by key; thread-safe; each pointer re-read at most every ``pointer_ttl_s`` seconds.

    With ``cache=False`` every :meth:`get` loads the model again (the naive per-request baseline of the load
    benchmark; never for production).
    """

    def __init__(self, settings: Settings, *, pointer_ttl_s: float | None = None, cache: bool | None = None) -> None:
        self.settings = settings
        self.specs = specs(settings)
        self.ttl = settings.serve.pointer_ttl_s if pointer_ttl_s is None else pointer_ttl_s
        self.cache = settings.serve.cache if cache is None else cache
        self._served: dict[str, Served] = {}
        self._checked: dict[str, tuple[float, str]] = {}  # key → (monotonic time, version seen)
        self._errors: dict[str, str] = {}
        self._failed: dict[str, _Failure] = {}  # key → the version that failed to load, with no older one serving
        self._locks = {key: threading.Lock() for key in self.specs}

    def get(self, key: str) -> Served:
        """The current version of ``key``, loading it (or a moved pointer's new version) when needed.

        Raises:
            ModelUnavailable: no current version, or it does not load (at once while its retry is not due).
        """
        if key not in self.specs:
            raise KeyError(key)
        spec = self.specs[key]
        if not self.cache:
            return self._load(spec, *self._current(spec))
        now = time.monotonic()
        served = self._served.get(key)
        checked = self._checked.get(key)
        if served is not None and checked is not None and now - checked[0] < self.ttl:
            return served
        with self._locks[key]:
            served = self._served.get(key)
            try:
                version, pointer = self._current(spec)
            except ModelUnavailable:
                self._served.pop(key, None)  # the pointer is gone: stop serving what it named
                raise
            self._checked[key] = (time.monotonic(), version)
            if served is not None and served.identity == _identity(version, pointer):
                return served
            failed = self._failed.get(key)
            if failed is not None and failed.version == version and time.monotonic() < failed.due:
                raise ModelUnavailable(key, failed.reason, retry_after_s=math.ceil(failed.due - time.monotonic()))
            try:
                fresh = self._load(spec, version, pointer)
            except ModelUnavailable as exc:
                if served is None:
                    delay = (
                        RETRY_S if failed is None or failed.version != version else min(failed.delay * 2, RETRY_MAX_S)
                    )
                    self._failed[key] = _Failure(version, exc.reason, time.monotonic() + delay, delay)
                    raise ModelUnavailable(key, exc.reason, retry_after_s=math.ceil(delay)) from exc
                self._errors[key] = exc.reason
                log.error("keeping %s %s: %s", key, served.version, exc.reason)
                return served
            self._served[key] = fresh
            self._errors.pop(key, None)
            self._failed.pop(key, None)
            if served is not None:
                log.info("%s: pointer moved %s → %s; new version serving", key, served.version, version)
            return fresh

    def warm(self) -> None:
        """Load every model that has a current version (``shoplake serve`` runs this in the background at start, so
        a model that cannot load is reported before its first request); failures are recorded, not raised."""
        for key in self.specs:
            try:
                self.get(key)
            except ModelUnavailable as exc:
                log.warning("%s not served: %s", key, exc.reason)

    def _current(self, spec: Spec) -> tuple[str, dict[str, Any]]:
        try:
            return spec.current()
        except ModelUnavailable:
            raise
        except Exception as exc:  # an unreadable lake or pointer: the model cannot be served now
            raise ModelUnavailable(spec.key, f"cannot read the current version: {exc}") from exc

    def _load(self, spec: Spec, version: str, pointer: dict[str, Any]) -> Served:
        started = time.monotonic()
        try:
            model, info = spec.load(pointer)
        except ModelUnavailable:
            raise
        except Exception as exc:
            log.exception("loading %s version %s failed", spec.key, version)
            raise ModelUnavailable(spec.key, f"version {version} does not load: {type(exc).__name__}: {exc}") from exc
        served = Served(spec.key, version, model, info, load_s=round(time.monotonic() - started, 3),
                        identity=_identity(version, pointer))  # fmt: skip
        if self.cache:
            log.info("loaded %s version %s in %.2fs", spec.key, version, served.load_s)
        return served

    def status(self) -> dict[str, Any]:
        """Per model: the current version (pointer), its champion (and whether that is a baseline), the loaded
        version, and why it cannot be served if it cannot (no version, or a version that failed to load)."""
        out: dict[str, Any] = {}
        for key, spec in self.specs.items():
            served = self._served.get(key)
            entry: dict[str, Any] = {"loaded_version": served.version if served else None}
            try:
                version, pointer = self._current(spec)
                # the champion is what the registry promoted (the Lake page's column; None where the pointer names
                # none); `serves` is what answers either way
                serves = str(pointer.get("model") or spec.champion or key)
                entry.update(current_version=version, available=True, champion=pointer.get("model") or None,
                             serves=serves, baseline=is_baseline(serves), verdict=pointer.get("verdict"))  # fmt: skip
                failed = self._failed.get(key)
                if failed is not None and failed.version == version and served is None:
                    entry.update(available=False, reason=failed.reason,
                                 retry_after_s=max(0, math.ceil(failed.due - time.monotonic())))  # fmt: skip
            except ModelUnavailable as exc:
                entry.update(current_version=None, available=False, reason=exc.reason)
            if served is not None:
                entry.update(loaded_at=served.loaded_at, load_s=served.load_s, info=_small(served.info))
            if key in self._errors:
                entry["load_error"] = self._errors[key]
            out[key] = entry
        return out


def _identity(version: str, pointer: dict[str, Any]) -> str:
    """What a pointer names, as a comparable string: the version, its committed files and the model it serves."""
    return f"{version}|{pointer.get('files', '')}|{pointer.get('model', '')}"


def _small(info: dict[str, Any]) -> dict[str, Any]:
    """``info`` without long lists (the booster's feature names), for ``GET /models``; ``columns`` (a request's
    columns, which the page turns into a template row) is kept whole."""
    return {
        k: (v if k == "columns" or not isinstance(v, list) or len(v) <= 12 else f"{len(v)} items")
        for k, v in info.items()
    }
