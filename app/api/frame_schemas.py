"""Wire models of the long-format forms: rows in (JSON, CSV, Parquet), rows out,
backtests, anomalies and the advertised limits.

Options of a CSV or Parquet request travel in the query string (the same names);
a JSON body may carry them itself. Rows are ``{"unique_id", "ds", "y"}`` objects
unless ``id_col`` / ``time_col`` / ``target_col`` name other keys.
"""

from __future__ import annotations

import math
from datetime import date, timedelta
from typing import Annotated, Literal

from pydantic import Field, JsonValue, RootModel, model_validator

from app.api.schemas import EXAMPLE_VALUES, IntervalOptions, Level, ModelRef, SeriesIn, _Wire

Scalar = str | float | int | bool | None
Row = dict[str, Scalar]


class RowIn(RootModel[Row]):
    """One row: ``{"unique_id": ..., "ds": ..., "y": ...}`` (or the keys named by
    ``id_col``, ``time_col``, ``target_col``)."""

# 120 daily rows of one series: the examples work as posted on the shipped model.
EXAMPLE_ROWS: list[JsonValue] = [
    {"unique_id": "a", "ds": (date(2026, 1, 1) + timedelta(days=t)).isoformat(),
     "y": round(math.sin(0.02 * t) + 1 + 0.6 * math.sin(2.7 * t), 3)}
    for t in range(120)
]


class RowsOptions(_Wire):
    """How rows are read: column names, frequency, and the gap policy."""

    id_col: str = Field("unique_id", min_length=1, max_length=128, description="Column of series ids.")
    time_col: str = Field(
        "ds", max_length=128,
        description="Column of times (ISO 8601 dates or date-times, or integers); empty: rows are in time "
        "order and carry no times.",
    )
    target_col: str = Field("y", min_length=1, max_length=128, description="Column of values (null = missing).")
    freq: str | None = Field(
        None, max_length=16,
        description="pandas alias of the step (D, W-SUN, MS, QS, YE, h, 15min, B, ...), or an integer step for "
        "integer times. Default: inferred per series by pandas' rules applied to its smallest step.",
        examples=["MS"],
    )
    fill: Literal["linear", "ffill", "zero", "refuse"] = Field(
        "linear",
        description="Missing timestamps and null values: `linear` interpolation (a missing tail carries the "
        "last value), `ffill`, `zero`, or `refuse` the series. Leading nulls are dropped.",
    )
    max_missing: float = Field(
        0.5, ge=0.0, le=1.0, strict=True,
        description="Refuse a series when more than this share of the values its forecast reads "
        "(the model's last `window`) was missing.",
    )
    model: str | None = Field(None, max_length=128, description="Model name; default: `default`.")


Rows = Annotated[list[RowIn], Field(min_length=1, description="`{unique_id, ds, y}` rows, in any order.")]


class ForecastRowsRequest(RowsOptions):
    """One-step forecast of each series given as long-format rows."""

    model_config = RowsOptions.model_config | {"json_schema_extra": {"examples": [{"rows": EXAMPLE_ROWS}]}}
    rows: Rows


class RollingRowsOptions(RowsOptions, IntervalOptions):
    """Options of a multi-step forecast of rows."""

    horizon: int = Field(..., ge=1, strict=True, description="Steps beyond each series' end.", examples=[24])


class RollingRowsRequest(RollingRowsOptions):
    """Multi-step forecasts, with intervals, of each series given as long-format rows."""

    model_config = RowsOptions.model_config | {
        "json_schema_extra": {"examples": [{"rows": EXAMPLE_ROWS, "horizon": 7, "level": [80, 95]}]}
    }
    rows: Rows


class BacktestOptions(RowsOptions, IntervalOptions):
    """Options of a backtest."""

    h: int = Field(..., ge=1, strict=True, description="Steps forecast from each cut-off.", examples=[12])
    n_windows: int = Field(
        1, ge=1, le=1000, strict=True, description="Cut-offs per series; the last window ends at the end."
    )
    step_size: int | None = Field(None, ge=1, strict=True, description="Positions between cut-offs; default `h`.")
    season_length: int = Field(
        1, ge=1, le=10_000, strict=True, description="Season of the naive forecast scaling MASE."
    )


class AnomaliesOptions(RowsOptions):
    """Options of an anomaly check."""

    level: Level = Field(99.0, description="Interval level in percent; points outside are anomalies.")
    interval_method: Literal["conformal", "paths"] = Field(
        "conformal",
        description="`conformal`: the series' own one-step errors (those not checked, when `newest` is "
        "given). `paths`: the model's calibration residuals.",
    )
    newest: int | None = Field(
        None, ge=1, strict=True, description="Check only each series' newest points (online use)."
    )


class _SeriesOrRows(_Wire):
    series: list[SeriesIn] | None = Field(None, min_length=1, description="Series as value arrays.")
    rows: list[RowIn] | None = Field(None, min_length=1, description="Or `{unique_id, ds, y}` rows.")

    @model_validator(mode="after")
    def _one_form(self) -> _SeriesOrRows:
        if (self.series is None) == (self.rows is None):
            raise ValueError("give either series or rows")
        return self


class BacktestRequest(BacktestOptions, _SeriesOrRows):
    """Forecasts from several cut-offs per series beside the actual values, and their scores."""

    model_config = RowsOptions.model_config | {"json_schema_extra": {"examples": [
        {"series": [{"id": "a", "values": [*EXAMPLE_VALUES, *EXAMPLE_VALUES[:30]]}], "h": 5, "n_windows": 3,
         "level": [80]},
    ]}}


class AnomaliesRequest(AnomaliesOptions, _SeriesOrRows):
    """One-step in-sample forecasts of each posted point, their interval, and a flag."""

    model_config = RowsOptions.model_config | {"json_schema_extra": {"examples": [
        {"series": [{"id": "a", "values": [*EXAMPLE_VALUES, *EXAMPLE_VALUES]}], "level": 95, "newest": 20},
    ]}}


class FilledOut(_Wire):
    """What was filled in one series."""

    unique_id: str
    missing_timestamps: int = Field(..., description="Grid timestamps that had no row.")
    missing_values: int = Field(..., description="Rows whose value was null.")
    dropped_leading: int = Field(..., description="Leading missing values dropped.")


class RowsResponse(_Wire):
    """Answer rows: `unique_id, ds, mean`, then `q-<q>` quantiles and `lo-<L>`/`hi-<L>` bands."""

    model: ModelRef
    interval_method: Literal["paths", "conformal"] | None = Field(None, description="How intervals were made.")
    freq: list[str] = Field(..., description="Distinct frequencies of the series (pandas aliases).")
    fill: str = Field(..., description="The fill policy applied.")
    filled: list[FilledOut] = Field(..., description="Series where something was filled.")
    rows: list[Row]


class MetricsOut(_Wire):
    """Scores per series (rows) and over every backtest point."""

    series: list[Row]
    overall: dict[str, float | None]


class BacktestResponse(RowsResponse):
    """Rows `unique_id, cutoff, ds, y, mean, ...` and the scores."""

    metrics: MetricsOut


class AnomaliesResponse(RowsResponse):
    """Rows `unique_id, ds, y, mean, lo-L, hi-L, anomaly`."""

    anomalies: int = Field(..., description="Points flagged.")


class LimitsResponse(_Wire):
    """What one request may hold; the client splits frames to fit."""

    max_body_bytes: int
    max_series: int
    max_values_per_series: int
    max_horizon: int
    max_num_samples: int
    max_compute_rows: int = Field(..., description="Model rows one request may evaluate, plus the values it returns.")
    max_response_bytes: int = Field(..., description="Largest answer one request may ask for (estimated as JSON).")
    request_formats: list[str] = Field(..., description="Content-Types a forecast body may have.")
    response_formats: list[str] = Field(..., description="Media types an Accept header may ask for.")
