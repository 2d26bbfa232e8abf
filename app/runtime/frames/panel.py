"""Long-format rows -> a panel of regular series: sorted, checked for duplicates,
placed on each series' calendar, gaps filled by a stated policy.

A :class:`Frame` is the rows as columns; a :class:`Panel` is every series' values
laid end to end (``offsets`` bound series ``s`` at ``offsets[s]:offsets[s+1]``) on
its regular grid, with a mask of the values that were observed rather than filled.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

import numpy as np
import numpy.typing as npt

from app.runtime.errors import InvalidSeriesError, LimitExceededError
from app.runtime.frames.fill import FillPolicy, Floats, fill_missing, first_observed
from app.runtime.frames.freq import INDEX, Bools, Int64s, infer, parse_freq, segment_gcd, within_deltas
from app.runtime.frames.grid import Calendar, calendar_of, given_calendar, inferred_calendar
from app.runtime.frames.times import format_times

Float32s = npt.NDArray[np.float32]
TimeKind = Literal["datetime", "index", "none"]
FLOAT32_MAX = float(np.finfo(np.float32).max)


@dataclass(frozen=True)
class Frame:
    """Long-format rows as columns.

    ``codes[i]`` is row i's series, an index into ``names`` (the ids in order of first
    appearance); ``y`` holds NaN where a value is missing; ``ds`` holds nanoseconds
    since the epoch (``time_kind == "datetime"``, UTC when ``zoned``), integers
    (``"index"``), or is None (``"none"``: row order is time order).
    """

    codes: Int64s
    names: list[str]
    y: Floats
    ds: Int64s | None
    time_kind: TimeKind
    zoned: bool = False


def factorize(ids: Sequence[str] | npt.NDArray[np.str_] | npt.NDArray[np.object_]) -> tuple[Int64s, list[str]]:
    """Series code of each row and the distinct ids in order of first appearance."""
    uniques, first, inverse = np.unique(np.asarray(ids), return_index=True, return_inverse=True)
    order = np.argsort(first)
    rank = np.empty(len(order), np.int64)
    rank[order] = np.arange(len(order))
    return rank[inverse.reshape(-1)], [str(name) for name in uniques[order]]


@dataclass(frozen=True)
class FillReport:
    """Per series: grid timestamps that had no row, null values, leading nulls dropped."""

    missing_timestamps: Int64s
    missing_values: Int64s
    dropped_leading: Int64s


@dataclass(frozen=True)
class Panel:
    """Regular series end to end; see the module docstring."""

    names: list[str | None]
    offsets: Int64s
    values: Float32s
    observed: Bools
    calendar: Calendar
    time_kind: TimeKind
    report: FillReport
    zoned: bool = False

    @property
    def lengths(self) -> Int64s:
        """Values per series."""
        return np.diff(self.offsets)

    def stamp_text(self, series: int, position: int) -> str:
        """A grid position's time as text, for messages."""
        stamp = self.calendar.times(np.array([series]), np.array([position]))
        return _stamp_text(stamp, self.time_kind)


def _stamp_text(stamp: Int64s, time_kind: TimeKind) -> str:
    return str(format_times(stamp, False)[0]) if time_kind == "datetime" else str(int(stamp[0]))


def panel_of_series(values: Sequence[npt.NDArray[np.float32]], names: Sequence[str | None]) -> Panel:
    """A panel of already regular, complete series (the JSON ``series`` form)."""
    lengths = np.array([len(v) for v in values], np.int64)
    count = len(values)
    zeros = np.zeros(count, np.int64)
    return Panel(
        names=list(names),
        offsets=np.concatenate([[0], np.cumsum(lengths)]).astype(np.int64),
        values=np.concatenate(values).astype(np.float32, copy=False),
        observed=np.ones(int(lengths.sum()), bool),
        calendar=calendar_of(zeros, np.full(count, INDEX), np.ones(count, np.int64), np.zeros(count, bool),
                             ["1"] * count),
        time_kind="none",
        report=FillReport(zeros, zeros, zeros),
    )


def _in_order(frame: Frame) -> bool:
    """Whether the rows are already sorted by series, then time (a linear check)."""
    step = np.diff(frame.codes)
    if frame.ds is None:
        return bool((step >= 0).all())
    return bool(((step > 0) | ((step == 0) & (np.diff(frame.ds) >= 0))).all())


def _sorted(frame: Frame) -> tuple[Int64s, Int64s, Floats, Int64s]:
    """Rows sorted by series then time: codes, times, values, and each series' start."""
    count = len(frame.names)
    if _in_order(frame):  # rows grouped by series, in time order, as most tools send them: no copies
        codes, ds, y = frame.codes, frame.ds, frame.y
    else:
        order = np.argsort(frame.codes, kind="stable") if frame.ds is None else np.lexsort((frame.ds, frame.codes))
        codes, ds, y = frame.codes[order], None if frame.ds is None else frame.ds[order], frame.y[order]
    starts = np.concatenate([[0], np.cumsum(np.bincount(codes, minlength=count))[:-1]]).astype(np.int64)
    positions = np.arange(len(codes)) - starts[codes] if ds is None else ds
    return codes, positions.astype(np.int64, copy=False), y, starts


def _refuse_duplicates(frame: Frame, codes: Int64s, ds: Int64s) -> None:
    twin = (codes[1:] == codes[:-1]) & (ds[1:] == ds[:-1])
    if twin.any():
        i = int(np.argmax(twin))
        when = _stamp_text(ds[i : i + 1], frame.time_kind)
        raise InvalidSeriesError(
            f"series {frame.names[codes[i]]!r} has more than one row at {when}; send one value per time",
            field="rows",
        )


def _index_step(freq: str | None, ds: Int64s, starts: Int64s) -> Int64s:
    """Integer times: the given step, else each series' greatest common step (1 alone)."""
    if freq is None:
        return np.maximum(segment_gcd(within_deltas(ds, starts), starts), 1)
    if not freq.strip().isdigit() or int(freq) < 1:
        raise InvalidSeriesError(f"freq {freq!r}: integer times take a positive integer step", field="freq")
    return np.full(len(starts), int(freq), np.int64)


def _calendar(frame: Frame, ds: Int64s, starts: Int64s, freq: str | None) -> Calendar:
    """Each series' grid: ``freq`` when given, else inferred per series."""
    first = ds[starts]
    count = len(starts)
    if frame.time_kind != "datetime":
        step = _index_step(freq, ds, starts) if frame.time_kind == "index" else np.ones(count, np.int64)
        return calendar_of(first, np.full(count, INDEX), step, np.zeros(count, bool), [str(s) for s in step])
    if freq is not None:
        return given_calendar(first, parse_freq(freq), frame.names)
    found = infer(ds, starts)
    if "" in found.aliases:
        bad = found.aliases.index("")
        raise InvalidSeriesError(
            f"series {frame.names[bad]!r} has a single timestamp, so its frequency cannot be inferred; "
            "give freq", field="freq",
        )
    return inferred_calendar(first, found)


def to_panel(frame: Frame, freq: str | None, policy: FillPolicy, max_length: int) -> Panel:
    """Sort, check, place on the grid and fill; refuses a series with one sentence naming it.

    ``freq`` (a pandas alias, or an integer step for integer times) applies to every
    series; None: inferred per series from its own times (ignored without times);
    ``max_length`` bounds a series' length on its grid, before anything is allocated.
    """
    codes, ds, y, starts = _sorted(frame)
    if np.isinf(y).any():
        i = int(np.argmax(np.isinf(y)))
        raise InvalidSeriesError(f"series {frame.names[codes[i]]!r} has an infinite value", field="rows")
    _refuse_duplicates(frame, codes, ds)
    calendar = _calendar(frame, ds, starts, freq)
    positions, on_grid = calendar.positions(codes, ds)
    if not on_grid.all():
        i = int(np.argmin(on_grid))
        name = frame.names[codes[i]]
        start = starts[codes[i]]
        raise InvalidSeriesError(
            f"series {name!r} has a row at {_stamp_text(ds[i : i + 1], frame.time_kind)}, off its "
            f"{calendar.aliases[codes[i]]} calendar from {_stamp_text(ds[start : start + 1], frame.time_kind)}",
            field="ds",
        )
    ends = np.concatenate([starts[1:], [len(codes)]]) - 1
    lengths = positions[ends] + 1
    if (lengths > max_length).any():
        s = int(np.argmax(lengths > max_length))
        raise LimitExceededError(
            f"series {frame.names[s]!r} spans {lengths[s]} steps of {calendar.aliases[s]}; "
            f"at most {max_length} values per series",
            field="rows", limit=max_length,
        )
    return _fill(frame, codes, positions, y, lengths, calendar, policy)


def _fill(
    frame: Frame, codes: Int64s, positions: Int64s, y: Floats, lengths: Int64s, calendar: Calendar,
    policy: FillPolicy,
) -> Panel:
    grid = np.concatenate([[0], np.cumsum(lengths)]).astype(np.int64)
    values = np.full(int(grid[-1]), np.nan)
    had_row = np.zeros(len(values), bool)
    values[grid[codes] + positions] = y
    had_row[grid[codes] + positions] = True
    first = first_observed(values, grid[:-1], grid[1:])
    if (first == grid[1:]).any():
        s = int(np.argmax(first == grid[1:]))
        raise InvalidSeriesError(f"series {frame.names[s]!r} has no values, only nulls", field="rows")
    dropped = first - grid[:-1]
    keep = np.arange(len(values)) >= np.repeat(first, lengths)
    values, had_row = values[keep], had_row[keep]
    offsets = np.concatenate([[0], np.cumsum(lengths - dropped)]).astype(np.int64)
    observed = np.isfinite(values)
    missing = np.add.reduceat(~observed, offsets[:-1])
    if policy.method == "refuse" and missing.any():
        s = int(np.argmax(missing > 0))
        raise InvalidSeriesError(
            f"series {frame.names[s]!r} has {missing[s]} missing values and fill is 'refuse'", field="fill"
        )
    filled = fill_missing(values, policy.method, np.repeat(offsets[1:], np.diff(offsets)))
    if (np.abs(filled) > FLOAT32_MAX).any():
        s = int(np.searchsorted(offsets, int(np.argmax(np.abs(filled) > FLOAT32_MAX)), side="right") - 1)
        raise InvalidSeriesError(
            f"series {frame.names[s]!r} has a value beyond float32's range (|y| <= {FLOAT32_MAX:.3e})",
            field="rows",
        )
    no_row = np.add.reduceat(~had_row, offsets[:-1])
    return Panel(
        names=list(frame.names),
        offsets=offsets,
        values=filled.astype(np.float32),
        observed=observed,
        calendar=calendar.advanced(dropped),
        time_kind=frame.time_kind,
        report=FillReport(no_row, missing - no_row, dropped),
        zoned=frame.zoned,
    )
