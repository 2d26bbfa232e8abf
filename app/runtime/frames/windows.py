"""Model inputs cut from a panel: the window before any position of any series,
the actual values after it, and the positions backtests and calibration use.

A position ``e`` of a series is a forecast origin: the model reads the ``width``
values before it (``values[e - width : e]``) and forecasts ``values[e:]``. All
functions take arrays of (series, position) pairs and answer with one numpy
gather, never a loop over series.
"""

from __future__ import annotations

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view

from app.runtime.errors import InvalidSeriesError
from app.runtime.frames.fill import Floats
from app.runtime.frames.freq import Bools, Int64s
from app.runtime.frames.panel import Float32s, Panel


def windows_before(panel: Panel, series: Int64s, ends: Int64s, width: int) -> Float32s:
    """(k, width) float32: the ``width`` values of ``series[i]`` before position ``ends[i]``."""
    starts = panel.offsets[series] + ends - width
    if len(starts) and (starts.min() < 0 or (ends < width).any()):
        raise ValueError("a window starts before its series")  # callers check lengths first
    if not len(starts):
        return np.zeros((0, width), np.float32)
    return np.ascontiguousarray(sliding_window_view(panel.values, width)[starts])


def values_after(panel: Panel, series: Int64s, starts: Int64s, count: int) -> tuple[Floats, Bools]:
    """(k, count) values from position ``starts[i]`` on, and whether each was observed."""
    index = (panel.offsets[series] + starts)[:, None] + np.arange(count)
    return panel.values[index].astype(np.float64), panel.observed[index]


def require_length(panel: Panel, needed: int, why: str) -> None:
    """Refuse the first series shorter than ``needed``, saying ``why`` it needs that many."""
    short = panel.lengths < needed
    if short.any():
        s = int(np.argmax(short))
        raise InvalidSeriesError(
            f"{label(panel, s)} has {panel.lengths[s]} values; {why} needs at least {needed}",
            field=f"series[{s}].values" if panel.time_kind == "none" else "rows",
            limit=needed,
        )


def require_recent(panel: Panel, width: int, max_missing: float) -> None:
    """Refuse a series when more than ``max_missing`` of its last ``width`` values were
    filled rather than observed: its forecast would read mostly made-up values."""
    series = np.arange(len(panel.names))
    _, observed = values_after(panel, series, panel.lengths - width, width)
    share = 1.0 - observed.mean(axis=1)
    if (share > max_missing).any():
        s = int(np.argmax(share > max_missing))
        raise InvalidSeriesError(
            f"{label(panel, s)} has {round(share[s] * width)} of its last {width} values missing "
            f"(more than max_missing = {max_missing:g}); send more recent data or raise max_missing",
            field="rows",
        )


def label(panel: Panel, s: int) -> str:
    """How messages name series ``s``: by its id, else by its position."""
    name = panel.names[s]
    return f"series[{s}]" if name is None else f"series {name!r}"


def cutoffs(panel: Panel, horizon: int, n_windows: int, step_size: int) -> tuple[Int64s, Int64s]:
    """Backtest cut-offs, oldest first within each series: the last window ends at the
    series' end, the others ``step_size`` apart. Returns (series, position) per window."""
    series = np.repeat(np.arange(len(panel.names)), n_windows)
    back = np.tile(np.arange(n_windows - 1, -1, -1), len(panel.names)) * step_size
    return series, panel.lengths[series] - horizon - back


def calibration_origins(series: Int64s, ends: Int64s, horizon: int, count: int, step: int) -> tuple[Int64s, Int64s]:
    """For each origin (series, end): ``count`` earlier origins whose ``horizon`` steps
    end by ``end``, ``step`` apart: (k * count,) series and positions, origin-major."""
    back = horizon + np.arange(count) * step
    return np.repeat(series, count), (ends[:, None] - back).reshape(-1)


def one_step_targets(panel: Panel, width: int, newest: int | None) -> tuple[Int64s, Int64s]:
    """Every position after the first ``width`` of each series (or its ``newest`` last
    ones): (series, position) of each in-sample one-step forecast."""
    first = np.full(len(panel.names), width) if newest is None else np.maximum(panel.lengths - newest, width)
    counts = np.maximum(panel.lengths - first, 0)
    series = np.repeat(np.arange(len(panel.names)), counts)
    starts = np.repeat(np.cumsum(counts) - counts, counts)
    return series, first[series] + np.arange(len(series)) - starts
