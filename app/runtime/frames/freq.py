"""Frequencies of long-format series: parse pandas aliases, infer them, place
timestamps on each series' own grid and generate the grid's timestamps.

Everything is vectorised over rows and series: per-series quantities are numpy
arrays indexed by series, and per-row work is one numpy expression per calendar
kind. A series' calendar is (kind, origin, step): grid position ``p`` is the time
``origin + p * step`` in the kind's unit:

- ``INDEX``: integer ``ds`` (or row order when there is no ``ds``), unit 1.
- ``FIXED``: nanoseconds (``s``, ``min``, ``h``, ``D``, ``W``, ...).
- ``MONTHS``: months since 1970-01 (``MS``, ``ME``, ``QS``, ``QE``, ``YS``, ``YE``);
  the day is the month's first or last, plus a constant time of day.
- ``BUSDAYS``: weekdays (``B``), plus a constant time of day.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from app.runtime.errors import InvalidSeriesError

Int64s = npt.NDArray[np.int64]
Bools = npt.NDArray[np.bool_]

INDEX, FIXED, MONTHS, BUSDAYS = 0, 1, 2, 3
DAY = 86_400 * 10**9
_UNITS = {  # fixed-step aliases in nanoseconds; pandas' current spelling first
    "ns": 1, "us": 10**3, "ms": 10**6, "s": 10**9, "S": 10**9, "min": 60 * 10**9, "T": 60 * 10**9,
    "h": 3_600 * 10**9, "H": 3_600 * 10**9, "D": DAY,
}
_INFER_UNITS = [("D", DAY), ("h", 3_600 * 10**9), ("min", 60 * 10**9), ("s", 10**9), ("ms", 10**6), ("us", 10**3)]
_MONTHLY = {  # alias -> (months per step, lands on the month's end)
    "MS": (1, False), "ME": (1, True), "M": (1, True),
    "QS": (3, False), "QE": (3, True), "Q": (3, True),
    "YS": (12, False), "AS": (12, False), "YE": (12, True), "Y": (12, True), "A": (12, True),
}
MONTH_NAMES = ["JAN", "FEB", "MAR", "APR", "MAY", "JUN", "JUL", "AUG", "SEP", "OCT", "NOV", "DEC"]
WEEKDAY_NAMES = ["MON", "TUE", "WED", "THU", "FRI", "SAT", "SUN"]
_ALIAS = re.compile(r"^(\d*)([A-Za-z]+)(?:-([A-Za-z]{3}))?$")


@dataclass(frozen=True)
class Freq:
    """A parsed frequency alias: the grid step and, for anchored aliases, the anchor.

    ``anchor`` is a weekday (0 = Monday) for ``W-SUN``, the month (1-12) for
    ``QS-JAN`` / ``YE-DEC`` (whose quarters or years, ``cycle`` months long, it
    starts or ends); None when the alias names none: a series then keeps its own
    alignment and steps on from its own timestamps.
    """

    alias: str
    kind: int
    step: int
    month_end: bool = False
    anchor: int | None = None
    cycle: int = 1


def parse_freq(alias: str) -> Freq:
    """pandas' offset alias (``15min``, ``D``, ``W-SUN``, ``MS``, ``QE-DEC``, ``2YS``...) -> Freq."""
    match = _ALIAS.match(alias.strip())
    if match is None:
        raise _unknown(alias)
    count = int(match.group(1) or 1)
    code, suffix = match.group(2), match.group(3)
    if count < 1:
        raise InvalidSeriesError(f"freq {alias!r}: the multiple must be at least 1", field="freq")
    suffix = suffix.upper() if suffix else None
    if code in _UNITS and suffix is None:
        return Freq(alias, FIXED, count * _UNITS[code])
    if code == "W" and (suffix is None or suffix in WEEKDAY_NAMES):
        return Freq(alias, FIXED, count * 7 * DAY, anchor=None if suffix is None else WEEKDAY_NAMES.index(suffix))
    if code == "B" and suffix is None:
        return Freq(alias, BUSDAYS, count)
    if code in _MONTHLY and (suffix is None or (code[0] != "M" and suffix in MONTH_NAMES)):
        months, end = _MONTHLY[code]
        anchor = None if suffix is None else MONTH_NAMES.index(suffix) + 1
        return Freq(alias, MONTHS, count * months, month_end=end, anchor=anchor, cycle=months)
    raise _unknown(alias)


def _unknown(alias: str) -> InvalidSeriesError:
    return InvalidSeriesError(
        f"unknown freq {alias!r}; use a pandas alias: s, min, h, D, B, W or W-SUN, MS, ME, "
        "QS or QS-JAN, QE, YS, YE, with an optional multiple such as 15min",
        field="freq",
    )


def segment_gcd(deltas: Int64s, starts: Int64s) -> Int64s:
    """Greatest common divisor of each segment of ``deltas`` (0 for a segment of zeros)."""
    return np.gcd.reduceat(np.abs(deltas), starts) if len(deltas) else np.zeros(0, np.int64)


def within_deltas(values: Int64s, starts: Int64s) -> Int64s:
    """values[i] - values[i-1] inside each segment, 0 at every segment's first row."""
    deltas = np.zeros(len(values), np.int64)
    deltas[1:] = np.diff(values)
    deltas[starts] = 0
    return deltas


def month_number(ns: Int64s) -> Int64s:
    """Months since 1970-01 of each timestamp (nanoseconds since the epoch)."""
    return ns.view("M8[ns]").astype("M8[M]").astype(np.int64)


def day_number(ns: Int64s) -> Int64s:
    """Days since 1970-01-01 (floor, also before the epoch)."""
    return ns // DAY


def month_start_day(months: Int64s) -> Int64s:
    """The day number of the first day of each month number."""
    return months.astype("M8[M]").astype("M8[D]").astype(np.int64)


def is_month_end(ns: Int64s) -> Bools:
    """Whether each timestamp falls on the last day of its month."""
    last_day: Bools = day_number(ns) == month_start_day(month_number(ns) + 1) - 1
    return last_day


@dataclass(frozen=True)
class Inferred:
    """Per-series calendar found by :func:`infer`: kind, step, month end, and alias."""

    kind: Int64s
    step: Int64s
    month_end: Bools
    aliases: list[str]


def _reduce_all(flags: Bools, starts: Int64s) -> Bools:
    return np.logical_and.reduceat(flags, starts) if len(flags) else np.zeros(0, bool)


def _months(ns: Int64s, starts: Int64s, counts: Int64s, candidates: Bools) -> tuple[Bools, Int64s, Bools]:
    """For the ``candidates`` series only (datetime conversions are the costly part):
    whether each sits on month starts or ends, its step in months, and whether ends."""
    monthly = np.zeros(len(starts), bool)
    step = np.zeros(len(starts), np.int64)
    end = np.zeros(len(starts), bool)
    if candidates.any():
        stamps = ns[np.repeat(candidates, counts)]
        sub_starts = np.concatenate([[0], np.cumsum(counts[candidates])[:-1]]).astype(np.int64)
        months = month_number(stamps)
        step[candidates] = segment_gcd(within_deltas(months, sub_starts), sub_starts)
        on_start = _reduce_all(day_number(stamps) == month_start_day(months), sub_starts)
        end[candidates] = _reduce_all(is_month_end(stamps), sub_starts)
        monthly[candidates] = (step[candidates] > 0) & (on_start | end[candidates])
    return monthly, step, end & monthly


def infer(ns: Int64s, starts: Int64s) -> Inferred:
    """pandas' ``infer_freq`` rules for each series of sorted timestamps, applied to the
    greatest common step rather than a unique one, so that gaps do not stop inference.

    ``ns``: nanoseconds since the epoch, sorted within each series; ``starts``: first
    row of each series. A series whose step cannot be found gets the alias ``""``.
    """
    deltas = within_deltas(ns, starts)
    gcd = segment_gcd(deltas, starts)
    counts = np.diff(np.append(starts, len(ns)))
    smallest = np.minimum.reduceat(np.where(deltas == 0, np.iinfo(np.int64).max, deltas), starts) if len(ns) else gcd
    same_time = segment_gcd(within_deltas(ns % DAY, starts), starts) == 0
    daily = (gcd > 0) & (gcd % DAY == 0)
    # a month is at least 28 days: only series never closer than that can be monthly
    monthly, month_step, month_end = _months(ns, starts, counts, daily & same_time & (smallest >= 28 * DAY))
    weekday = (day_number(ns) + 3) % 7  # 1970-01-01 was a Thursday (3)
    weekend_free = _reduce_all(weekday < 5, starts)
    spans_weekend = np.logical_or.reduceat(deltas > DAY, starts) if len(ns) else weekend_free
    busday = daily & ~monthly & (gcd == DAY) & same_time & weekend_free & spans_weekend
    kind = np.where(monthly, MONTHS, np.where(busday, BUSDAYS, FIXED)).astype(np.int64)
    step = np.where(monthly, month_step, np.where(busday, 1, gcd)).astype(np.int64)
    first = ns[starts] if len(ns) else ns
    keys = np.stack([kind, step, month_end, month_number(first) % 12, weekday[starts] if len(ns) else first])
    unique, inverse = np.unique(keys, axis=1, return_inverse=True)
    names = [_alias(*(int(v) for v in column)) for column in unique.T]
    return Inferred(kind, step, month_end, [names[i] for i in inverse.reshape(-1)])


def _count(count: int, alias: str) -> str:
    return alias if count == 1 else f"{count}{alias}"


def _alias(kind: int, step: int, end: int, month0: int, weekday: int) -> str:
    """pandas' name for an inferred calendar (first timestamp's month and weekday)."""
    if step <= 0:
        return ""
    if kind == BUSDAYS:
        return "B"
    if kind == MONTHS:
        position = "E" if end else "S"
        if step % 12 == 0:
            return _count(step // 12, f"Y{position}-{MONTH_NAMES[month0]}")
        if step % 3 == 0:  # as pandas: QS by the first quarter's start, QE by the last's end
            anchor = month0 % 3 + (9 if end else 0)
            return _count(step // 3, f"Q{position}-{MONTH_NAMES[anchor]}")
        return _count(step, f"M{position}")
    if step % DAY == 0:
        days = step // DAY
        return _count(days // 7, f"W-{WEEKDAY_NAMES[weekday]}") if days % 7 == 0 else _count(days, "D")
    unit, size = next(((u, s) for u, s in _INFER_UNITS if step % s == 0), ("ns", 1))
    return _count(step // size, unit)
