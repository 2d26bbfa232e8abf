"""Each series' regular grid: where its timestamps sit on it, and the timestamps of
any grid position (history, cut-offs, forecast steps), vectorised over series."""

from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np
import numpy.typing as npt

from app.runtime.errors import InvalidSeriesError
from app.runtime.frames.freq import (
    BUSDAYS,
    DAY,
    FIXED,
    INDEX,
    MONTHS,
    Bools,
    Freq,
    Inferred,
    Int64s,
    day_number,
    is_month_end,
    month_number,
    month_start_day,
)

# datetime64[ns] spans 1677-09-21 .. 2262-04-11.
_NS_LIMIT = float(np.iinfo(np.int64).max)


@dataclass(frozen=True)
class Calendar:
    """Per-series grids: position ``p`` of series ``s`` is ``origin[s] + p * step[s]`` in
    the unit of ``kind[s]`` (see :mod:`app.runtime.frames.freq`)."""

    kind: Int64s
    origin: Int64s
    step: Int64s
    month_end: Bools
    time_of_day: Int64s
    aliases: list[str]

    def times(self, series: Int64s, positions: Int64s) -> Int64s:
        """Timestamps (ns since the epoch, or index values) of ``positions`` of ``series``."""
        kind, origin, step = self.kind[series], self.origin[series], self.step[series]
        out = np.empty(len(series), np.int64)
        linear = (kind == INDEX) | (kind == FIXED)
        _check_range(origin[linear] + positions[linear].astype(float) * step[linear])
        out[linear] = origin[linear] + positions[linear] * step[linear]
        if (months := kind == MONTHS).any():
            month = origin[months] + positions[months] * step[months]
            end = self.month_end[series][months].astype(np.int64)
            days = month_start_day(month + end) - end
            out[months] = self._at_time(days, series[months])
        if (busdays := kind == BUSDAYS).any():
            start = origin[busdays].astype("M8[D]")
            days = np.busday_offset(start, positions[busdays] * step[busdays], roll="forward")
            out[busdays] = self._at_time(days.astype(np.int64), series[busdays])
        return out

    def _at_time(self, days: Int64s, series: Int64s) -> Int64s:
        _check_range(days.astype(float) * DAY)
        return days * DAY + self.time_of_day[series]

    def positions(self, series: Int64s, stamps: Int64s) -> tuple[Int64s, Bools]:
        """Grid position of each timestamp of ``series``, and whether it lies on the grid."""
        kind, origin, step = self.kind[series], self.origin[series], self.step[series]
        offset = np.zeros(len(series), np.int64)
        on_grid = np.ones(len(series), bool)
        linear = (kind == INDEX) | (kind == FIXED)
        offset[linear] = stamps[linear] - origin[linear]
        if (months := kind == MONTHS).any():
            moment = stamps[months]
            ends = self.month_end[series][months]
            day = day_number(moment)
            on_day = np.where(ends, is_month_end(moment), day == month_start_day(month_number(moment)))
            on_grid[months] = on_day & (moment % DAY == self.time_of_day[series][months])
            offset[months] = month_number(moment) - origin[months]
        if (busdays := kind == BUSDAYS).any():
            day = day_number(stamps[busdays]).astype("M8[D]")
            on_time = stamps[busdays] % DAY == self.time_of_day[series][busdays]
            on_grid[busdays] = np.is_busday(day) & on_time
            offset[busdays] = np.busday_count(origin[busdays].astype("M8[D]"), day)
        on_grid &= offset % step == 0
        return offset // step, on_grid

    def advanced(self, by: Int64s) -> Calendar:
        """The same grids with each series' position 0 moved ``by`` steps later."""
        origin = self.origin.copy()
        linear = (self.kind == INDEX) | (self.kind == FIXED)
        origin[linear] += by[linear] * self.step[linear]
        origin[self.kind == MONTHS] += (by * self.step)[self.kind == MONTHS]
        if (busdays := self.kind == BUSDAYS).any():
            days = np.busday_offset(origin[busdays].astype("M8[D]"), (by * self.step)[busdays])
            origin[busdays] = days.astype(np.int64)
        return replace(self, origin=origin)

    def subset(self, series: Int64s) -> Calendar:
        """The calendars of ``series`` only, in that order."""
        return Calendar(
            self.kind[series], self.origin[series], self.step[series], self.month_end[series],
            self.time_of_day[series], [self.aliases[i] for i in series],
        )


def _check_range(approximate: npt.NDArray[np.float64]) -> None:
    """Refuse timestamps beyond int64 nanoseconds (checked in float, before they wrap)."""
    if len(approximate) and np.abs(approximate).max() >= _NS_LIMIT:
        raise InvalidSeriesError(
            "the timestamps leave the representable range (years 1678 to 2261)", field="ds"
        )


def calendar_of(first: Int64s, kind: Int64s, step: Int64s, month_end: Bools, aliases: list[str]) -> Calendar:
    """Calendars whose position 0 is each series' ``first`` timestamp."""
    origin = first.copy()
    origin[kind == MONTHS] = month_number(first[kind == MONTHS])
    origin[kind == BUSDAYS] = day_number(first[kind == BUSDAYS])
    tod = np.where((kind == MONTHS) | (kind == BUSDAYS), first % DAY, 0)
    return Calendar(kind, origin, step, month_end, tod, aliases)


def inferred_calendar(first: Int64s, found: Inferred) -> Calendar:
    """Calendars from :func:`app.runtime.frames.freq.infer`'s answer."""
    return calendar_of(first, found.kind, found.step, found.month_end, found.aliases)


def given_calendar(first: Int64s, freq: Freq, names: list[str]) -> Calendar:
    """Every series on ``freq``; its anchor (``W-SUN``, ``QS-JAN``) must fit each series' start."""
    count = len(first)
    if freq.anchor is not None:
        if freq.kind == MONTHS:
            misfit = (month_number(first) - (freq.anchor - 1)) % freq.cycle != 0
        else:
            misfit = (day_number(first) + 3) % 7 != freq.anchor
        if misfit.any():
            bad = int(np.argmax(misfit))
            stamp = np.datetime_as_string(first[bad : bad + 1].view("M8[ns]"), unit="D")[0]
            raise InvalidSeriesError(
                f"series {names[bad]!r} starts on {stamp}, which is not a {freq.alias} date", field="freq"
            )
    return calendar_of(
        first, np.full(count, freq.kind), np.full(count, freq.step), np.full(count, freq.month_end),
        [freq.alias] * count,
    )
