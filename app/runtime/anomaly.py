"""Anomalies: each posted point's one-step in-sample forecast (from the actual values
before it), its interval at ``level``, and whether the actual value falls outside.

Intervals come from the series' own one-step errors (``conformal``: the
finite-sample conformal quantile of the absolute errors of the points not being
checked, or of all points when all are checked) or from the model's calibration
residuals (``paths``: for one step, the simulated paths' quantiles are the
residual pool's quantiles, so none need sampling). With ``newest`` only the last
``newest`` points of each series are checked (online use). Filled points are
never flagged: they were not observed.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from app.runtime.budget import check_cost, id_chars, json_row_bytes, rows_cost
from app.runtime.errors import InvalidSeriesError
from app.runtime.forecaster import CHUNK_ROWS, Forecaster
from app.runtime.frames.fill import Floats
from app.runtime.frames.freq import Bools, Int64s
from app.runtime.frames.panel import Panel
from app.runtime.frames.table import Table, id_column, panel_table
from app.runtime.frames.windows import label, one_step_targets, require_length, windows_before
from app.runtime.intervals import IntervalMethod, check_finite, conformal_rank, format_level, scores_needed
from app.runtime.jobs import Job, JobContext, run_to_end
from app.runtime.registry import LoadedModel
from app.runtime.service import Limits


@dataclass(frozen=True)
class AnomalySpec:
    """The interval level in percent, its method, and how many newest points to check."""

    level: float = 99.0
    method: IntervalMethod = "conformal"
    newest: int | None = None


def _targets(panel: Panel, window: int, spec: AnomalySpec) -> tuple[Int64s, Int64s]:
    """Points to forecast: all in-sample points for conformal (their errors calibrate),
    else only those checked."""
    return one_step_targets(panel, window, None if spec.method == "conformal" else spec.newest)


def check(panel: Panel, spec: AnomalySpec, window: int, limits: Limits) -> None:
    """Length and budget checks of an anomaly request."""
    require_length(panel, window + 1, "one in-sample forecast")
    series, _ = _targets(panel, window, spec)
    in_sample = np.maximum(panel.lengths - window, 0)
    checked = int((in_sample if spec.newest is None else np.minimum(in_sample, spec.newest)).sum())
    name = format_level(spec.level)
    floats = ["y", "mean", f"lo-{name}", f"hi-{name}", "anomaly"]
    cost = rows_cost(len(series), checked, len(floats) + 1, json_row_bytes(floats, ["ds"], id_chars(panel.names)),
                     len(panel.names))
    check_cost(cost, max_rows=limits.max_compute_rows, max_response_bytes=limits.max_response_bytes,
               field="series", formula="one model row per in-sample point after each series' first window + "
               "the values returned")


def _one_step(
    forecaster: Forecaster, panel: Panel, series: Int64s, positions: Int64s
) -> Job[tuple[Floats, Floats]]:
    """One-step forecasts at (series, position), CHUNK_ROWS windows per forward pass, and
    what a calibration residual is multiplied by for each of those windows."""
    parts, scales = [], []
    for i in range(0, len(series), CHUNK_ROWS):
        chunk = slice(i, i + CHUNK_ROWS)
        windows = windows_before(panel, series[chunk], positions[chunk], forecaster.window)
        parts.append(forecaster.predict(windows))
        scales.append(forecaster.window_scales(windows))
        yield
    predicted = check_finite(np.concatenate(parts)).astype(np.float64)
    return predicted, np.concatenate(scales).astype(np.float64)


def _conformal_radius(panel: Panel, series: Int64s, errors: Floats, calibrates: Bools, level: float) -> Floats:
    """Per series, the ceil((n + 1) * level)-th smallest of its n calibration errors."""
    count = np.bincount(series[calibrates], minlength=len(panel.names))
    rank = conformal_rank(count, level)
    short = rank > count
    if short.any():
        s = int(np.argmax(short))
        raise InvalidSeriesError(
            f"{label(panel, s)} has {count[s]} observed in-sample errors to calibrate on; level {level:g} "
            f"needs at least {scores_needed(level)}: send more history, lower level, "
            "or use interval_method 'paths'",
            field="level",
        )
    picked = series[calibrates]
    order = np.lexsort((errors[calibrates], picked))
    starts = np.concatenate([[0], np.cumsum(count)[:-1]])
    return errors[calibrates][order][starts + rank - 1]


def run_job(forecaster: Forecaster, panel: Panel, spec: AnomalySpec) -> Job[Table]:
    """Forecast, interval and flag per checked point, as a chunked job (app.runtime.jobs)."""
    series, positions = _targets(panel, forecaster.window, spec)
    predicted, scale = yield from _one_step(forecaster, panel, series, positions)
    flat = panel.offsets[series] + positions
    actual = panel.values[flat].astype(np.float64)
    observed = panel.observed[flat]
    checked = positions >= (panel.lengths[series] - spec.newest if spec.newest else 0)
    if spec.method == "conformal":
        calibrates = observed & ~checked if spec.newest else observed
        radius = _conformal_radius(panel, series, np.abs(actual - predicted), calibrates, spec.level)[series]
        low, high = predicted - radius, predicted + radius
    else:
        tail = (100 - spec.level) / 200
        pool = np.asarray(forecaster.metadata.calibration.residuals or [0.0])
        below, above = np.quantile(pool, [tail, 1 - tail])
        low, high = predicted + below * scale, predicted + above * scale
    outside = observed & ((actual < low) | (actual > high))
    name = format_level(spec.level)
    return panel_table(panel, {
        "unique_id": id_column(panel, series[checked]),
        "ds": panel.calendar.times(series[checked], positions[checked]),
        "y": np.where(observed, actual, np.nan)[checked].astype(np.float32),  # as the model read it
        "mean": predicted[checked].astype(np.float32),
        f"lo-{name}": low[checked].astype(np.float32),
        f"hi-{name}": high[checked].astype(np.float32),
        "anomaly": outside[checked],
    })


def run(forecaster: Forecaster, panel: Panel, spec: AnomalySpec) -> Table:
    """:func:`run_job` straight through (offline use)."""
    return run_to_end(run_job(forecaster, panel, spec))


async def detect(model: LoadedModel, panel: Panel, spec: AnomalySpec, limits: Limits, context: JobContext) -> Table:
    """Checked anomaly detection on the heavy lane, within ``context``."""
    forecaster = model.forecaster
    check(panel, spec, forecaster.window, limits)
    return await model.lane.run(lambda: run_job(forecaster, panel, spec), context)
