"""Steam store review responses: saved files or the live endpoint.

The store endpoint (``/appreviews/<appid>?json=1``) answers pages of ``{"reviews": [...], "cursor": ...}``;
the saved sample (``steamreviews`` package format) holds ``{"reviews": {"<recommendationid>": {...}}}`` per app,
with the app id only in the file name (``review_<appid>.json[.gz]``). Both come out as the same records.
"""

from __future__ import annotations

import gzip
import json
import logging
import re
import urllib.parse
import urllib.request
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

log = logging.getLogger(__name__)

_FILE_RE = re.compile(r"^review_(\d+)\.json(\.gz)?$")


@dataclass(frozen=True)
class SourceRecord:
    """One review as the source gave it, with where it came from.

    A source file that cannot be read at all (empty, truncated, not a review response) comes out as one record
    with ``error`` set and no review, so the loader quarantines the file with its name and reason and the other
    files still load.
    """

    appid: int
    review: Any  # normally a dict; anything else is quarantined downstream
    source: str
    error: str = ""


class SourceError(ValueError):
    """A source file or response that cannot be read at all."""


def _reviews_of(payload: Any, source: str) -> list[Any]:
    if not isinstance(payload, dict) or "reviews" not in payload:
        raise SourceError(f"{source}: not a Steam review response (no 'reviews' key)")
    reviews = payload["reviews"]
    if isinstance(reviews, dict):
        return list(reviews.values())
    if isinstance(reviews, list):
        return reviews
    raise SourceError(f"{source}: 'reviews' is a {type(reviews).__name__}, expected an object or a list")


def read_saved_responses(source_dir: str | Path) -> Iterator[SourceRecord]:
    """Yield every review of every ``review_<appid>.json[.gz]`` file under ``source_dir``, in file order.

    A file that is not JSON (empty, truncated) or not a review response yields one record with ``error`` set
    (logged as a warning) instead of stopping the source.

    Raises:
        FileNotFoundError: the directory does not exist or holds no review file.
    """
    root = Path(source_dir)
    files = sorted(p for p in root.glob("review_*.json*") if _FILE_RE.match(p.name)) if root.is_dir() else []
    if not files:
        raise FileNotFoundError(f"no review_<appid>.json[.gz] files in {root}; set SHOPLAKE_STEAM_SOURCE")
    for path in files:
        appid = int(_FILE_RE.match(path.name).group(1))  # type: ignore[union-attr]
        opener = gzip.open if path.suffix == ".gz" else open
        try:
            with opener(path, "rt", encoding="utf-8") as fh:
                payload = json.load(fh)
            reviews = _reviews_of(payload, path.name)
        except (OSError, EOFError, ValueError) as exc:  # SourceError is a ValueError
            reason = str(exc) if isinstance(exc, SourceError) else f"{path.name}: unreadable review response: {exc}"
            log.warning("skipping source file %s: %s", path, reason)
            yield SourceRecord(appid=appid, review=None, source=path.name, error=reason)
            continue
        for review in reviews:
            yield SourceRecord(appid=appid, review=review, source=path.name)


def _http_get_json(url: str, timeout: float = 30.0) -> Any:
    req = urllib.request.Request(url, headers={"User-Agent": "shoplake/0.1"})
    with urllib.request.urlopen(req, timeout=timeout) as resp:
        return json.load(resp)


def fetch_api_reviews(
    app_ids: tuple[int, ...],
    *,
    start_ts: int,
    url_template: str,
    language: str = "english",
    max_pages: int = 1000,
    get_json: Callable[[str], Any] = _http_get_json,
) -> Iterator[SourceRecord]:
    """Page through the live endpoint, newest first, until reviews are older than ``start_ts``.

    ``filter=recent`` sorts by creation time, so once a page ends before the window starts there is nothing
    newer to find for that app. Reviews after the window are yielded too; the loader drops them by window.
    """
    for appid in app_ids:
        cursor = "*"
        for page in range(max_pages):
            query = urllib.parse.urlencode(
                {"json": 1, "filter": "recent", "language": language, "num_per_page": 100, "cursor": cursor}
            )
            url = f"{url_template.format(appid=appid)}?{query}"
            payload = get_json(url)
            if not isinstance(payload, dict) or payload.get("success") not in (1, True):
                raise SourceError(f"{url}: endpoint answered without success: {str(payload)[:200]}")
            reviews = _reviews_of(payload, url)
            for review in reviews:
                yield SourceRecord(appid=appid, review=review, source=f"api:{appid}:page{page}")
            created = [r.get("timestamp_created") for r in reviews if isinstance(r, dict)]
            oldest = min((c for c in created if isinstance(c, int)), default=None)
            next_cursor = payload.get("cursor")
            if not reviews or next_cursor in (None, cursor) or (oldest is not None and oldest < start_ts):
                break
            cursor = next_cursor
        log.info("fetched app %s from the live endpoint", appid)
