"""GET /v1/limits: what one request may hold, so clients can split big frames to fit."""

from __future__ import annotations

from fastapi import APIRouter, Depends

from app.api.auth import require_api_key
from app.api.frame_schemas import LimitsResponse
from app.api.routes.forecast import ERRORS
from app.api.state import State
from app.api.tables import MEDIA_TYPES

router = APIRouter(prefix="/v1", tags=["models"], dependencies=[Depends(require_api_key)])


@router.get("/limits", response_model=LimitsResponse, responses=ERRORS, summary="Request limits")
async def limits(state: State) -> LimitsResponse:
    """The configured per-request limits and the body and answer formats."""
    limits = state.limits
    return LimitsResponse(
        max_body_bytes=state.settings.max_body_bytes,
        max_series=limits.max_series,
        max_values_per_series=limits.max_values_per_series,
        max_horizon=limits.max_horizon,
        max_num_samples=limits.max_num_samples,
        max_compute_rows=limits.max_compute_rows,
        max_response_bytes=limits.max_response_bytes,
        request_formats=list(MEDIA_TYPES.values()),
        response_formats=list(MEDIA_TYPES.values()),
    )
