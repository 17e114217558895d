"""The lake catalog: every dataset and model name, and the only place lake paths are built.

``<lake_root>/<zone>/<dataset>/ds=YYYY-MM-DD/`` for partitions, ``<lake_root>/model/<name>/version=<ds>/`` for
model versions (``current.json`` beside them names the champion). Pipelines, Airflow assets, demos and tests take
names from here; nothing else spells them out.
"""

from __future__ import annotations

import datetime as dt
import re
import uuid
from enum import StrEnum
from typing import NamedTuple

_DS_RE = re.compile(r"^\d{4}-\d{2}-\d{2}$")
_DATASET_RE = re.compile(r"^[a-z][a-z0-9_]*$")


class Zone(StrEnum):
    """Zones of the lake, in the order data moves through them."""

    RAW = "raw"
    CURATED = "curated"
    ENRICHED = "enriched"
    MODEL = "model"
    #: rows rejected at a stage, with a reason (dataset ``<stage>_<dataset>``)
    QUARANTINE = "quarantine"
    #: published copies for people and other systems (CSV + Parquet of the same rows); may live in another bucket
    RESULTS = "results"


# ---- the catalog -------------------------------------------------------------------------------------------------

#: Steam reviews: raw, curated and enriched (sentiment) partitions share the name
STEAM_REVIEWS = "steam_reviews"
#: the purchase model's input (curated reviews joined with their sentiment), enriched zone
STEAM_PURCHASE_FEATURES = "steam_purchase_features"
#: per game and day: reviews, recommendation and Steam-purchase rates, mean sentiment and playtime (enriched zone)
STEAM_GAME_DAILY = "steam_game_daily"
#: shoplake's offline sentiment model (MiniLM encoder + logistic head), model zone
SENTIMENT_MODEL = "sentiment_head"
#: the multilingual sentiment model of the ``*`` route (USE multilingual v3 + a head fitted on labelled reviews)
SENTIMENT_MULTILINGUAL_MODEL = "sentiment_multilingual"
#: the purchase pipeline's targets and the model-zone name of each target's model
PURCHASE_TARGETS = ("steam_purchase", "voted_up")
PURCHASE_MODELS = {"steam_purchase": "steam_purchase", "voted_up": "steam_voted_up"}
#: product reviews with star ratings (raw, curated), the product catalogue snapshot (curated) and the clickstream
#: product ↔ review brand map (curated)
PRODUCT_REVIEWS = "product_reviews"
PRODUCT_CATALOG = "product_catalog"
PRODUCT_REVIEW_MAP = "product_review_map"
#: five-class review sentiment of the product reviews (enriched and published results) and its model
PRODUCT_REVIEW_SENTIMENT = "product_review_sentiment"
REVIEW_SENTIMENT_MODEL = "review_sentiment"
#: e-commerce tweets with like / retweet counts (raw, curated), their sentence embeddings (enriched), the
#: engagement model
TWEETS = "ecommerce_tweets"
TWEET_EMBEDDINGS = "tweet_embeddings"
TWEET_ENGAGEMENT_MODEL = "tweet_engagement"
#: the e-commerce clickstream's events (raw, curated): landed and cleaned once, by the clickstream churn DAG's
#: ``curate_events``; churn, recommendations, engagement levels and the product review map all read the curated rows
CLICKSTREAM_EVENTS = "clickstream_events"
#: the clickstream recommenders' model (one version holds all four) and their enriched outputs
RECOMMENDER_MODEL = "recommender"
RECS_DATASETS = {
    "item_item": "recs_item_item",  #: top-k similar products per product (item-item cosine CF)
    "fp_itemsets": "recs_fp_itemsets",  #: FP-Growth frequent itemsets of sessions
    "fp_rules": "recs_fp_rules",  #: FP-Growth association rules (support, confidence, lift)
    "als_user": "recs_als_user",  #: ALS top-k products per user
    "popularity": "recs_popularity",  #: products by distinct users (the baseline)
}
#: clickstream engagement levels: enriched rows (user × product × session, features + level), held-out
#: predictions, and the multiclass model
ENGAGEMENT = "clickstream_engagement"
ENGAGEMENT_PREDICTIONS = "clickstream_engagement_predictions"
ENGAGEMENT_MODEL = "clickstream_engagement"
#: MLflow tracking store of a local lake (``model/mlflow/``)
MLFLOW = "mlflow"

#: churn sources and the lake dataset of each one's events / rows
CHURN_SOURCES = ("sparkify", "telco", "clickstream")
_CHURN_EVENTS = {"sparkify": "sparkify_events", "telco": "telco_customers", "clickstream": CLICKSTREAM_EVENTS}


class ChurnNames(NamedTuple):
    """Datasets and model of one churn source."""

    events: str  #: raw and curated zones
    features: str  #: enriched zone, one row per user
    predictions: str  #: enriched zone
    model: str  #: model zone


def churn_names(source: str) -> ChurnNames:
    """Names of the churn pipeline of ``source`` (``sparkify``, ``telco`` or ``clickstream``)."""
    if source not in CHURN_SOURCES:
        raise ValueError(f"churn source must be one of {CHURN_SOURCES}, got {source!r}")
    return ChurnNames(
        events=_CHURN_EVENTS[source],
        features=f"{source}_churn_features",
        predictions=f"{source}_churn_predictions",
        model=f"{source}_churn",
    )


# ---- partitions --------------------------------------------------------------------------------------------------


def validate_ds(ds: str) -> str:
    """Return ``ds`` if it is a real calendar date written ``YYYY-MM-DD``, else raise ``ValueError``."""
    if not isinstance(ds, str) or not _DS_RE.match(ds):
        raise ValueError(f"ds must be YYYY-MM-DD, got {ds!r}")
    try:
        dt.date.fromisoformat(ds)
    except ValueError as exc:  # "month must be in 1..12" alone names neither the value nor the field
        raise ValueError(f"ds must be a real day written YYYY-MM-DD, got {ds!r} ({exc})") from None
    return ds


def dataset_path(lake_root: str, zone: Zone | str, dataset: str) -> str:
    """Root of one dataset (the parent of its ``ds=`` partitions)."""
    zone = Zone(zone)
    if not _DATASET_RE.match(dataset):
        raise ValueError(f"dataset names are lower_snake_case, got {dataset!r}")
    return f"{lake_root.rstrip('/')}/{zone.value}/{dataset}"


def partition_path(lake_root: str, zone: Zone | str, dataset: str, ds: str) -> str:
    """Path of the one partition a run for ``ds`` owns.

    >>> partition_path("s3://b/lake", Zone.CURATED, "steam_reviews", "2019-03-01")
    's3://b/lake/curated/steam_reviews/ds=2019-03-01'
    """
    return f"{dataset_path(lake_root, zone, dataset)}/ds={validate_ds(ds)}"


def quarantine_path(lake_root: str, stage: str, dataset: str, ds: str) -> str:
    """Partition for rows of ``dataset`` rejected at ``stage`` (``load`` into Mongo, ``raw``, ``curated``…).

    >>> quarantine_path("/lake", "raw", "steam_reviews", "2019-03-01")
    '/lake/quarantine/raw_steam_reviews/ds=2019-03-01'
    """
    return partition_path(lake_root, Zone.QUARANTINE, f"{stage}_{dataset}", ds)


def window_days(ds: str, days: int) -> list[str]:
    """The ``days`` partition dates ending at ``ds`` (inclusive), oldest first.

    >>> window_days("2019-03-01", 3)
    ['2019-02-27', '2019-02-28', '2019-03-01']
    """
    if days < 1:
        raise ValueError(f"a window holds at least one day, got {days}")
    end = dt.date.fromisoformat(validate_ds(ds))
    return [(end - dt.timedelta(days=i)).isoformat() for i in reversed(range(days))]


def window_partitions(lake_root: str, zone: Zone | str, dataset: str, ds: str, days: int) -> list[str]:
    """Paths of the partitions of the ``days`` days ending at ``ds``, oldest first (whether they exist or not).

    ``shoplake.io.lake.existing_partitions`` keeps those that exist.
    """
    return [partition_path(lake_root, zone, dataset, day) for day in window_days(ds, days)]


def hidden_sibling(path: str, tag: str) -> str:
    """A unique hidden path next to ``path`` (``<parent>/.<name>.<tag>-<id>``).

    Hidden (dot) names are skipped by Spark/Hive partition discovery and by partition readers, so readers of a
    dataset never mistake a write in progress for a partition.
    """
    parent, _, name = path.rstrip("/").rpartition("/")
    return f"{parent}/.{name}.{tag}-{uuid.uuid4().hex[:8]}"


# ---- models ------------------------------------------------------------------------------------------------------

#: the champion pointer beside a model's versions
CURRENT_FILE = "current.json"


def model_root(lake_root: str, name: str) -> str:
    """``<lake_root>/model/<name>`` (the parent of its versions and of ``current.json``)."""
    return dataset_path(lake_root, Zone.MODEL, name)


def version_path(lake_root: str, name: str, ds: str) -> str:
    """Directory of the version of model ``name`` trained for ``ds``."""
    return f"{model_root(lake_root, name)}/version={validate_ds(ds)}"


def staging_path(lake_root: str, name: str, ds: str) -> str:
    """A fresh hidden sibling of ``version=<ds>`` for writers that build the version in place (Spark)."""
    return hidden_sibling(version_path(lake_root, name, ds), "tmp")


def sagemaker_channels_path(lake_root: str, name: str, ds: str) -> str:
    """Where the SageMaker backend exports the train / validation channels of model ``name`` for ``ds``.

    ``ds`` may be a Jinja template (the Airflow task renders it), so it is not validated here.
    """
    return f"{model_root(lake_root, name)}/sagemaker_input/ds={ds}"


def sagemaker_output_path(lake_root: str, name: str) -> str:
    """Default ``S3OutputPath`` of SageMaker training jobs of model ``name`` (``model.tar.gz`` lands below)."""
    return f"{model_root(lake_root, name)}/sagemaker"
