"""Forecast use cases: check inputs against the model and the limits, then compute.

Plain data in (numpy arrays, dataclasses), plain data out; the API turns these
into wire schemas. One-step forecasts go through the model's dynamic batcher (its
compute thread or the event loop); rolling forecasts are heavy jobs, checked against
the budget (:mod:`app.runtime.budget`) before they run in chunks on the heavy lane
(:mod:`app.runtime.jobs`), bounded by the request's deadline and cancellation.
"""

from __future__ import annotations

from collections.abc import Sequence, Sized
from dataclasses import dataclass
from datetime import datetime

import numpy as np

from app.runtime.budget import Cost, check_cost, rolling_cost
from app.runtime.calendar import parse_freq, step_times
from app.runtime.errors import (
    HorizonTooLongError,
    InvalidSeriesError,
    LimitExceededError,
)
from app.runtime.forecaster import Array, Forecaster
from app.runtime.frames.panel import panel_of_series
from app.runtime.frames.windows import require_length
from app.runtime.intervals import IntervalMethod, IntervalSpec, check_finite, check_spec, forecast_job
from app.runtime.jobs import NO_DEADLINE, Deadline, Job, JobContext
from app.runtime.registry import LoadedModel
from app.runtime.seeding import series_keys

FLOAT32_MAX = float(np.finfo(np.float32).max)


@dataclass(frozen=True)
class Limits:
    """Per-request bounds (see Settings for their meaning)."""

    max_series: int = 10_000
    max_values_per_series: int = 100_000
    max_horizon: int = 10_000
    max_num_samples: int = 1_000
    max_compute_rows: int = 5_000_000
    max_response_bytes: int = 64 * 1024 * 1024


@dataclass(frozen=True)
class SeriesInput:
    """One posted series; ``start``/``freq`` are optional and go together."""

    values: Array
    id: str | None = None
    start: datetime | None = None
    freq: str | None = None


@dataclass(frozen=True)
class RollingOptions:
    """What a rolling request asks for beyond the mean path."""

    horizon: int
    quantiles: tuple[float, ...] = ()
    num_samples: int = 100
    seed: int = 0
    walk_forward: bool = False
    levels: tuple[float, ...] = ()
    interval_method: IntervalMethod = "paths"
    calibration_windows: int | None = None
    calibration_step: int = 1

    @property
    def intervals(self) -> IntervalSpec:
        """The intervals and quantiles asked for."""
        return IntervalSpec(
            self.interval_method, self.levels, self.quantiles, self.num_samples,
            self.calibration_windows, self.calibration_step,
        )


@dataclass(frozen=True)
class WalkForward:
    """In-sample one-step forecasts of values[first_index:] and their errors."""

    first_index: int
    predictions: Array
    mae: float
    rmse: float


@dataclass(frozen=True)
class RollingForecast:
    """One series' multi-step answer."""

    id: str | None
    mean: Array
    quantiles: dict[str, Array] | None
    timestamps: list[str] | None
    walk_forward: WalkForward | None
    intervals: dict[str, Array] | None = None
    interval_method: IntervalMethod | None = None


def _not_float32(index: int) -> InvalidSeriesError:
    return InvalidSeriesError(
        f"series[{index}].values holds a non-finite number or one beyond float32's range "
        f"(|x| <= {FLOAT32_MAX:.3e})",
        field=f"series[{index}].values",
    )


def to_array(values: Sequence[float] | Array, index: int) -> Array:
    """float32 copy of a series; refuses values that overflow float32."""
    with np.errstate(over="ignore"):  # beyond float32's range becomes inf: refused below
        array = np.array(values, dtype=np.float32)
    if array.ndim != 1:
        raise InvalidSeriesError("values must be a flat list of numbers", field=f"series[{index}].values")
    if not np.isfinite(array).all():
        raise _not_float32(index)
    return array


def last_windows(series: Sequence[Sequence[float]], window: int, limits: Limits) -> Array:
    """The last ``window`` values of each series as one float32 (rows, window) matrix,
    converted in one call (a one-step forecast reads nothing before its window)."""
    check_series(series, window, limits)
    with np.errstate(over="ignore"):  # beyond float32's range becomes inf: refused below
        windows = np.array([values[-window:] for values in series], dtype=np.float32)
    if not np.isfinite(windows).all():
        raise _not_float32(int(np.argmin(np.isfinite(windows).all(axis=1))))
    return windows


def check_count(count: int, limits: Limits) -> None:
    """At least one series, at most ``limits.max_series``."""
    if not count:
        raise InvalidSeriesError("post at least one series", field="series")
    if count > limits.max_series:
        raise LimitExceededError(
            f"{count} series posted; at most {limits.max_series} per request",
            field="series", limit=limits.max_series,
        )


def check_series(series: Sequence[Sized], window: int, limits: Limits) -> None:
    """Count and length checks shared by every forecast kind."""
    check_count(len(series), limits)
    for i, values in enumerate(series):
        if len(values) < window:
            raise InvalidSeriesError(
                f"series[{i}] has {len(values)} values; this model needs at least {window}",
                field=f"series[{i}].values", limit=window,
            )
        if len(values) > limits.max_values_per_series:
            raise LimitExceededError(
                f"series[{i}] has {len(values)} values; at most {limits.max_values_per_series}",
                field=f"series[{i}].values", limit=limits.max_values_per_series,
            )


async def forecast_one_step(
    model: LoadedModel, windows: Array, deadline: Deadline = NO_DEADLINE
) -> tuple[Array, int]:
    """Next value after each (rows, window) row, via the dynamic batcher; also the
    batch size it ran in. Build ``windows`` with :func:`last_windows`."""
    predictions, batch_rows = await model.batcher.predict(windows, deadline)
    return check_finite(predictions), batch_rows


def rolling_request_cost(series: Sequence[SeriesInput], options: RollingOptions, window: int) -> Cost:
    """Everything a rolling request computes and returns (see app.runtime.budget)."""
    return rolling_cost(
        len(series),
        options.horizon,
        paths=options.intervals.recursions,
        quantiles=options.intervals.outputs,
        timestamped=sum(s.freq is not None for s in series),
        walk_forward_points=sum(max(0, len(s.values) - window) for s in series) if options.walk_forward else 0,
    )


def check_rolling(series: Sequence[SeriesInput], options: RollingOptions, window: int, limits: Limits) -> None:
    """Horizon, sampling and budget checks for a rolling request."""
    check_series([s.values for s in series], window, limits)
    if not 1 <= options.horizon <= limits.max_horizon:
        raise HorizonTooLongError(
            f"horizon {options.horizon} is outside 1..{limits.max_horizon}",
            field="horizon", limit=limits.max_horizon,
        )
    check_spec(options.intervals, limits.max_num_samples)
    needed = options.intervals.history_needed(window, options.horizon)
    if needed > window:
        require_length(
            panel_of_series([s.values for s in series], [None] * len(series)), needed,
            f"conformal calibration over horizon {options.horizon} (windows {options.calibration_step} apart)",
        )
    for i, s in enumerate(series):
        if (s.start is None) != (s.freq is None):
            raise InvalidSeriesError(
                f"series[{i}] gives only one of start and freq; timestamps need both",
                field=f"series[{i}].{'freq' if s.freq is None else 'start'}",
            )
        if s.freq is not None:
            parse_freq(s.freq)
    check_cost(
        rolling_request_cost(series, options, window),
        max_rows=limits.max_compute_rows, max_response_bytes=limits.max_response_bytes,
    )


def _walk_forward(forecaster: Forecaster, values: Array) -> Job[WalkForward]:
    window = forecaster.window
    predictions = check_finite((yield from forecaster.walk_forward_job(values)))
    actual = values[window:].astype(np.float64)
    diff = predictions.astype(np.float64) - actual
    scores = np.array([np.mean(np.abs(diff)), np.sqrt(np.mean(diff**2))] if len(diff) else [0.0, 0.0])
    check_finite(scores.astype(np.float32))  # JSON has no inf or NaN: they would leave as null beside a 200
    return WalkForward(first_index=window, predictions=predictions, mae=float(scores[0]), rmse=float(scores[1]))


def _rolling(
    forecaster: Forecaster, series: Sequence[SeriesInput], options: RollingOptions
) -> Job[list[RollingForecast]]:
    """All the compute of a rolling request, as a chunked job for the heavy lane."""
    ids = [s.id for s in series]
    panel = panel_of_series([s.values for s in series], ids)
    mean, intervals = yield from forecast_job(
        forecaster, panel, np.arange(len(series)), panel.lengths, options.horizon, options.intervals,
        series_keys(options.seed, ids),
    )
    results = []
    for i, s in enumerate(series):
        timestamps = None
        if s.start is not None and s.freq is not None:
            timestamps = step_times(s.start, s.freq, len(s.values), options.horizon)
        results.append(RollingForecast(
            id=s.id,
            mean=mean[i],
            quantiles={key: q[i] for key, q in intervals.quantiles.items()} if options.quantiles else None,
            timestamps=timestamps,
            walk_forward=(yield from _walk_forward(forecaster, s.values)) if options.walk_forward else None,
            intervals={key: band[i] for key, band in intervals.bands.items()} if options.levels else None,
            interval_method=intervals.method,
        ))
    return results


async def forecast_rolling(
    model: LoadedModel,
    series: Sequence[SeriesInput],
    options: RollingOptions,
    limits: Limits,
    context: JobContext | None = None,
) -> list[RollingForecast]:
    """Mean path, optional quantiles and walk-forward for each series, on the heavy
    lane within ``context``'s deadline and cancellation."""
    check_rolling(series, options, model.forecaster.window, limits)
    forecaster = model.forecaster
    return await model.lane.run(lambda: _rolling(forecaster, series, options), context or JobContext())
