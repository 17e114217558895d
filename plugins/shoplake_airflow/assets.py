"""Every Asset of the platform, defined once. Names are ``<zone>.<dataset>``; URIs point at the dataset root."""

from __future__ import annotations

from airflow.sdk import Asset

from shoplake.paths import Zone, dataset_path
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
