"""The long forms of POST /v1/forecast and /v1/forecast/rolling: rows in (JSON rows,
CSV or Parquet), rows out (JSON rows, CSV or Parquet, by Accept). The forecast
routes hand a request here when its body is in a long form."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response

from app.api import forecast_log, metrics
from app.api.frame_requests import interval_spec, read_posted, rows_meta
from app.api.frame_schemas import ForecastRowsRequest, RollingRowsOptions, RollingRowsRequest, RowsOptions
from app.api.heavy import job_context, request_deadline
from app.api.state import ServiceState
from app.api.tables import answer_rows
from app.runtime import frame_forecast


async def forecast_rows(request: Request, body: bytes) -> Response:
    """One-step forecast of each series in the rows: ``unique_id, ds, mean``."""
    posted = await read_posted(request, body, ForecastRowsRequest, RowsOptions)
    table = await frame_forecast.next_values(posted.model, posted.panel, request_deadline(request))
    forecaster = posted.model.forecaster
    count = len(posted.panel.names)
    metrics.count_forecast(forecaster.name, "one_step", count, count)
    forecast_log.record(request, forecaster, "one_step", forecast_log.rows_forecasts(posted.panel, table, 1))
    meta = rows_meta(forecaster, posted.panel, posted.params.fill, None)
    return await answer_rows(table, meta, posted.answer)


async def rolling_rows(request: Request, body: bytes) -> Response:
    """``horizon`` steps of each series in the rows, with quantiles and intervals."""
    state: ServiceState = request.app.state.service
    posted = await read_posted(request, body, RollingRowsRequest, RollingRowsOptions)
    params = posted.params
    spec = interval_spec(params)
    async with job_context(request) as context:
        table = await frame_forecast.ahead(
            posted.model, posted.panel, params.horizon, spec, params.seed, state.limits, context
        )
    forecaster = posted.model.forecaster
    count = len(posted.panel.names)
    metrics.count_forecast(forecaster.name, "rolling", count, count * params.horizon)
    forecast_log.record(
        request, forecaster, "rolling", forecast_log.rows_forecasts(posted.panel, table, params.horizon)
    )
    meta = rows_meta(forecaster, posted.panel, params.fill, spec.method if spec.wanted else None)
    return await answer_rows(table, meta, posted.answer)
