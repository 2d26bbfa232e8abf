"""Liveness, readiness and the Prometheus scrape endpoint (never behind auth)."""

from __future__ import annotations

from fastapi import APIRouter
from starlette.responses import JSONResponse, Response

from app.api import metrics
from app.api.schemas import HealthResponse
from app.api.state import State

router = APIRouter(tags=["operations"])


@router.get("/health/live", response_model=HealthResponse, summary="Liveness")
async def live() -> HealthResponse:
    """200 while the process can answer."""
    return HealthResponse(status="live")


@router.get("/health/ready", response_model=HealthResponse,
            responses={503: {"model": HealthResponse}}, summary="Readiness")
async def ready(state: State) -> Response:
    """200 once every model is loaded and warm; 503 with the reasons while loading,
    after a failed load, and while draining."""
    reasons = state.not_ready_reasons()
    if reasons:
        return JSONResponse({"status": "not ready", "reasons": reasons}, 503)
    return JSONResponse({"status": "ready", "reasons": []})


@router.get("/metrics", summary="Prometheus metrics",
            responses={200: {"content": {"text/plain": {}}}}, response_class=Response)
async def scrape(state: State) -> Response:
    """Prometheus text exposition, aggregated over worker processes."""
    body, content_type = metrics.render(ready=not state.not_ready_reasons())
    return Response(body, media_type=content_type)
