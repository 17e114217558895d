"""Every Asset of the platform, defined once. Names are ``<zone>.<dataset>``; URIs are ``x-shoplake://lake/<zone>/
<dataset>`` — the dataset's place in the catalog, not where the lake is.

Airflow keys an asset on its name *and* its URI and keeps one URI per name active: an asset whose URI embedded
the lake root (``file:///…/lake/curated/x``) became a second, inactive asset the day ``SHOPLAKE_LAKE_ROOT`` moved
(another folder, ``s3://``), and every task declaring it failed with ``AirflowInactiveAssetInInletOrOutletException``.
The lake's real location travels where readers need it: each asset event's ``extra`` names the partition
(``{"ds", "path", "rows"}``).
"""

from __future__ import annotations

from typing import NamedTuple

from airflow.sdk import Asset

from shoplake import paths
from shoplake.paths import Zone

#: the URI scheme of shoplake's assets (Airflow leaves ``x-`` schemes to their owners: no normalisation)
SCHEME = "x-shoplake"


def lake_asset(zone: Zone, dataset: str) -> Asset:
    """Asset of one lake dataset, the same whatever the lake root."""
    return Asset(name=f"{zone.value}.{dataset}", uri=f"{SCHEME}://lake/{zone.value}/{dataset}", group="lake")


def zones(dataset: str, *in_zones: Zone) -> tuple[Asset, ...]:
    """The assets of one dataset in each of ``in_zones`` (raw, curated, enriched share the dataset's name)."""
    return tuple(lake_asset(zone, dataset) for zone in in_zones)


RAW_STEAM_REVIEWS, CURATED_STEAM_REVIEWS, ENRICHED_STEAM_REVIEWS = zones(
    paths.STEAM_REVIEWS, Zone.RAW, Zone.CURATED, Zone.ENRICHED
)
SENTIMENT_MODEL = lake_asset(Zone.MODEL, paths.SENTIMENT_MODEL)
SENTIMENT_MULTILINGUAL_MODEL = lake_asset(Zone.MODEL, paths.SENTIMENT_MULTILINGUAL_MODEL)
ENRICHED_STEAM_PURCHASE_FEATURES = lake_asset(Zone.ENRICHED, paths.STEAM_PURCHASE_FEATURES)
STEAM_PURCHASE_MODEL = lake_asset(Zone.MODEL, paths.PURCHASE_MODELS["steam_purchase"])
ENRICHED_STEAM_GAME_DAILY = lake_asset(Zone.ENRICHED, paths.STEAM_GAME_DAILY)


class ChurnAssets(NamedTuple):
    """The datasets one churn pipeline produces."""

    raw: Asset
    curated: Asset
    features: Asset
    model: Asset
    predictions: Asset


def _churn_assets(source: str) -> ChurnAssets:
    names = paths.churn_names(source)
    return ChurnAssets(
        raw=lake_asset(Zone.RAW, names.events),
        curated=lake_asset(Zone.CURATED, names.events),
        features=lake_asset(Zone.ENRICHED, names.features),
        model=lake_asset(Zone.MODEL, names.model),
        predictions=lake_asset(Zone.ENRICHED, names.predictions),
    )


#: per churn source (sparkify, telco, clickstream)
CHURN_ASSETS = {source: _churn_assets(source) for source in paths.CHURN_SOURCES}
#: the curated clickstream events, a dataset of their own: churn (clickstream) curates them, recommendations, the
#: engagement levels and the product review map read them
CURATED_CLICKSTREAM_EVENTS = lake_asset(Zone.CURATED, paths.CLICKSTREAM_EVENTS)

#: the clickstream recommenders' outputs: one enriched dataset per table (``paths.RECS_DATASETS``) and the model
RECS_ASSETS = {key: lake_asset(Zone.ENRICHED, name) for key, name in paths.RECS_DATASETS.items()}
RECOMMENDER_MODEL = lake_asset(Zone.MODEL, paths.RECOMMENDER_MODEL)
#: engagement levels: enriched rows, held-out predictions, the model
ENGAGEMENT_ASSETS = (
    lake_asset(Zone.ENRICHED, paths.ENGAGEMENT),
    lake_asset(Zone.ENRICHED, paths.ENGAGEMENT_PREDICTIONS),
    lake_asset(Zone.MODEL, paths.ENGAGEMENT_MODEL),
)
#: product reviews with star ratings, the catalogue snapshot, and the clickstream ↔ review brand map
RAW_PRODUCT_REVIEWS, CURATED_PRODUCT_REVIEWS, ENRICHED_PRODUCT_REVIEWS = zones(
    paths.PRODUCT_REVIEWS, Zone.RAW, Zone.CURATED, Zone.ENRICHED
)
CURATED_PRODUCT_CATALOG = lake_asset(Zone.CURATED, paths.PRODUCT_CATALOG)
PRODUCT_REVIEW_MAP = lake_asset(Zone.CURATED, paths.PRODUCT_REVIEW_MAP)
ENRICHED_REVIEW_SENTIMENT = lake_asset(Zone.ENRICHED, paths.PRODUCT_REVIEW_SENTIMENT)
REVIEW_SENTIMENT_MODEL = lake_asset(Zone.MODEL, paths.REVIEW_SENTIMENT_MODEL)


def results_asset(dataset: str) -> Asset:
    """Asset of a published results dataset (written under ``SHOPLAKE_RESULTS_ROOT``, ``<lake>/results`` by
    default), the same whatever that root."""
    return Asset(name=f"{Zone.RESULTS.value}.{dataset}", uri=f"{SCHEME}://results/{dataset}", group="lake")


#: the published CSV + Parquet copy of the five-class review sentiment
REVIEW_SENTIMENT_RESULTS = results_asset(paths.PRODUCT_REVIEW_SENTIMENT)
#: e-commerce tweets (raw, curated), their sentence embeddings, the engagement model
RAW_TWEETS, CURATED_TWEETS = zones(paths.TWEETS, Zone.RAW, Zone.CURATED)
TWEET_EMBEDDINGS = lake_asset(Zone.ENRICHED, paths.TWEET_EMBEDDINGS)
TWEET_ENGAGEMENT_MODEL = lake_asset(Zone.MODEL, paths.TWEET_ENGAGEMENT_MODEL)
#: the files under the lake's Delta tables: what ``lake_maintenance`` compacts and vacuums (no row changes, so no
#: consumer of a dataset is triggered by it)
LAKE_TABLE_FILES = Asset(name="maintenance.table_files", uri=f"{SCHEME}://lake/maintenance/table_files", group="lake")
