"""Every Asset of the platform, defined once. Names are ``<zone>.<dataset>``; URIs point at the dataset root."""

from __future__ import annotations

from typing import NamedTuple

from airflow.sdk import Asset

from shoplake.ml.churn_config import ChurnJobConfig
from shoplake.paths import Zone, dataset_path
from shoplake.transforms.churn_sources import SOURCES
from shoplake_airflow.settings import settings


def lake_asset(zone: Zone, dataset: str) -> Asset:
    """Asset of one lake dataset; a local lake root becomes a ``file://`` URI."""
    root = dataset_path(settings().lake_root, zone, dataset)
    uri = root if "://" in root else f"file://{root}"
    return Asset(name=f"{zone.value}.{dataset}", uri=uri, group="lake")


RAW_STEAM_REVIEWS = lake_asset(Zone.RAW, "steam_reviews")
CURATED_STEAM_REVIEWS = lake_asset(Zone.CURATED, "steam_reviews")
ENRICHED_STEAM_REVIEWS = lake_asset(Zone.ENRICHED, "steam_reviews")
SENTIMENT_MODEL = lake_asset(Zone.MODEL, "sentiment_head")
ENRICHED_STEAM_PURCHASE_FEATURES = lake_asset(Zone.ENRICHED, "steam_purchase_features")
STEAM_PURCHASE_MODEL = lake_asset(Zone.MODEL, "steam_purchase")


class ChurnAssets(NamedTuple):
    """The datasets one churn pipeline produces."""

    curated: Asset
    features: Asset
    model: Asset
    predictions: Asset


def _churn_assets(source: str) -> ChurnAssets:
    names = ChurnJobConfig(source=source, ds="2000-01-01", lake_root=settings().lake_root)
    return ChurnAssets(
        curated=lake_asset(Zone.CURATED, names.events_dataset),
        features=lake_asset(Zone.ENRICHED, names.features_dataset),
        model=lake_asset(Zone.MODEL, names.model_name),
        predictions=lake_asset(Zone.ENRICHED, names.predictions_dataset),
    )


#: per churn source (sparkify, telco, clickstream)
CHURN_ASSETS = {source: _churn_assets(source) for source in SOURCES}
