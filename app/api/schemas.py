"""Wire models of the v1 API: ...Request in, ...Response out, examples included.

Size limits that are settings (series per request, values per series, horizon,
num_samples, compute budget) are checked by the runtime against the configured
values; the schema states the fixed rules (types, finiteness, ranges).
"""

from __future__ import annotations

import math
from datetime import datetime
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, GetPydanticSchema, JsonValue, model_validator
from pydantic_core import core_schema

# Strict: a JSON number only (an integer literal is a number too); "5" and true are refused.
FiniteFloat = Annotated[float, Field(strict=True, allow_inf_nan=False)]
# A series' values, validated as a list (its rules and error messages) and held as a
# tuple: the garbage collector stops tracking a tuple of floats, while every pass over
# a list of them visits each value. 8 MiB of series held as lists made each full
# collection, on the event loop, several times longer (bench/HOSTILE.md, big bodies).
SeriesValues = Annotated[tuple[FiniteFloat, ...], GetPydanticSchema(
    lambda _type, handler: core_schema.no_info_after_validator_function(
        tuple, handler(list[FiniteFloat]), serialization=core_schema.plain_serializer_function_ser_schema(list)))]
Level = Annotated[float, Field(gt=0.0, lt=100.0, strict=True)]
Quantile = Annotated[float, Field(gt=0.0, lt=1.0, strict=True)]

# 128 values, the shipped default model's window: the examples work as posted.
EXAMPLE_VALUES: list[JsonValue] = [round(math.sin(0.02 * t) + 1 + 0.6 * math.sin(2.7 * t), 3) for t in range(128)]


class _Wire(BaseModel):
    model_config = ConfigDict(extra="forbid")


class SeriesIn(_Wire):
    """One series to forecast."""

    id: str | None = Field(None, max_length=256, description="Your label, echoed back.", examples=["sensor-7"])
    values: SeriesValues = Field(
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


class IntervalOptions(_Wire):
    """Prediction intervals and quantiles, by simulated paths or conformal calibration."""

    level: list[Level] = Field(
        default_factory=list, max_length=20,
        description="Interval levels in percent: each gives `lo-L` and `hi-L`.", examples=[[80, 95]],
    )
    quantiles: list[Quantile] = Field(
        default_factory=list, max_length=99, description="Quantile levels in (0, 1).", examples=[[0.1, 0.9]]
    )
    interval_method: Literal["paths", "conformal"] = Field(
        "paths",
        description="`paths`: quantiles of `num_samples` simulated paths (model calibration residuals, "
        "seeded per series). `conformal`: per-step absolute errors of `calibration_windows` backtest "
        "windows of the posted history, `calibration_step` apart.",
    )
    num_samples: int = Field(
        100, ge=1, strict=True, description="Simulated paths per series (`paths`).", examples=[200]
    )
    seed: int = Field(0, ge=0, le=2**63 - 1, strict=True, description="Seed of the simulated paths, combined "
                      "with each series' id: same seed, same numbers, whatever else is in the request.")
    calibration_windows: int | None = Field(
        None, ge=1, le=1000, strict=True,
        description="Backtest windows calibrating `conformal` intervals (19 or more for 95%); default: as many "
        "as the history allows, up to 50, and at least what the widest level needs.",
    )
    calibration_step: int = Field(
        1, ge=1, le=100_000, strict=True, description="Positions between calibration windows."
    )

    @model_validator(mode="after")
    def _distinct(self) -> IntervalOptions:
        if len(set(self.level)) != len(self.level) or len(set(self.quantiles)) != len(self.quantiles):
            raise ValueError("interval levels and quantiles must be distinct")
        return self


class ForecastRequest(_Wire):
    """One-step forecast for each posted series."""

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={"examples": [{"series": [{"id": "a", "values": EXAMPLE_VALUES}]}]},
    )
    series: list[SeriesIn] = Field(..., min_length=1, description="Series to forecast, answered in this order.")
    model: str | None = Field(None, max_length=128, description="Model name; default: `default`.", examples=["default"])


class RollingRequest(IntervalOptions):
    """Multi-step (recursive) forecasts, optional intervals and walk-forward."""

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {
                    "series": [{"id": "a", "values": EXAMPLE_VALUES, "start": "2026-01-01", "freq": "D"}],
                    "horizon": 5,
                    "quantiles": [0.1, 0.5, 0.9],
                    "level": [80],
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
    walk_forward: bool = Field(
        False, strict=True, description="Also return in-sample one-step forecasts and their MAE/RMSE."
    )


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
    intervals: dict[str, list[float]] | None = Field(
        None, description='Per band (e.g. "lo-80", "hi-80"), `horizon` values, when `level` was asked.'
    )
    interval_method: Literal["paths", "conformal"] | None = Field(
        None, description="How quantiles and intervals were made, when asked."
    )


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
