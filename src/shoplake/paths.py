"""Lake layout: the only place partition paths are built.

``<lake_root>/<zone>/<dataset>/ds=YYYY-MM-DD/``
"""

from __future__ import annotations

import datetime as dt
import re
from enum import StrEnum

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


def validate_ds(ds: str) -> str:
    """Return ``ds`` if it is a real calendar date written ``YYYY-MM-DD``, else raise ``ValueError``."""
    if not isinstance(ds, str) or not _DS_RE.match(ds):
        raise ValueError(f"ds must be YYYY-MM-DD, got {ds!r}")
    dt.date.fromisoformat(ds)
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
