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
from app.runtime.jobs import NO_DEADLINE, Deadline, Job, JobContext
from app.runtime.registry import LoadedModel

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


def _check_finite(result: Array) -> Array:
    if not np.isfinite(result).all():
        raise InvalidSeriesError(
            "the forecast overflowed: the values are too large for this model", field="series"
        )
    return result


async def forecast_one_step(
    model: LoadedModel, windows: Array, deadline: Deadline = NO_DEADLINE
) -> tuple[Array, int]:
    """Next value after each (rows, window) row, via the dynamic batcher; also the
    batch size it ran in. Build ``windows`` with :func:`last_windows`."""
    predictions, batch_rows = await model.batcher.predict(windows, deadline)
    return _check_finite(predictions), batch_rows


def rolling_request_cost(series: Sequence[SeriesInput], options: RollingOptions, window: int) -> Cost:
    """Everything a rolling request computes and returns (see app.runtime.budget)."""
    return rolling_cost(
        len(series),
        options.horizon,
        paths=options.num_samples if options.quantiles else 0,
        quantiles=len(options.quantiles),
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
    if options.quantiles and not 1 <= options.num_samples <= limits.max_num_samples:
        raise LimitExceededError(
            f"num_samples {options.num_samples} is outside 1..{limits.max_num_samples}",
            field="num_samples", limit=limits.max_num_samples,
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
    predictions = _check_finite((yield from forecaster.walk_forward_job(values)))
    actual = values[window:].astype(np.float64)
    diff = predictions.astype(np.float64) - actual
    scores = np.array([np.mean(np.abs(diff)), np.sqrt(np.mean(diff**2))] if len(diff) else [0.0, 0.0])
    _check_finite(scores.astype(np.float32))  # JSON has no inf or NaN: they would leave as null beside a 200
    return WalkForward(first_index=window, predictions=predictions, mae=float(scores[0]), rmse=float(scores[1]))


def _rolling(
    forecaster: Forecaster, series: Sequence[SeriesInput], options: RollingOptions
) -> Job[list[RollingForecast]]:
    """All the compute of a rolling request, as a chunked job for the heavy lane."""
    histories = np.stack([s.values[-forecaster.window:] for s in series])
    mean = _check_finite((yield from forecaster.rolling_job(histories, options.horizon)))
    quantiles: list[dict[str, Array] | None] = [None] * len(series)
    if options.quantiles:
        paths = yield from forecaster.sample_paths_job(histories, options.horizon, options.num_samples, options.seed)
        levels = np.quantile(_check_finite(paths), options.quantiles, axis=1).astype(np.float32)
        quantiles = [
            {format_quantile(q): levels[k, i] for k, q in enumerate(options.quantiles)}
            for i in range(len(series))
        ]
    results = []
    for i, s in enumerate(series):
        timestamps = None
        if s.start is not None and s.freq is not None:
            timestamps = step_times(s.start, s.freq, len(s.values), options.horizon)
        results.append(RollingForecast(
            id=s.id,
            mean=mean[i],
            quantiles=quantiles[i],
            timestamps=timestamps,
            walk_forward=(yield from _walk_forward(forecaster, s.values)) if options.walk_forward else None,
        ))
    return results


def format_quantile(q: float) -> str:
    """The response key of a quantile level, the shortest text that reads back as the
    same float: 0.1 -> "0.1", 0.05 -> "0.05", 0.1000001 -> "0.1000001"."""
    return repr(q)


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
