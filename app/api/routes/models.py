"""GET /v1/models, GET /v1/models/{name}, POST /v1/models/{name}/reload."""

from __future__ import annotations

import dataclasses
from typing import Any

from fastapi import APIRouter, Depends
from fastapi.concurrency import run_in_threadpool

from app.api.auth import require_api_key
from app.api.errors import ApiError
from app.api.routes.forecast import ERRORS
from app.api.schemas import ModelInfo, ModelsResponse
from app.api.state import State
from app.runtime.registry import ModelState

router = APIRouter(prefix="/v1/models", tags=["models"], dependencies=[Depends(require_api_key)])


def describe(state: ModelState) -> ModelInfo:
    """A model's wire description."""
    info: dict[str, Any] = {"name": state.name, "status": state.status, "reason": state.reason,
                            "ready": state.status == "ready"}
    if state.model is not None:
        forecaster = state.model.forecaster
        info |= {
            "device": str(forecaster.device),
            "sha256": forecaster.sha256,
            "version": forecaster.metadata.version,
            "window": forecaster.window,
            "metadata": dataclasses.asdict(forecaster.metadata),
        }
    return ModelInfo(**info)


@router.get("", response_model=ModelsResponse, responses=ERRORS, summary="List models")
async def list_models(state: State) -> ModelsResponse:
    """Every configured model with its state, device, sha256 and metadata."""
    return ModelsResponse(models=[describe(s) for s in state.registry.states()])


@router.get("/{name}", response_model=ModelInfo, responses=ERRORS, summary="Describe one model")
async def get_model(name: str, state: State) -> ModelInfo:
    """One model's state, device, sha256 and metadata."""
    return describe(state.registry.state(name))


@router.post("/{name}/reload", response_model=ModelInfo, responses={**ERRORS, 409: ERRORS[422]},
             summary="Reload a model from its file")
async def reload_model(name: str, state: State) -> ModelInfo:
    """Load the model file again; if that fails the previous version keeps serving (409)."""
    state.registry.state(name)  # 404 for an unknown name
    if not await run_in_threadpool(state.registry.reload, name):
        current = state.registry.state(name)
        raise ApiError(409, "reload-failed", "Reload failed",
                       f"reloading {name!r} failed; " + (
                           "the previous version keeps serving" if current.model else
                           f"the model is not loaded: {current.reason}"))
    return describe(state.registry.state(name))
