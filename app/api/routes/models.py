"""GET /v1/models, GET /v1/models/{name} (and its training plots), POST /v1/models/{name}/reload."""

from __future__ import annotations

import dataclasses
import re
from typing import Any

from fastapi import APIRouter, Depends
from fastapi.concurrency import run_in_threadpool
from starlette.responses import FileResponse

from app.api.auth import require_api_key
from app.api.errors import ApiError
from app.api.routes.forecast import ERRORS
from app.api.schemas import ModelInfo, ModelsResponse
from app.api.state import State
from app.runtime.registry import ModelState

router = APIRouter(prefix="/v1/models", tags=["models"], dependencies=[Depends(require_api_key)])

# The images `rnncast train` writes beside model.pt (loss.png, test.png); nothing else
# in the model's directory is served.
_PLOT = re.compile(r"^[A-Za-z0-9_-]{1,64}\.png$")


def plots_of(state: ModelState) -> list[str]:
    """File names of the training report's plots beside the model file."""
    return sorted(p.name for p in state.path.parent.glob("*.png") if _PLOT.match(p.name))


def describe(state: ModelState) -> ModelInfo:
    """A model's wire description."""
    info: dict[str, Any] = {"name": state.name, "status": state.status, "reason": state.reason,
                            "ready": state.status == "ready", "plots": plots_of(state)}
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


@router.get(
    "/{name}/plots/{plot}",
    response_class=FileResponse,
    responses={**ERRORS, 200: {"content": {"image/png": {}}, "description": "The PNG image."}},
    summary="One of the model's training plots",
)
async def get_plot(name: str, plot: str, state: State) -> FileResponse:
    """A PNG from the model's training report, by a file name listed in its `plots`."""
    model = state.registry.state(name)
    plots = plots_of(model)
    if plot not in plots:
        raise ApiError(404, "plot-not-found", "Plot not found",
                       f"model {name!r} has no plot {plot!r}; it has: {', '.join(plots) or 'none'}")
    return FileResponse(model.path.parent / plot, media_type="image/png")


@router.post("/{name}/reload", response_model=ModelInfo, responses={**ERRORS, 409: ERRORS[422]},
             summary="Reload a model from its file")
async def reload_model(name: str, state: State) -> ModelInfo:
    """Load the model file again; if that fails the previous version keeps serving (409)."""
    state.registry.state(name)  # 404 for an unknown name
    reason = await run_in_threadpool(state.registry.reload, name)
    if reason is not None:
        outcome = "the previous version keeps serving" if state.registry.state(name).model else "no version is loaded"
        raise ApiError(409, "reload-failed", "Reload failed", f"reloading {name!r} failed: {reason}; {outcome}")
    return describe(state.registry.state(name))
