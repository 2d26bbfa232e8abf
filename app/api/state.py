"""What the routes share: settings, the model registry, limits, the forecast log,
draining flag."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated

from fastapi import Depends, Request

from app.api.forecast_log import ForecastLog
from app.config import Settings
from app.runtime.registry import ModelRegistry
from app.runtime.service import Limits


@dataclass
class ServiceState:
    """Lives on ``app.state.service`` for the app's lifetime."""

    settings: Settings
    registry: ModelRegistry
    limits: Limits
    forecast_log: ForecastLog | None = None
    draining: bool = False

    def not_ready_reasons(self) -> list[str]:
        """Empty when every model is loaded and warm and the server is not draining."""
        reasons = ["draining: the server is shutting down"] if self.draining else []
        return reasons + self.registry.readiness()


def limits_from(settings: Settings) -> Limits:
    """The request limits a Settings object configures."""
    return Limits(
        max_series=settings.max_series,
        max_values_per_series=settings.max_values_per_series,
        max_horizon=settings.max_horizon,
        max_num_samples=settings.max_num_samples,
        max_compute_rows=settings.max_compute_rows,
        max_response_bytes=settings.max_response_bytes,
    )


async def get_state(request: Request) -> ServiceState:
    """Dependency: the service state of this app (async: a sync dependency costs a
    thread-pool round trip on every request)."""
    state: ServiceState = request.app.state.service
    return state


State = Annotated[ServiceState, Depends(get_state)]
