"""POST /v1/forecast and /v1/forecast/rolling."""

from __future__ import annotations

from typing import Any

import orjson
from fastapi import APIRouter, Depends, Request
from starlette.responses import Response

from app.api import forecast_log, metrics
from app.api.auth import require_api_key
from app.api.bodies import parse_body
from app.api.forecast_log import LoggedForecast
from app.api.heavy import job_context, request_deadline
from app.api.openapi import body_spec
from app.api.schemas import (
    ForecastRequest,
    ForecastResponse,
    ProblemDetail,
    RollingRequest,
    RollingResponse,
    SeriesIn,
    TimedSeriesIn,
)
from app.api.state import ServiceState
from app.runtime import service
from app.runtime.forecaster import Forecaster

router = APIRouter(prefix="/v1", tags=["forecast"], dependencies=[Depends(require_api_key)])

ERRORS: dict[int | str, dict[str, Any]] = {
    status: {"model": ProblemDetail, "content": {"application/problem+json": {}}}
    for status in (400, 401, 404, 413, 422, 503, 504)
}


def json_response(body: object) -> Response:
    """orjson with numpy support: float32 arrays serialise without a Python float each."""
    return Response(orjson.dumps(body, option=orjson.OPT_SERIALIZE_NUMPY), media_type="application/json")


def _model_ref(forecaster: Forecaster) -> dict[str, str]:
    return {"name": forecaster.name, "version": forecaster.metadata.version}


@router.post(
    "/forecast",
    response_model=ForecastResponse,
    responses=ERRORS,
    summary="One-step forecast for each series",
    openapi_extra=body_spec(ForecastRequest),
)
async def forecast(request: Request) -> Response:
    """Forecast the next value of each posted series (only the last `window` values are used)."""
    state: ServiceState = request.app.state.service
    limits = state.limits
    body = await parse_body(ForecastRequest, await request.body(), key="series", item=SeriesIn,
                            max_items=limits.max_series, max_values=limits.max_values_per_series)
    model = state.registry.get(body.model)
    windows = service.last_windows([s.values for s in body.series], model.forecaster.window, limits)
    predictions, batch_rows = await service.forecast_one_step(model, windows, request_deadline(request))
    request.state.batch_size = batch_rows
    metrics.count_forecast(model.forecaster.name, "one_step", len(windows), len(windows))
    forecast_log.record(request, model.forecaster, "one_step", (
        LoggedForecast(s.id, s.values, predictions[i : i + 1]) for i, s in enumerate(body.series)
    ))
    return json_response({
        "model": _model_ref(model.forecaster),
        "forecasts": [{"id": s.id, "value": v} for s, v in zip(body.series, predictions, strict=True)],
    })


@router.post(
    "/forecast/rolling",
    response_model=RollingResponse,
    responses=ERRORS,
    summary="Multi-step forecasts with optional intervals and walk-forward",
    openapi_extra=body_spec(RollingRequest),
)
async def forecast_rolling(request: Request) -> Response:
    """Recursive `horizon`-step forecasts; `quantiles` from simulated paths; `walk_forward` scores."""
    state: ServiceState = request.app.state.service
    limits = state.limits
    body = await parse_body(RollingRequest, await request.body(), key="series", item=TimedSeriesIn,
                            max_items=limits.max_series, max_values=limits.max_values_per_series)
    model = state.registry.get(body.model)
    series = [
        service.SeriesInput(service.to_array(s.values, i), s.id, s.start, s.freq)
        for i, s in enumerate(body.series)
    ]
    options = service.RollingOptions(
        horizon=body.horizon,
        quantiles=tuple(body.quantiles),
        num_samples=body.num_samples,
        seed=body.seed,
        walk_forward=body.walk_forward,
    )
    async with job_context(request) as context:
        results = await service.forecast_rolling(model, series, options, limits, context)
    metrics.count_forecast(model.forecaster.name, "rolling", len(series), len(series) * body.horizon)
    forecast_log.record(request, model.forecaster, "rolling", map(forecast_log.rolling_forecast, series, results))
    return json_response({
        "model": _model_ref(model.forecaster),
        "forecasts": [
            {
                "id": r.id,
                "mean": r.mean,
                "quantiles": r.quantiles,
                "timestamps": r.timestamps,
                "walk_forward": None if r.walk_forward is None else {
                    "first_index": r.walk_forward.first_index,
                    "predictions": r.walk_forward.predictions,
                    "mae": r.walk_forward.mae,
                    "rmse": r.walk_forward.rmse,
                },
            }
            for r in results
        ],
    })


# Answered by the request middleware directly (see app.api.middleware): the same
# endpoints, without per-request routing and dependency resolution.
DIRECT_ROUTES = {("POST", "/v1/forecast"): forecast, ("POST", "/v1/forecast/rolling"): forecast_rolling}
