"""Open Inference Protocol (KServe v2 / Triton REST) beside v1, so stock clients can call.

Inference takes the same path as ``POST /v1/forecast`` (the model's dynamic batcher),
so the numbers are the same. Errors are the protocol's ``{"error": "..."}`` (rendered by
app.api.errors for every ``/v2`` path). Health endpoints need no API key.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from fastapi import APIRouter, Depends, Request
from starlette.responses import Response

from app.api import forecast_log, metrics, tracing, v2_codec
from app.api.auth import require_api_key
from app.api.errors import ApiError
from app.api.forecast_log import LoggedForecast
from app.api.heavy import request_deadline
from app.api.openapi import body_spec
from app.api.state import ServiceState, State
from app.api.v2_schemas import (
    ErrorResponse,
    InferenceRequest,
    InferenceResponse,
    LiveResponse,
    ModelMetadataResponse,
    ModelReadyResponse,
    ReadyResponse,
    ServerMetadataResponse,
    TensorMetadata,
)
from app.runtime import service
from app.runtime.errors import (
    HorizonTooLongError,
    InvalidSeriesError,
    LimitExceededError,
)
from app.runtime.registry import LoadedModel

SERVER_NAME = "rnncast"
EXTENSIONS = ["binary_tensor_data"]
PLATFORM = "pytorch_torchscript"

_ERROR = {"model": ErrorResponse, "content": {"application/json": {}}}
ERRORS: dict[int | str, dict[str, Any]] = dict.fromkeys((400, 401, 404, 413, 503, 504), _ERROR)
_INFER_DOC = {
    "description": "The forecasts, as JSON; with binary outputs asked for, a JSON header of "
    "`Inference-Header-Content-Length` bytes followed by the raw little-endian float32 values.",
    "content": {"application/octet-stream": {"schema": {"type": "string", "format": "binary"}}},
    "headers": {
        "Inference-Header-Content-Length": {
            "description": "Present on binary responses: the byte length of the JSON header.",
            "schema": {"type": "integer", "minimum": 0},
        }
    },
}

router = APIRouter(prefix="/v2", tags=["open inference protocol"])
_guarded = [Depends(require_api_key)]


@router.get("/health/live", response_model=LiveResponse, summary="Server live")
async def server_live() -> LiveResponse:
    """200 while the process can answer."""
    return LiveResponse(live=True)


@router.get(
    "/health/ready", response_model=ReadyResponse, responses={503: _ERROR}, summary="Server ready"
)
async def server_ready(state: State) -> ReadyResponse:
    """200 once every model is loaded and warm; 503 with the reasons otherwise."""
    reasons = state.not_ready_reasons()
    if reasons:
        raise ApiError(
            503,
            "not-ready",
            "Not ready",
            "not ready: " + "; ".join(reasons),
            headers={"Retry-After": "1"},
        )
    return ReadyResponse(ready=True)


@router.get(
    "",
    response_model=ServerMetadataResponse,
    responses=ERRORS,
    dependencies=_guarded,
    summary="Server metadata",
)
async def server_metadata(request: Request) -> ServerMetadataResponse:
    """Name, version and the protocol extensions this server supports."""
    return ServerMetadataResponse(
        name=SERVER_NAME, version=request.app.version, extensions=EXTENSIONS
    )


def _model(state: ServiceState, name: str, version: str | None) -> LoadedModel:
    """The ready model; 404 unknown name or version, 503 not ready."""
    model = state.registry.get(name)
    served = model.forecaster.metadata.version
    if version is not None and version != served:
        raise ApiError(
            404,
            "version-not-found",
            "Version not found",
            f"model {name!r} has no version {version!r}; it serves version {served!r}",
        )
    return model


def _metadata(state: ServiceState, name: str, version: str | None) -> ModelMetadataResponse:
    forecaster = _model(state, name, version).forecaster
    return ModelMetadataResponse(
        name=name,
        versions=[forecaster.metadata.version],
        platform=PLATFORM,
        inputs=[
            TensorMetadata(
                name=v2_codec.INPUT_NAME, datatype=v2_codec.DATATYPE, shape=[-1, forecaster.window]
            )
        ],
        outputs=[TensorMetadata(name=v2_codec.OUTPUT_NAME, datatype=v2_codec.DATATYPE, shape=[-1])],
    )


@router.get(
    "/models/{name}",
    response_model=ModelMetadataResponse,
    responses=ERRORS,
    dependencies=_guarded,
    summary="Model metadata",
)
async def model_metadata(name: str, state: State) -> ModelMetadataResponse:
    """The model's input `[-1, window]` and output `[-1]`, both FP32."""
    return _metadata(state, name, None)


@router.get(
    "/models/{name}/versions/{version}",
    response_model=ModelMetadataResponse,
    responses=ERRORS,
    dependencies=_guarded,
    summary="Model metadata (one version)",
)
async def model_version_metadata(name: str, version: str, state: State) -> ModelMetadataResponse:
    """As `GET /v2/models/{name}`, for the version the model serves."""
    return _metadata(state, name, version)


def _ready(state: ServiceState, name: str, version: str | None) -> ModelReadyResponse:
    _model(state, name, version)
    return ModelReadyResponse(name=name, ready=True)


@router.get(
    "/models/{name}/ready",
    response_model=ModelReadyResponse,
    responses=ERRORS,
    dependencies=_guarded,
    summary="Model ready",
)
async def model_ready(name: str, state: State) -> ModelReadyResponse:
    """200 when the model is loaded and warm; 503 while it loads or after it failed."""
    return _ready(state, name, None)


@router.get(
    "/models/{name}/versions/{version}/ready",
    response_model=ModelReadyResponse,
    responses=ERRORS,
    dependencies=_guarded,
    summary="Model ready (one version)",
)
async def model_version_ready(name: str, version: str, state: State) -> ModelReadyResponse:
    """As `GET /v2/models/{name}/ready`, for the version the model serves."""
    return _ready(state, name, version)


@contextmanager
def _as_bad_request() -> Iterator[None]:
    """The protocol answers every refused input with 400 (v1 uses 422)."""
    try:
        yield
    except (InvalidSeriesError, LimitExceededError, HorizonTooLongError) as exc:
        raise v2_codec.bad_request(exc.message) from None


async def _infer(request: Request, state: ServiceState, name: str, version: str | None) -> Response:
    model = _model(state, name, version)
    forecaster = model.forecaster
    body = await request.body()
    with tracing.span("parse"):
        decoded = v2_codec.decode(body, request.headers.get(v2_codec.HEADER_LENGTH), forecaster.window)
    with _as_bad_request():
        service.check_count(len(decoded.windows), state.limits)
        predictions, batch_rows = await service.forecast_one_step(model, decoded.windows, request_deadline(request))
    request.state.batch_size = batch_rows
    metrics.count_forecast(forecaster.name, "one_step", len(predictions), len(predictions))
    forecast_log.record(request, forecaster, "one_step", (
        LoggedForecast(None, row, predictions[i : i + 1]) for i, row in enumerate(decoded.windows)
    ))
    with tracing.span("serialise"):
        return v2_codec.encode(name, forecaster.metadata.version, decoded, predictions)


_INFER_RESPONSES = {**ERRORS, 200: _INFER_DOC}
_INFER_BODY = body_spec(InferenceRequest)


@router.post(
    "/models/{name}/infer",
    response_model=InferenceResponse,
    responses=_INFER_RESPONSES,
    dependencies=_guarded,
    openapi_extra=_INFER_BODY,
    summary="Inference",
)
async def infer(name: str, request: Request, state: State) -> Response:
    """One-step forecasts for each row of the FP32 input `[batch, window]`. Inputs may be
    JSON `data` or binary (`parameters.binary_data_size` with the
    `Inference-Header-Content-Length` header); outputs are binary when asked for."""
    return await _infer(request, state, name, None)


@router.post(
    "/models/{name}/versions/{version}/infer",
    response_model=InferenceResponse,
    responses=_INFER_RESPONSES,
    dependencies=_guarded,
    openapi_extra=_INFER_BODY,
    summary="Inference (one version)",
)
async def infer_version(name: str, version: str, request: Request, state: State) -> Response:
    """As `POST /v2/models/{name}/infer`, for the version the model serves."""
    return await _infer(request, state, name, version)
