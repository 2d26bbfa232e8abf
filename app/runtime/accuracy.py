"""Forecast accuracy per series and overall: MAE, RMSE, sMAPE, MASE and the empirical
coverage of each interval band, over the points whose actual value was observed.

Per-series sums are ``np.bincount`` over the series of each point: no loop over
series. sMAPE is in percent on 0..200 (M4's definition, 0 when both the actual
and the forecast are 0); coverage is in percent. A metric with nothing to average
(no observed point, or a MASE scale of 0) is NaN.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt

from app.runtime.frames.fill import Floats
from app.runtime.frames.freq import Bools, Int64s
from app.runtime.frames.panel import Panel

METRICS = ("mae", "rmse", "smape", "mase")


@dataclass(frozen=True)
class Scores:
    """Each metric per series (arrays of length series) and over all points, after
    ``points``: how many observed points each average is over."""

    per_series: dict[str, npt.NDArray[np.float64] | npt.NDArray[np.int64]]
    overall: dict[str, float]


def seasonal_scale(panel: Panel, ends: Int64s, season: int) -> Floats:
    """Per series, the in-sample MAE of the seasonal naive forecast, mean |y[t] - y[t-m]|
    over observed pairs with t before ``ends[s]``: MASE's denominator."""
    values = panel.values.astype(np.float64)
    index = np.arange(len(values))
    series = np.repeat(np.arange(len(panel.names)), panel.lengths)
    position = index - panel.offsets[series]
    usable = (position >= season) & (position < ends[series])
    usable[usable] &= panel.observed[index[usable]] & panel.observed[index[usable] - season]
    errors = np.zeros(len(values))
    errors[usable] = np.abs(values[index[usable]] - values[index[usable] - season])
    total = np.bincount(series, weights=errors, minlength=len(panel.names))
    count = np.bincount(series, weights=usable, minlength=len(panel.names))
    return _ratio(total, count)


def _ratio(total: npt.NDArray[np.number[Any]], count: npt.NDArray[np.number[Any]]) -> Floats:
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(count > 0, total / np.where(count > 0, count, 1), np.nan)


def score(
    series: Int64s, actual: Floats, observed: Bools, forecast: Floats, bands: dict[str, Floats],
    scale: Floats,
) -> Scores:
    """Metrics of forecasts ``forecast`` of ``actual``; all arrays are per point (flat),
    ``series[i]`` names point i's series, ``bands`` holds ``lo-L``/``hi-L`` pairs."""
    count = len(scale)
    weight = observed.astype(np.float64)
    error = np.where(observed, forecast - actual, 0.0)
    denominator = np.abs(actual) + np.abs(forecast)
    with np.errstate(divide="ignore", invalid="ignore"):
        ape = np.where(observed & (denominator > 0), 200 * np.abs(error) / denominator, 0.0)
    points = {"mae": np.abs(error), "rmse": error**2, "smape": ape}
    for name in [key[3:] for key in bands if key.startswith("lo-")]:
        inside = (bands[f"lo-{name}"] <= actual) & (actual <= bands[f"hi-{name}"])
        points[f"coverage-{name}"] = np.where(observed, 100.0 * inside, 0.0)
    seen = np.bincount(series, weights=weight, minlength=count)
    per_series = {key: _ratio(np.bincount(series, weights=v, minlength=count), seen) for key, v in points.items()}
    per_series["rmse"] = np.sqrt(per_series["rmse"])
    per_series["mase"] = _ratio(per_series["mae"], np.where(scale > 0, scale, 0.0))
    total = float(weight.sum())
    overall = {key: float(v.sum() / total) if total else float("nan") for key, v in points.items()}
    overall["rmse"] = float(np.sqrt(overall["rmse"]))
    finite = np.isfinite(per_series["mase"])
    overall["mase"] = float(per_series["mase"][finite].mean()) if finite.any() else float("nan")
    ordered = [*METRICS, *(k for k in per_series if k not in METRICS)]
    return Scores(
        {"points": seen.astype(np.int64), **{k: per_series[k] for k in ordered}},
        {"points": int(total), **{k: overall[k] for k in ordered}},
    )
