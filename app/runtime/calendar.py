"""Timestamps of forecast steps for a series with a start time and a frequency.

Calendar-aware for months, quarters and years (a month start stays a month start);
fixed steps for seconds to weeks. Codes follow pandas' offset aliases, with an
optional multiple such as ``15min`` or ``2H``.
"""

from __future__ import annotations

import calendar
import re
from datetime import datetime, timedelta

from app.runtime.errors import InvalidSeriesError

_FIXED = {
    "S": timedelta(seconds=1), "s": timedelta(seconds=1),
    "min": timedelta(minutes=1), "T": timedelta(minutes=1),
    "H": timedelta(hours=1), "h": timedelta(hours=1),
    "D": timedelta(days=1), "W": timedelta(weeks=1),
}
# months per step, and whether the step lands on the period's end rather than start
_CALENDAR = {
    "MS": (1, False), "M": (1, True), "ME": (1, True),
    "QS": (3, False), "Q": (3, True), "QE": (3, True),
    "YS": (12, False), "AS": (12, False), "Y": (12, True), "YE": (12, True), "A": (12, True),
}
_FREQ = re.compile(r"^(\d*)([A-Za-z]+)$")
FREQ_CODES = sorted([*_FIXED, *_CALENDAR])


def parse_freq(freq: str) -> tuple[int, str]:
    """Split ``15min`` into (15, 'min'); InvalidSeriesError for an unknown code."""
    match = _FREQ.match(freq.strip())
    if not match or match.group(2) not in (_FIXED.keys() | _CALENDAR.keys()):
        raise InvalidSeriesError(
            f"unknown freq {freq!r}; use one of {', '.join(FREQ_CODES)} with an optional "
            "multiple such as 15min",
            field="freq",
        )
    multiple = int(match.group(1) or 1)
    if multiple < 1:
        raise InvalidSeriesError("freq multiple must be at least 1", field="freq")
    return multiple, match.group(2)


def _add_months(moment: datetime, months: int, to_end: bool) -> datetime:
    total = moment.month - 1 + months
    year, month = moment.year + total // 12, total % 12 + 1
    last = calendar.monthrange(year, month)[1]
    day = last if to_end else min(moment.day, last)
    return moment.replace(year=year, month=month, day=day)


def _anchor(start: datetime, months: int, to_end: bool) -> datetime:
    """Roll ``start`` forward onto the period boundary, as pandas' date_range does:
    quarters end in Mar/Jun/Sep/Dec and start in Jan/Apr/Jul/Oct, years in Dec/Jan."""
    month = start.month
    if to_end:
        while month % months:
            month += 1
        return _add_months(start.replace(day=1), month - start.month, to_end=True)
    if start.day != 1:
        month += 1
    while (month - 1) % months:
        month += 1
    return _add_months(start.replace(day=1), month - start.month, to_end=False)


def step_times(start: datetime, freq: str, first: int, count: int) -> list[str]:
    """ISO 8601 times of steps ``first .. first+count-1`` counted from ``start`` (step 0)."""
    multiple, code = parse_freq(freq)
    try:
        if code in _FIXED:
            delta = _FIXED[code] * multiple
            return [(start + delta * (first + i)).isoformat() for i in range(count)]
        months, to_end = _CALENDAR[code]
        anchor = _anchor(start, months, to_end)
        return [
            _add_months(anchor, months * multiple * (first + i), to_end).isoformat()
            for i in range(count)
        ]
    except (OverflowError, ValueError) as exc:
        raise InvalidSeriesError(
            f"forecast timestamps leave the supported date range ({exc})", field="start"
        ) from exc
