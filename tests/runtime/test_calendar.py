"""Forecast timestamps, calendar-aware where it matters."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from app.runtime.calendar import parse_freq, step_times
from app.runtime.errors import InvalidSeriesError


@pytest.mark.parametrize(
    ("start", "freq", "first", "expected"),
    [
        (datetime(2026, 1, 1), "D", 3, ["2026-01-04T00:00:00", "2026-01-05T00:00:00"]),
        (datetime(2026, 1, 1, 0, 0), "15min", 1, ["2026-01-01T00:15:00", "2026-01-01T00:30:00"]),
        (datetime(2026, 1, 1), "H", 25, ["2026-01-02T01:00:00", "2026-01-02T02:00:00"]),
        (datetime(2026, 1, 1), "S", 1, ["2026-01-01T00:00:01", "2026-01-01T00:00:02"]),
        (datetime(2026, 1, 1), "W", 1, ["2026-01-08T00:00:00", "2026-01-15T00:00:00"]),
        (datetime(2024, 1, 1), "MS", 1, ["2024-02-01T00:00:00", "2024-03-01T00:00:00"]),
        (datetime(2024, 1, 31), "ME", 1, ["2024-02-29T00:00:00", "2024-03-31T00:00:00"]),
        (datetime(2024, 1, 1), "QS", 1, ["2024-04-01T00:00:00", "2024-07-01T00:00:00"]),
        (datetime(2024, 3, 31), "QE", 1, ["2024-06-30T00:00:00", "2024-09-30T00:00:00"]),
        (datetime(2020, 1, 1), "YS", 2, ["2022-01-01T00:00:00", "2023-01-01T00:00:00"]),
        (datetime(2020, 2, 29), "YE", 1, ["2021-12-31T00:00:00", "2022-12-31T00:00:00"]),
        (datetime(2026, 1, 1, tzinfo=UTC), "D", 1, ["2026-01-02T00:00:00+00:00", "2026-01-03T00:00:00+00:00"]),
    ],
)
def test_step_times(start: datetime, freq: str, first: int, expected: list[str]) -> None:
    assert step_times(start, freq, first, 2) == expected


@pytest.mark.parametrize("freq", ["", "fortnight", "0D", "-1D", "1.5H"])
def test_unknown_freq_is_refused(freq: str) -> None:
    with pytest.raises(InvalidSeriesError) as info:
        parse_freq(freq)
    assert info.value.field == "freq"


def test_dates_beyond_the_calendar_are_refused() -> None:
    with pytest.raises(InvalidSeriesError, match="supported date range"):
        step_times(datetime(9999, 1, 1), "YS", 1, 2)
