"""Backtests with the served (frozen) model: forecast ``horizon`` steps from
``n_windows`` cut-offs per series, ``step_size`` apart, the last ending at the
series' end; put them beside the actual values and score them.

Every window of every series runs in the same batched passes (one recursion for
all means, and one for all conformal calibration windows or simulated paths).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from app.runtime.accuracy import Scores, score, seasonal_scale
from app.runtime.budget import Cost, check_cost, id_chars, json_row_bytes, rows_cost
from app.runtime.errors import HorizonTooLongError, LimitExceededError
from app.runtime.forecaster import Forecaster
from app.runtime.frames.panel import Panel
from app.runtime.frames.table import Table, id_column, panel_table
from app.runtime.frames.windows import cutoffs, require_length, values_after
from app.runtime.intervals import IntervalSpec, band_names, check_spec, forecast_job, format_quantile
from app.runtime.jobs import Job, JobContext, run_to_end
from app.runtime.registry import LoadedModel
from app.runtime.seeding import cutoff_keys, series_keys
from app.runtime.service import Limits


@dataclass(frozen=True)
class BacktestSpec:
    """Windows to forecast and how to score them; ``step_size`` None means ``horizon``."""

    horizon: int
    n_windows: int = 1
    step_size: int | None = None
    season_length: int = 1
    intervals: IntervalSpec = field(default_factory=IntervalSpec)
    seed: int = 0

    @property
    def step(self) -> int:
        """Positions between consecutive cut-offs."""
        return self.step_size or self.horizon

    def cost(self, names: list[str | None]) -> Cost:
        """Model rows evaluated and values returned (app.runtime.budget)."""
        points = len(names) * self.n_windows * self.horizon
        spec = self.intervals
        floats = ["y", "mean", *(f"q-{format_quantile(q)}" for q in spec.quantiles), *band_names(spec.levels)]
        return rows_cost(points * (1 + spec.recursions), points, len(floats) + 2,
                         json_row_bytes(floats, ["cutoff", "ds"], id_chars(names)), len(names))

    def history_needed(self, window: int) -> int:
        """Values a series needs: the first window's history and every window's steps."""
        return self.intervals.history_needed(window, self.horizon) + self.horizon + (self.n_windows - 1) * self.step


@dataclass(frozen=True)
class Backtest:
    """Forecasts beside the actual values (rows), and their scores."""

    rows: Table
    scores: Scores
    metrics: Table


def check(panel: Panel, spec: BacktestSpec, window: int, limits: Limits) -> None:
    """Size, interval and budget checks of a backtest request."""
    if not 1 <= spec.horizon <= limits.max_horizon:
        raise HorizonTooLongError(
            f"h {spec.horizon} is outside 1..{limits.max_horizon}", field="h", limit=limits.max_horizon
        )
    if spec.n_windows < 1 or spec.step < 1:
        raise LimitExceededError("n_windows and step_size must be at least 1", field="n_windows", limit=1)
    check_spec(spec.intervals, limits.max_num_samples)
    check_cost(spec.cost(panel.names), max_rows=limits.max_compute_rows, max_response_bytes=limits.max_response_bytes,
               field="n_windows",
               formula="series x n_windows x h x (1 + num_samples or calibration windows) + the values returned")
    require_length(panel, spec.history_needed(window),
                   f"a backtest of {spec.n_windows} windows of h={spec.horizon}, {spec.step} apart")


def run_job(forecaster: Forecaster, panel: Panel, spec: BacktestSpec) -> Job[Backtest]:
    """The whole backtest as a chunked job (:mod:`app.runtime.jobs`)."""
    series, cut = cutoffs(panel, spec.horizon, spec.n_windows, spec.step)
    keys = cutoff_keys(series_keys(spec.seed, panel.names)[series], cut)
    mean, intervals = yield from forecast_job(forecaster, panel, series, cut, spec.horizon, spec.intervals, keys)
    actual, observed = values_after(panel, series, cut, spec.horizon)
    points = np.repeat(series, spec.horizon)
    steps = np.tile(np.arange(spec.horizon), len(series))
    first_cut = cut.reshape(len(panel.names), spec.n_windows)[:, 0]
    bands = {key: band.reshape(-1).astype(np.float64) for key, band in intervals.bands.items()}
    scores = score(points, actual.reshape(-1), observed.reshape(-1), mean.reshape(-1).astype(np.float64),
                   bands, seasonal_scale(panel, first_cut, spec.season_length))
    cut_points = np.repeat(cut, spec.horizon)
    rows = {
        "unique_id": id_column(panel, points),
        "cutoff": panel.calendar.times(points, cut_points - 1),
        "ds": panel.calendar.times(points, cut_points + steps),
        "y": np.where(observed.reshape(-1), actual.reshape(-1), np.nan).astype(np.float32),  # as the model read it
        "mean": mean.reshape(-1),
    }
    rows |= {f"q-{key}": q.reshape(-1) for key, q in intervals.quantiles.items()}
    rows |= {key: band.reshape(-1) for key, band in intervals.bands.items()}
    everyone = np.arange(len(panel.names))
    metrics = panel_table(panel, {"unique_id": id_column(panel, everyone), **scores.per_series}, ())
    return Backtest(panel_table(panel, rows, ("cutoff", "ds")), scores, metrics)


def run(forecaster: Forecaster, panel: Panel, spec: BacktestSpec) -> Backtest:
    """:func:`run_job` straight through (offline use: ``rnncast backtest``, benchmarks)."""
    return run_to_end(run_job(forecaster, panel, spec))


async def backtest(
    model: LoadedModel, panel: Panel, spec: BacktestSpec, limits: Limits, context: JobContext
) -> Backtest:
    """Checked backtest on the heavy lane, within ``context``."""
    forecaster = model.forecaster
    check(panel, spec, forecaster.window, limits)
    return await model.lane.run(lambda: run_job(forecaster, panel, spec), context)
