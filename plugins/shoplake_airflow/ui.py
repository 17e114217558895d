"""The Lake page of the Airflow UI: each model's current version, metrics and plots; each dataset's partitions.

A FastAPI app the API server mounts at ``/shoplake`` (``plugins/shoplake_ui.py`` registers it and an entry in the
UI's navigation). Every route needs a signed-in Airflow user (the UI's session cookie or a bearer token); the data
comes read-only from :mod:`shoplake.overview` on the configured lake (``SHOPLAKE_LAKE_ROOT``).

Routes: ``/`` (the HTML page), ``/api/models``, ``/api/models/{name}``, ``/api/models/{name}/plots/{file}``,
``/api/datasets?limit=&zone=``, and one day of a dataset at its latest or an older table version (read-only):
``/datasets/{zone}/{name}/{ds}?version=`` (HTML) and ``/api/datasets/{zone}/{name}/{ds}?version=&limit=``.
"""

from __future__ import annotations

import html
import logging
from dataclasses import asdict
from pathlib import Path
from typing import Annotated

from fastapi import Depends, FastAPI, HTTPException, Query, Request
from fastapi.responses import HTMLResponse, Response
from jinja2 import Environment, FileSystemLoader, select_autoescape

from shoplake import overview
from shoplake.paths import Zone
from shoplake.serve import errors
from shoplake_airflow.settings import settings

log = logging.getLogger(__name__)

URL_PREFIX = "/shoplake"
#: partitions listed per dataset unless the page asks for more
DEFAULT_PARTITIONS = 14
MAX_PARTITIONS = 400

_templates = Environment(
    loader=FileSystemLoader(Path(__file__).parent / "templates"), autoescape=select_autoescape(["html"])
)


async def signed_in_user(request: Request):
    """The Airflow user of the request: Airflow's own check (401 without a valid session cookie or bearer token).

    Airflow's API modules are imported here, on the first request, not when a task or the DAG processor loads the
    plugin.
    """
    from airflow.api_fastapi.core_api.security import get_user
    from fastapi.security import HTTPAuthorizationCredentials
    from fastapi.security.utils import get_authorization_scheme_param

    scheme, token = get_authorization_scheme_param(request.headers.get("Authorization"))
    bearer = HTTPAuthorizationCredentials(scheme=scheme, credentials=token) if scheme and token else None
    return await get_user(request, None, bearer)


def _lake_root() -> str:
    return settings().lake_root


app = FastAPI(
    title="shoplake lake",
    description="Models and datasets of the shoplake lake",
    dependencies=[Depends(signed_in_user)],
)
# bad query or path values: 422 naming the field with a short excerpt; anything unexpected: JSON 500 with an id
errors.install(app, log)

Partitions = Annotated[int, Query(ge=1, le=MAX_PARTITIONS, description="latest partitions listed per dataset")]


def page_limit(raw: str | None) -> tuple[int, str]:
    """The page's ``limit`` and a notice for a person when the value they gave was not one: a page answers a bad
    value with the page and what it did, not a JSON 422 (the JSON routes keep their 422)."""
    if raw is None or raw == "":
        return DEFAULT_PARTITIONS, ""
    try:
        asked = int(raw)
    except ValueError:
        shown = errors.excerpt(raw, 40)
        return DEFAULT_PARTITIONS, f"limit={shown!r} is not a number of partitions: showing {DEFAULT_PARTITIONS}"
    if asked < 1 or asked > MAX_PARTITIONS:
        shown = min(max(asked, 1), MAX_PARTITIONS)
        return shown, f"limit={asked} is outside 1–{MAX_PARTITIONS} partitions per dataset: showing {shown}"
    return asked, ""


@app.get("/", response_class=HTMLResponse)
def page(request: Request, limit: str | None = None) -> str:
    """The Lake page: models first, then datasets zone by zone."""
    limit, notice = page_limit(limit)
    lake_root = _lake_root()
    datasets = overview.datasets(lake_root, limit=limit)
    return _templates.get_template("lake.html").render(
        base=f"{request.scope.get('root_path', '').rstrip('/')}/",
        lake_root=lake_root,
        models=overview.models(lake_root),
        zones=[(zone.value, [d for d in datasets if d.zone == zone.value]) for zone in overview.DATA_ZONES],
        limit=limit,
        notice=notice,
        more=min(limit * 4, MAX_PARTITIONS),
        fmt=_fmt,
    )


@app.get("/api/models")
def models() -> list[dict]:
    """Every model: current version, gating metric, versions, the current version's metrics and plot names."""
    return [m.to_dict() for m in overview.models(_lake_root())]


@app.get("/api/models/{name}")
def model(name: str) -> dict:
    try:
        return overview.model(_lake_root(), name).to_dict()
    except KeyError as exc:
        raise HTTPException(status_code=404, detail=str(exc).strip("'\"")) from None


@app.get("/api/models/{name}/plots/{plot}", response_class=Response)
def plot(name: str, plot: str) -> Response:
    """A PNG of the model's current version (only files listed in its summary)."""
    try:
        data = overview.plot_bytes(_lake_root(), name, plot)
    except KeyError as exc:
        raise HTTPException(status_code=404, detail=str(exc).strip("'\"")) from None
    return Response(content=data, media_type="image/png", headers={"Cache-Control": "no-cache"})


@app.get("/api/datasets")
def datasets(limit: Partitions = DEFAULT_PARTITIONS, zone: Zone | None = None) -> list[dict]:
    """Datasets with their latest partitions: rows, quarantined rows, the writing step's counts."""
    zones = (zone,) if zone else overview.DATA_ZONES
    return [asdict(d) for d in overview.datasets(_lake_root(), limit=limit, zones=zones)]


Version = Annotated[int | None, Query(ge=0, description="table version to read (default: the latest)")]
HeadRows = Annotated[int, Query(ge=1, le=500, description="rows of the day shown")]


def _day(zone: Zone, name: str, ds: str, version: int | None, limit: int) -> overview.DayPreview:
    try:
        return overview.day_preview(_lake_root(), zone, name, ds, version=version, limit=limit)
    except ValueError as exc:  # a ds that is not a date, a name that is not a dataset's
        raise HTTPException(status_code=422, detail=str(exc)) from None
    except KeyError as exc:
        raise HTTPException(status_code=404, detail=str(exc).strip("'\"")) from None


@app.get("/api/datasets/{zone}/{name}/{ds}")
def day(zone: Zone, name: str, ds: str, version: Version = None, limit: HeadRows = 50) -> dict:
    """The first rows of one day of a dataset at the table's latest version or ``version`` (read-only)."""
    return asdict(_day(zone, name, ds, version, limit))


@app.get("/datasets/{zone}/{name}/{ds}", response_class=HTMLResponse)
def day_page(request: Request, zone: str, name: str, ds: str, version: str | None = None,
             limit: str | None = None) -> HTMLResponse:  # fmt: skip
    """One day of a dataset as a page, at the latest table version or an older one. A person's typo (a zone,
    table, day or version that is not there, a value that is not a number) gets a page that says what to give
    and links back, with the status the JSON view answers (404 or 422), never raw JSON."""
    base = f"{request.scope.get('root_path', '').rstrip('/')}/"
    try:
        z = Zone(zone)
    except ValueError:
        zones = ", ".join(z.value for z in Zone)
        return _error_page(base, 404, f"There is no zone {errors.excerpt(zone, 40)!r}: the zones are {zones}.")
    try:
        asked_version = _page_number(version, "version", 0, None)
        rows = _page_number(limit, "limit", 1, 500)
    except ValueError as exc:
        return _error_page(base, 422, str(exc))
    try:
        preview = overview.day_preview(_lake_root(), z, name, ds, version=asked_version, limit=rows or 50)
    except ValueError as exc:  # a ds that is not a date, a name that is not a dataset's
        return _error_page(base, 422, f"{exc}. Give the day as YYYY-MM-DD, e.g. 2019-03-01.")
    except KeyError as exc:
        what = str(exc).strip("'\"")
        return _error_page(base, 404, f"{what}. The Lake page lists every table and its days.")
    return HTMLResponse(_templates.get_template("day.html").render(base=base, d=preview, fmt=_fmt))


def _page_number(raw: str | None, name: str, low: int, high: int | None) -> int | None:
    """A page's number parameter: None when not given, else the number.

    Raises:
        ValueError: not a whole number within ``low``–``high``; the message says what to give.
    """
    if raw is None or raw == "":
        return None
    span = f"{low}–{high}" if high is not None else f"{low} or more"
    try:
        value = int(raw)
    except ValueError:
        raise ValueError(f"{name}={errors.excerpt(raw, 40)!r} is not a number: give a whole number ({span}).") from None
    if value < low or (high is not None and value > high):
        raise ValueError(f"{name}={value} is out of range: give a whole number ({span}).")
    return value


def _error_page(base: str, status: int, message: str) -> HTMLResponse:
    body = _templates.get_template("error.html").render(base=base, status=status, message=message)
    return HTMLResponse(body, status_code=status)


def _fmt(value: object) -> str:
    """Numbers for people: 4 significant digits for floats, thousands separators for ints, ``—`` for none."""
    if value is None:
        return "—"
    if isinstance(value, bool):
        return str(value)
    if isinstance(value, int):
        return f"{value:,}"
    if isinstance(value, float):
        return f"{int(value):,}" if value.is_integer() and abs(value) < 1e15 else f"{value:.4g}"
    return html.escape(str(value))
