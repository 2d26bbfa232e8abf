"""Wire models of the v1 API: ...Request in, ...Response out, examples included.

Size limits that are settings (series per request, values per series, horizon,
num_samples, compute budget) are checked by the runtime against the configured
values; the schema states the fixed rules (types, finiteness, ranges).
"""

from __future__ import annotations

import math
from datetime import datetime
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, JsonValue, field_validator

# Strict: a JSON number only (an integer literal is a number too); "5" and true are refused.
FiniteFloat = Annotated[float, Field(strict=True, allow_inf_nan=False)]

# 128 values, the shipped default model's window: the examples work as posted.
EXAMPLE_VALUES: list[JsonValue] = [round(math.sin(0.02 * t) + 1 + 0.6 * math.sin(2.7 * t), 3) for t in range(128)]


class _Wire(BaseModel):
    model_config = ConfigDict(extra="forbid")


class SeriesIn(_Wire):
    """One series to forecast."""

    id: str | None = Field(None, max_length=256, description="Your label, echoed back.", examples=["sensor-7"])
    values: list[FiniteFloat] = Field(
        ...,
        min_length=1,
        description="Observed values, oldest first, finite numbers. At least the model's "
        "`window` values; only the last `window` feed a forecast.",
        examples=[EXAMPLE_VALUES],
    )


class TimedSeriesIn(SeriesIn):
    """A series that may carry a start time and frequency for forecast timestamps."""

    start: datetime | None = Field(
        None, description="ISO 8601 time of the first value.", examples=["2026-01-01T00:00:00Z"]
    )
    freq: str | None = Field(
        None,
        max_length=16,
        description="Step between values: S, min, H, D, W, MS, ME, QS, QE, YS, YE (pandas "
        "aliases), optionally with a multiple such as 15min.",
        examples=["MS"],
    )


class ForecastRequest(_Wire):
    """One-step forecast for each posted series."""

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={"examples": [{"series": [{"id": "a", "values": EXAMPLE_VALUES}]}]},
    )
    series: list[SeriesIn] = Field(..., min_length=1, description="Series to forecast, answered in this order.")
    model: str | None = Field(None, max_length=128, description="Model name; default: `default`.", examples=["default"])


class RollingRequest(_Wire):
    """Multi-step (recursive) forecasts, optional intervals and walk-forward."""

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {
                    "series": [{"id": "a", "values": EXAMPLE_VALUES, "start": "2026-01-01", "freq": "D"}],
                    "horizon": 5,
                    "quantiles": [0.1, 0.5, 0.9],
                    "num_samples": 200,
                    "seed": 7,
                    "walk_forward": True,
                }
            ]
        },
    )
    series: list[TimedSeriesIn] = Field(..., min_length=1, description="Series to forecast, answered in this order.")
    model: str | None = Field(None, max_length=128, description="Model name; default: `default`.", examples=["default"])
    horizon: int = Field(
        ..., ge=1, strict=True, examples=[24],
        description="Steps beyond the end; each forecast is fed back as the newest value.",
    )
    quantiles: list[Annotated[float, Field(gt=0.0, lt=1.0, strict=True)]] = Field(
        default_factory=list,
        max_length=99,
        description="Quantile levels in (0, 1) for prediction intervals from simulated paths.",
        examples=[[0.1, 0.5, 0.9]],
    )
    num_samples: int = Field(
        100, ge=1, strict=True, description="Simulated paths per series when quantiles are asked.", examples=[200]
    )
    seed: int = Field(
        0, ge=0, le=2**63 - 1, strict=True, examples=[7],
        description="Seed of the simulated paths: same seed, same numbers.",
    )
    walk_forward: bool = Field(
        False, strict=True, description="Also return in-sample one-step forecasts and their MAE/RMSE."
    )

    @field_validator("quantiles")
    @classmethod
    def _distinct(cls, value: list[float]) -> list[float]:
        if len(set(value)) != len(value):
            raise ValueError("quantile levels must be distinct")
        return value


class ModelRef(_Wire):
    """Which model answered."""

    name: str = Field(..., examples=["default"])
    version: str = Field(..., examples=["1"])


class PointForecast(_Wire):
    """One series' next value."""

    id: str | None = Field(None, examples=["a"])
    value: float = Field(..., description="Forecast of the value after the last posted one.", examples=[1.37])


class ForecastResponse(_Wire):
    """One-step forecasts in the order posted."""

    model: ModelRef
    forecasts: list[PointForecast]


class WalkForwardOut(_Wire):
    """In-sample one-step forecasts, each from the actual values before it."""

    first_index: int = Field(..., description="Index (in the posted values) of the first prediction.", examples=[128])
    predictions: list[float] = Field(..., description="Forecasts of values[first_index:].")
    mae: float = Field(..., description="Mean absolute error against the actual values.")
    rmse: float = Field(..., description="Root mean squared error against the actual values.")


class RollingForecastOut(_Wire):
    """One series' multi-step answer."""

    id: str | None = Field(None, examples=["a"])
    mean: list[float] = Field(..., description="Recursive point forecasts, `horizon` long.")
    quantiles: dict[str, list[float]] | None = Field(
        None, description='Per level (e.g. "0.1"), `horizon` values from the simulated paths.'
    )
    timestamps: list[str] | None = Field(
        None, description="Times of the forecast steps, when start and freq were given."
    )
    walk_forward: WalkForwardOut | None = None


class RollingResponse(_Wire):
    """Multi-step forecasts in the order posted."""

    model: ModelRef
    forecasts: list[RollingForecastOut]


class ModelInfo(_Wire):
    """A configured model: its state and, once loaded, what it says about itself."""

    name: str
    status: Literal["loading", "ready", "failed"]
    reason: str | None = Field(None, description="Why the model is not ready.")
    ready: bool
    device: str | None = None
    sha256: str | None = None
    version: str | None = None
    window: int | None = None
    metadata: dict[str, object] | None = Field(None, description="The artifact's embedded metadata.json.")
    plots: list[str] = Field(
        default_factory=list,
        description="Training plots beside the model file, served at /v1/models/{name}/plots/{file}.",
        examples=[["loss.png", "test.png"]],
    )


class ModelsResponse(_Wire):
    """Every configured model."""

    models: list[ModelInfo]


class HealthResponse(_Wire):
    """Liveness or readiness, with the reasons when not ready."""

    status: Literal["live", "ready", "not ready"]
    reasons: list[str] = Field(default_factory=list)


class ProblemDetail(BaseModel):
    """RFC 9457 problem details, the body of every v1 error."""

    type: str = Field(..., examples=["urn:rnncast:problem:validation"])
    title: str = Field(..., examples=["Request validation failed"])
    status: int = Field(..., examples=[422])
    detail: str = Field(..., examples=["series[0].values: this model needs at least 128 values"])
    instance: str | None = Field(None, examples=["/v1/forecast"])
    errors: list[dict[str, object]] | None = Field(
        None, description="For validation errors: each bad field, the message and the limit it broke."
    )
