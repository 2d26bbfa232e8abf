"""POST /v1/forecast and /v1/forecast/rolling."""

from __future__ import annotations

from typing import Any

import orjson
from fastapi import APIRouter, Depends, Request
from starlette.responses import Response

from app.api import forecast_log, metrics, tracing
from app.api.auth import require_api_key
from app.api.forecast_log import LoggedForecast
from app.api.frame_requests import is_rows, json_request
from app.api.frame_schemas import ForecastRowsRequest, RollingRowsOptions, RollingRowsRequest, RowsOptions, RowsResponse
from app.api.heavy import job_context, request_deadline
from app.api.openapi import answer_spec, body_spec
from app.api.routes import rows
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
    for status in (400, 401, 404, 406, 413, 422, 503, 504)
}


def json_response(body: object) -> Response:
    """orjson with numpy support: float32 arrays serialise without a Python float each."""
    return Response(orjson.dumps(body, option=orjson.OPT_SERIALIZE_NUMPY), media_type="application/json")


def _model_ref(forecaster: Forecaster) -> dict[str, str]:
    return {"name": forecaster.name, "version": forecaster.metadata.version}


@router.post(
    "/forecast",
    response_model=None,
    responses={**ERRORS, 200: answer_spec(ForecastResponse, RowsResponse)},
    summary="One-step forecast for each series",
    openapi_extra=body_spec(ForecastRequest, ForecastRowsRequest, tables=RowsOptions),
)
async def forecast(request: Request) -> Response:
    """Forecast the next value of each posted series (only the last `window` values are used).
    Series come as `series` (answered as `forecasts`) or as long-format `rows`, CSV or Parquet
    (answered as rows `unique_id, ds, mean` in the format `Accept` asks for)."""
    state: ServiceState = request.app.state.service
    limits = state.limits
    raw = await request.body()
    if is_rows(request, raw):
        return await rows.forecast_rows(request, raw)
    with tracing.span("parse"):
        body = await json_request(request, raw, ForecastRequest, RowsOptions, key="series", item=SeriesIn,
                                  limits=limits)
    model = state.registry.get(body.model)
    windows = service.last_windows([s.values for s in body.series], model.forecaster.window, limits)
    predictions, batch_rows = await service.forecast_one_step(model, windows, request_deadline(request))
    request.state.batch_size = batch_rows
    metrics.count_forecast(model.forecaster.name, "one_step", len(windows), len(windows))
    forecast_log.record(request, model.forecaster, "one_step", (
        LoggedForecast(s.id, s.values, predictions[i : i + 1]) for i, s in enumerate(body.series)
    ))
    with tracing.span("serialise"):
        return json_response({
            "model": _model_ref(model.forecaster),
            "forecasts": [{"id": s.id, "value": v} for s, v in zip(body.series, predictions, strict=True)],
        })


@router.post(
    "/forecast/rolling",
    response_model=None,
    responses={**ERRORS, 200: answer_spec(RollingResponse, RowsResponse)},
    summary="Multi-step forecasts with optional intervals and walk-forward",
    openapi_extra=body_spec(RollingRequest, RollingRowsRequest, tables=RollingRowsOptions),
)
async def forecast_rolling(request: Request) -> Response:
    """Recursive `horizon`-step forecasts; `quantiles` and `level` intervals from simulated
    paths or conformal calibration; `walk_forward` scores (series form). Rows, CSV and
    Parquet bodies are answered as rows `unique_id, ds, mean, q-..., lo-L, hi-L`."""
    state: ServiceState = request.app.state.service
    limits = state.limits
    raw = await request.body()
    if is_rows(request, raw):
        return await rows.rolling_rows(request, raw)
    with tracing.span("parse"):
        body = await json_request(request, raw, RollingRequest, RollingRowsOptions, key="series",
                                  item=TimedSeriesIn, limits=limits)
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
        levels=tuple(body.level),
        interval_method=body.interval_method,
        calibration_windows=body.calibration_windows,
        calibration_step=body.calibration_step,
    )
    async with job_context(request) as context:
        results = await service.forecast_rolling(model, series, options, limits, context)
    metrics.count_forecast(model.forecaster.name, "rolling", len(series), len(series) * body.horizon)
    forecast_log.record(request, model.forecaster, "rolling", map(forecast_log.rolling_forecast, series, results))
    with tracing.span("serialise"):
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
                    "intervals": r.intervals,
                    "interval_method": r.interval_method,
                }
                for r in results
            ],
        })


# Answered by the request middleware directly (see app.api.middleware): the same
# endpoints, without per-request routing and dependency resolution.
DIRECT_ROUTES = {("POST", "/v1/forecast"): forecast, ("POST", "/v1/forecast/rolling"): forecast_rolling}
