"""Forecasts of long-format rows: rows -> panel -> one-step or multi-step forecasts
with intervals -> answer rows on each series' own calendar.

The compute functions take a panel and return a Table, so an offline engine gets
the server's numbers by calling them on any chunk of series; the ``async``
wrappers add the request checks and run the compute where the model's batcher
puts it.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from app.runtime.budget import check_cost, id_chars, json_row_bytes, rows_cost
from app.runtime.errors import HorizonTooLongError
from app.runtime.forecaster import Forecaster
from app.runtime.frames.fill import FillPolicy
from app.runtime.frames.panel import Frame, Panel, to_panel
from app.runtime.frames.table import Table, id_column, panel_table
from app.runtime.frames.windows import require_length, require_recent, windows_before
from app.runtime.intervals import Intervals, IntervalSpec, band_names, check_spec, forecast_job, format_quantile
from app.runtime.jobs import NO_DEADLINE, Deadline, Job, JobContext, run_to_end
from app.runtime.registry import LoadedModel
from app.runtime.seeding import series_keys
from app.runtime.service import Limits, check_count, forecast_one_step


@dataclass(frozen=True)
class RowsSpec:
    """How rows become regular series: the frequency (None: inferred) and the fill policy."""

    freq: str | None = None
    fill: FillPolicy = field(default_factory=FillPolicy)


def build_panel(frame: Frame, spec: RowsSpec, window: int, limits: Limits) -> Panel:
    """The frame as regular series, each long enough for ``window`` and recent enough."""
    check_count(len(frame.names), limits)
    panel = to_panel(frame, spec.freq, spec.fill, limits.max_values_per_series)
    require_length(panel, window, "this model")
    require_recent(panel, window, spec.fill.max_missing)
    return panel


def next_values_table(panel: Panel, predictions: np.ndarray) -> Table:
    """One row per series: its id, the next grid time and the forecast."""
    series = np.arange(len(panel.names))
    return panel_table(panel, {
        "unique_id": id_column(panel, series),
        "ds": panel.calendar.times(series, panel.lengths),
        "mean": predictions,
    })


def ahead_table(panel: Panel, mean: np.ndarray, intervals: Intervals) -> Table:
    """``horizon`` rows per series: id, grid time, mean, quantiles (``q-0.1``) and bands."""
    count, horizon = mean.shape
    series = np.repeat(np.arange(count), horizon)
    steps = np.tile(np.arange(horizon), count)
    columns = {
        "unique_id": id_column(panel, series),
        "ds": panel.calendar.times(series, panel.lengths[series] + steps),
        "mean": mean.reshape(-1),
    }
    columns |= {f"q-{key}": q.reshape(-1) for key, q in intervals.quantiles.items()}
    columns |= {key: band.reshape(-1) for key, band in intervals.bands.items()}
    return panel_table(panel, columns)


def forecast_ahead_job(
    forecaster: Forecaster, panel: Panel, horizon: int, spec: IntervalSpec, seed: int
) -> Job[Table]:
    """``horizon`` recursive steps after every series' end, with the intervals asked for,
    as a chunked job (:mod:`app.runtime.jobs`)."""
    series = np.arange(len(panel.names))
    mean, intervals = yield from forecast_job(
        forecaster, panel, series, panel.lengths, horizon, spec, series_keys(seed, panel.names)
    )
    return ahead_table(panel, mean, intervals)


def forecast_ahead(forecaster: Forecaster, panel: Panel, horizon: int, spec: IntervalSpec, seed: int) -> Table:
    """:func:`forecast_ahead_job` run straight through (offline use)."""
    return run_to_end(forecast_ahead_job(forecaster, panel, horizon, spec, seed))


def check_ahead(panel: Panel, horizon: int, spec: IntervalSpec, window: int, limits: Limits) -> None:
    """Horizon, interval and budget checks of a multi-step request on rows."""
    if not 1 <= horizon <= limits.max_horizon:
        raise HorizonTooLongError(
            f"horizon {horizon} is outside 1..{limits.max_horizon}", field="horizon", limit=limits.max_horizon
        )
    check_spec(spec, limits.max_num_samples)
    count = len(panel.names)
    columns = ["mean", *(f"q-{format_quantile(q)}" for q in spec.quantiles), *band_names(spec.levels)]
    cost = rows_cost(count * horizon * (1 + spec.recursions), count * horizon, len(columns) + 1,
                     json_row_bytes(columns, ["ds"], id_chars(panel.names)), count)
    check_cost(cost, max_rows=limits.max_compute_rows, max_response_bytes=limits.max_response_bytes,
               formula="series x horizon x (1 + num_samples or calibration windows) + the values returned")
    require_length(panel, spec.history_needed(window, horizon),
                   f"{spec.method} intervals over horizon {horizon}")


async def next_values(model: LoadedModel, panel: Panel, deadline: Deadline = NO_DEADLINE) -> Table:
    """One-step forecasts of every series through the dynamic batcher."""
    series = np.arange(len(panel.names))
    windows = windows_before(panel, series, panel.lengths, model.forecaster.window)
    predictions, _ = await forecast_one_step(model, windows, deadline)
    return next_values_table(panel, predictions)


async def ahead(model: LoadedModel, panel: Panel, horizon: int, spec: IntervalSpec, seed: int,
                limits: Limits, context: JobContext) -> Table:
    """Checked multi-step forecasts on the heavy lane, within ``context``."""
    forecaster = model.forecaster
    check_ahead(panel, horizon, spec, forecaster.window, limits)
    return await model.lane.run(lambda: forecast_ahead_job(forecaster, panel, horizon, spec, seed), context)
