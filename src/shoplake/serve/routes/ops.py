"""The page and the probes: ``/`` (pick a model, see a working example and the prediction), ``/healthz`` (the
process answers), ``/readyz`` (the lake is readable and a model can be served)."""

# no `from __future__ import annotations`: FastAPI resolves the annotations at run time

from importlib import resources
from typing import Any

from fastapi import APIRouter
from fastapi.responses import HTMLResponse, JSONResponse

from shoplake.serve.routes import Context

NOT_READY = {503: {"description": "the lake is unreadable or no model can be served (reason)"}}


def router(ctx: Context) -> APIRouter:
    r = APIRouter()

    @r.get("/", response_class=HTMLResponse, include_in_schema=False)
    def page() -> str:
        return resources.files("shoplake.serve").joinpath("page.html").read_text(encoding="utf-8")

    @r.get("/healthz", tags=["ops"])
    def healthz() -> dict[str, str]:
        return {"status": "ok"}

    @r.get("/readyz", tags=["ops"], responses=NOT_READY)
    def readyz() -> JSONResponse:
        return readiness(ctx)

    return r


def readiness(ctx: Context) -> JSONResponse:
    """200 when the lake is readable and at least one model can be served; 503 with the reason otherwise."""
    from shoplake.io.lake import filesystem

    lake_root = ctx.settings.lake_root
    try:
        fs, root = filesystem(lake_root)
        reachable = fs.exists(root)
    except Exception as exc:
        return JSONResponse({"ready": False, "reason": f"lake {lake_root} unreadable: {exc}"}, 503)
    if not reachable:
        return JSONResponse({"ready": False, "reason": f"lake {lake_root} does not exist"}, 503)
    status = ctx.store.status()
    models = {k: v["available"] for k, v in status.items()}
    ready = any(models.values())
    body: dict[str, Any] = {"ready": ready, "models": models}
    unavailable = {k: v["reason"] for k, v in status.items() if not v["available"]}
    if unavailable:
        body["unavailable"] = unavailable
    if not ready:
        body["reason"] = "no model can be served (unavailable: why each)"
    return JSONResponse(body, 200 if ready else 503)
