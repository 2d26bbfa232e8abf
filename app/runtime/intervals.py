"""Prediction intervals and quantiles of multi-step forecasts, by either method.

- ``paths``: quantiles of ``num_samples`` simulated paths, each adding residuals
  resampled from the model's calibration set at every step (seeded per series,
  see :mod:`app.runtime.seeding`).
- ``conformal``: split conformal per horizon step, calibrated on the posted
  history's own backtest windows (statsforecast's ``ConformalIntervals`` is the
  reference): forecast ``horizon`` steps from ``calibration_windows`` earlier
  origins (default: as many as the history allows, up to 50; more windows
  calibrate better on real series, bench/FRAMES.md), ``calibration_step`` apart,
  take the absolute errors per step, and
  widen the mean by their finite-sample conformal quantile, the
  ``ceil((n + 1) * level)``-th smallest of ``n`` errors. That needs
  ``n >= level / (1 - level)`` errors per step (19 for 95%), checked up front;
  errors against filled (not observed) values are left out, and a step that
  gaps left with fewer errors than its level needs takes the largest.

A quantile ``q`` is the bound of the central interval at level ``|2q - 1|``, so
both methods answer ``quantiles`` and ``level`` alike.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Literal

import numpy as np
import numpy.typing as npt

from app.runtime.errors import InvalidSeriesError, LimitExceededError
from app.runtime.forecaster import CHUNK_ROWS, Array, Forecaster
from app.runtime.frames.freq import Bools, Int64s
from app.runtime.frames.panel import Panel
from app.runtime.frames.windows import calibration_origins, label, values_after, windows_before
from app.runtime.jobs import Job, run_to_end
from app.runtime.seeding import Keys

IntervalMethod = Literal["paths", "conformal"]
# Calibration windows by default: as many as the history allows, up to this many.
AUTO_WINDOWS = 50
INTERVAL_METHODS: tuple[IntervalMethod, ...] = ("paths", "conformal")


@dataclass(frozen=True)
class IntervalSpec:
    """What intervals a request asks for; levels in percent, quantiles in (0, 1)."""

    method: IntervalMethod = "paths"
    levels: tuple[float, ...] = ()
    quantiles: tuple[float, ...] = ()
    num_samples: int = 100
    calibration_windows: int | None = None
    calibration_step: int = 1

    @property
    def wanted(self) -> bool:
        """Whether any interval or quantile is asked for."""
        return bool(self.levels or self.quantiles)

    @property
    def top_level(self) -> float:
        """The widest central interval asked for, in percent (quantiles count as theirs)."""
        return max([*self.levels, *(abs(2 * q - 1) * 100 for q in self.quantiles)], default=0.0)

    @property
    def windows(self) -> int:
        """Calibration windows forecast per origin: those asked for, else at most AUTO_WINDOWS."""
        return self.calibration_windows or AUTO_WINDOWS

    @property
    def recursions(self) -> int:
        """Recursive paths per origin beside the mean: simulated paths or calibration windows."""
        if not self.wanted:
            return 0
        return self.num_samples if self.method == "paths" else self.windows

    @property
    def outputs(self) -> int:
        """Values per forecast step beside the mean: quantiles and both bounds of each level."""
        return len(self.quantiles) + 2 * len(self.levels)

    def history_needed(self, window: int, horizon: int) -> int:
        """Values a series needs before a forecast origin for these intervals: with the
        default windows, enough for the top level's fewest (19 for 95%)."""
        if self.method == "paths" or not self.wanted:
            return window
        fewest = self.calibration_windows or max(1, scores_needed(self.top_level))
        return window + horizon + (fewest - 1) * self.calibration_step


@dataclass(frozen=True)
class Intervals:
    """Per origin and step: quantiles by key (``"0.1"``) and bands (``"lo-80"``, ``"hi-80"``)."""

    method: IntervalMethod | None
    quantiles: dict[str, Array] = field(default_factory=dict)
    bands: dict[str, Array] = field(default_factory=dict)


def format_quantile(q: float) -> str:
    """The key of a quantile level, the shortest text that reads back as the same float:
    0.1 -> "0.1", 0.05 -> "0.05", 0.1000001 -> "0.1000001"."""
    return repr(q)


def format_level(level: float) -> str:
    """A level in a band's name: 80 -> "80", 97.5 -> "97.5" (never two levels alike)."""
    short = f"{level:g}"
    return short if float(short) == level else repr(level)


def band_names(levels: tuple[float, ...]) -> list[str]:
    """Column names of the bands: ``lo-80, hi-80, lo-95, hi-95``."""
    return [f"{side}-{format_level(level)}" for level in levels for side in ("lo", "hi")]


def conformal_rank(count: npt.NDArray[np.int64], level: float) -> npt.NDArray[np.int64]:
    """1-based rank of the conformal quantile at ``level`` percent among ``count`` scores
    (rounded first, so that 20 * 0.95 is 19, not 19.000000000000004)."""
    return np.ceil(np.round((count + 1) * level / 100, 9)).astype(np.int64)


def scores_needed(level: float) -> int:
    """Fewest scores whose conformal quantile at ``level`` percent is finite."""
    return math.ceil(round(level / (100 - level), 9))


def check_spec(spec: IntervalSpec, limits_num_samples: int) -> None:
    """Refuse what no data can satisfy: too many paths, too few calibration windows."""
    if spec.method == "paths" and spec.wanted and not 1 <= spec.num_samples <= limits_num_samples:
        raise LimitExceededError(
            f"num_samples {spec.num_samples} is outside 1..{limits_num_samples}",
            field="num_samples", limit=limits_num_samples,
        )
    if spec.method != "conformal" or spec.calibration_windows is None:
        return
    top = spec.top_level
    needed = scores_needed(top)
    if spec.calibration_windows < needed:
        raise InvalidSeriesError(
            f"conformal intervals at level {top:g} need at least {needed} calibration windows; "
            f"calibration_windows is {spec.calibration_windows}",
            field="calibration_windows", limit=needed,
        )


def check_finite(result: Array) -> Array:
    """Refuse forecasts that overflowed float32."""
    if not np.isfinite(result).all():
        raise InvalidSeriesError(
            "the forecast overflowed: the values are too large for this model", field="series"
        )
    return result


def path_intervals(paths: Array, spec: IntervalSpec) -> Intervals:
    """Quantiles and bands of (origins, num_samples, horizon) simulated paths."""
    probabilities = [*spec.quantiles, *((1 + s * lv / 100) / 2 for lv in spec.levels for s in (-1, 1))]
    found = np.quantile(check_finite(paths), probabilities, axis=1).astype(np.float32)
    count = len(spec.quantiles)
    return Intervals(
        "paths",
        {format_quantile(q): found[k] for k, q in enumerate(spec.quantiles)},
        dict(zip(band_names(spec.levels), found[count:], strict=True)),
    )


def conformal_intervals(mean: Array, scores: npt.NDArray[np.float64], spec: IntervalSpec) -> Intervals:
    """Bands around ``mean`` (origins, horizon) from ``scores`` (origins, windows, horizon),
    absolute calibration errors; NaN where the actual value was filled, not observed, or
    where a default window would start before the history."""
    ordered = np.sort(scores, axis=1)  # NaN last
    count = np.isfinite(scores).sum(axis=1)

    def radius(level: float) -> npt.NDArray[np.float64]:
        if level == 0:
            return np.zeros(mean.shape)
        rank = np.minimum(conformal_rank(count, level), count)  # gaps left fewer errors: the largest
        picked: npt.NDArray[np.float64] = np.take_along_axis(ordered, np.maximum(rank - 1, 0)[:, None, :], axis=1)
        return picked[:, 0, :]

    def bound(q: float) -> Array:
        edge: Array = (mean + np.sign(q - 0.5) * radius(abs(2 * q - 1) * 100)).astype(np.float32)
        return edge

    edges = [bound((1 + side * level / 100) / 2) for level in spec.levels for side in (-1, 1)]
    return Intervals(
        "conformal", {format_quantile(q): bound(q) for q in spec.quantiles},
        dict(zip(band_names(spec.levels), edges, strict=True)),
    )


def _refuse_uncalibrated(panel: Panel, series: Int64s, scores: npt.NDArray[np.float64]) -> None:
    """Refuse an origin with a step whose calibration actuals were all filled, not observed."""
    empty: Bools = np.any(np.all(~np.isfinite(scores), axis=1), axis=1)
    if empty.any():
        i = int(np.argmax(empty))
        raise InvalidSeriesError(
            f"{label(panel, int(series[i]))} has no observed value at some step of its calibration "
            "windows: send fewer gaps or raise calibration_windows",
            field="calibration_windows",
        )


def forecast_job(
    forecaster: Forecaster, panel: Panel, series: Int64s, ends: Int64s, horizon: int, spec: IntervalSpec,
    keys: Keys,
) -> Job[tuple[Array, Intervals]]:
    """Mean paths (origins, horizon) from each origin (series[i], ends[i]), and the intervals
    ``spec`` asks for, as a chunked job (:mod:`app.runtime.jobs`). ``keys`` seed each
    origin's simulated paths. Origins go in groups that bound memory to about CHUNK_ROWS
    model rows at a time."""
    size = max(1, CHUNK_ROWS // max(spec.recursions, 1))
    parts = []
    for i in range(0, len(series), size):
        chunk = slice(i, i + size)
        parts.append((yield from _forecast_chunk(
            forecaster, panel, series[chunk], ends[chunk], horizon, spec, keys[chunk]
        )))
    if len(parts) == 1:
        return parts[0]
    first = parts[0][1]
    return np.concatenate([mean for mean, _ in parts]), Intervals(
        first.method,
        {key: np.concatenate([part.quantiles[key] for _, part in parts]) for key in first.quantiles},
        {key: np.concatenate([part.bands[key] for _, part in parts]) for key in first.bands},
    )


def forecast(
    forecaster: Forecaster, panel: Panel, series: Int64s, ends: Int64s, horizon: int, spec: IntervalSpec,
    keys: Keys,
) -> tuple[Array, Intervals]:
    """:func:`forecast_job` run straight through (offline use)."""
    return run_to_end(forecast_job(forecaster, panel, series, ends, horizon, spec, keys))


def _forecast_chunk(
    forecaster: Forecaster, panel: Panel, series: Int64s, ends: Int64s, horizon: int, spec: IntervalSpec,
    keys: Keys,
) -> Job[tuple[Array, Intervals]]:
    window = forecaster.window
    histories = windows_before(panel, series, ends, window)
    mean = check_finite((yield from forecaster.rolling_job(histories, horizon)))
    if not spec.wanted:
        return mean, Intervals(None)
    if spec.method == "paths":
        paths = yield from forecaster.sample_paths_job(histories, horizon, spec.num_samples, keys)
        return mean, path_intervals(paths, spec)
    cal_series, cal_ends = calibration_origins(series, ends, horizon, spec.windows, spec.calibration_step)
    fits = cal_ends >= window  # default windows stop where the history does: the rest score NaN
    cal_ends = np.maximum(cal_ends, window)
    calibration = yield from forecaster.rolling_job(windows_before(panel, cal_series, cal_ends, window), horizon)
    actual, observed = values_after(panel, cal_series, cal_ends, horizon)
    errors = np.where(observed & fits[:, None], np.abs(actual - check_finite(calibration)), np.nan)
    scores = errors.reshape(len(series), spec.windows, horizon)
    _refuse_uncalibrated(panel, series, scores)
    return mean, conformal_intervals(mean, scores, spec)
