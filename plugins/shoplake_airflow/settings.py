"""The platform settings, read once per process from ``SHOPLAKE_*`` environment variables."""

from __future__ import annotations

from functools import cache

from shoplake.config import Settings


@cache
def settings() -> Settings:
    """Settings of this process (cheap: environment reads only, safe at DAG parse time)."""
    return Settings.from_env()
