"""POST /v1/forecast/backtest: forecasts from several cut-offs beside the actuals, scored."""

from __future__ import annotations

from fastapi import APIRouter, Depends, Request
from starlette.responses import Response

from app.api import metrics
from app.api.auth import require_api_key
from app.api.frame_requests import interval_spec, read_posted, rows_meta
from app.api.frame_schemas import BacktestOptions, BacktestRequest, BacktestResponse
from app.api.heavy import job_context
from app.api.openapi import answer_spec, body_spec
from app.api.routes.forecast import ERRORS
from app.api.state import ServiceState
from app.api.tables import answer_rows, json_rows
from app.runtime import backtest as use_case

router = APIRouter(prefix="/v1", tags=["forecast"], dependencies=[Depends(require_api_key)])


@router.post(
    "/forecast/backtest",
    response_model=None,
    responses={**ERRORS, 200: answer_spec(BacktestResponse)},
    summary="Backtest the served model on the posted series",
    openapi_extra=body_spec(BacktestRequest, tables=BacktestOptions),
)
async def backtest(request: Request) -> Response:
    """Forecast `h` steps from `n_windows` cut-offs per series (`step_size` apart, the last
    ending at the series' end) with the frozen model, beside the actual values; MAE, RMSE,
    sMAPE, MASE and interval coverage per series and overall."""
    state: ServiceState = request.app.state.service
    posted = await read_posted(request, await request.body(), BacktestRequest, BacktestOptions)
    params = posted.params
    spec = use_case.BacktestSpec(
        params.h, params.n_windows, params.step_size, params.season_length, interval_spec(params), params.seed
    )
    async with job_context(request) as context:
        result = await use_case.backtest(posted.model, posted.panel, spec, state.limits, context)
    forecaster = posted.model.forecaster
    count = len(posted.panel.names)
    metrics.count_forecast(forecaster.name, "backtest", count, count * spec.n_windows * spec.horizon)
    meta = rows_meta(forecaster, posted.panel, params.fill, spec.intervals.method if spec.intervals.wanted else None)
    meta["metrics"] = {"series": json_rows(result.metrics), "overall": result.scores.overall}
    return await answer_rows(result.rows, meta, posted.answer)
