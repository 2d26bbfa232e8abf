"""POST /v1/anomalies: one-step in-sample forecasts, their interval, and a flag per point."""

from __future__ import annotations

from fastapi import APIRouter, Depends, Request
from starlette.responses import Response

from app.api import metrics
from app.api.auth import require_api_key
from app.api.frame_requests import read_posted, rows_meta
from app.api.frame_schemas import AnomaliesOptions, AnomaliesRequest, AnomaliesResponse
from app.api.heavy import job_context
from app.api.openapi import answer_spec, body_spec
from app.api.routes.forecast import ERRORS
from app.api.state import ServiceState
from app.api.tables import answer_rows
from app.runtime import anomaly

router = APIRouter(prefix="/v1", tags=["forecast"], dependencies=[Depends(require_api_key)])


@router.post(
    "/anomalies",
    response_model=None,
    responses={**ERRORS, 200: answer_spec(AnomaliesResponse)},
    summary="Flag posted points outside their one-step interval",
    openapi_extra=body_spec(AnomaliesRequest, tables=AnomaliesOptions),
)
async def anomalies(request: Request) -> Response:
    """Each point's one-step forecast from the actual values before it, its interval at
    `level` (default 99), and `anomaly` when the actual value falls outside; `newest`
    checks only each series' last points."""
    state: ServiceState = request.app.state.service
    posted = await read_posted(request, await request.body(), AnomaliesRequest, AnomaliesOptions)
    params = posted.params
    spec = anomaly.AnomalySpec(params.level, params.interval_method, params.newest)
    async with job_context(request) as context:
        table = await anomaly.detect(posted.model, posted.panel, spec, state.limits, context)
    forecaster = posted.model.forecaster
    metrics.count_forecast(forecaster.name, "anomalies", len(posted.panel.names), len(table))
    meta = rows_meta(forecaster, posted.panel, params.fill, spec.method)
    meta["anomalies"] = int(table.columns["anomaly"].sum())
    return await answer_rows(table, meta, posted.answer)
