"""Long-format rows -> regular series: frequencies against pandas, calendars, gaps, refusals."""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
import pytest

from app.runtime.errors import InvalidSeriesError, LimitExceededError
from app.runtime.frames.fill import FillPolicy
from app.runtime.frames.freq import infer, parse_freq
from app.runtime.frames.panel import Frame, Panel, factorize, to_panel
from app.runtime.frames.times import format_times, parse_times
from app.runtime.frames.windows import require_recent

FREQS = [
    ("2020-01-01", "D"), ("2020-01-01", "3D"), ("2020-01-05", "W-SUN"), ("2020-01-06", "W-MON"),
    ("2020-01-01", "MS"), ("2020-01-31", "ME"), ("2020-02-01", "2MS"), ("2020-01-01", "QS-JAN"),
    ("2020-02-01", "QS-FEB"), ("2020-03-31", "QE-DEC"), ("2020-01-31", "QE-OCT"), ("2020-01-01", "YS-JAN"),
    ("2020-12-31", "YE-DEC"), ("2020-07-01", "2YS-JUL"), ("2020-01-01 12:00", "MS"), ("2020-01-01", "h"),
    ("2020-01-01", "15min"), ("2020-01-01", "s"), ("2020-01-01", "ms"), ("2020-01-01", "B"), ("2019-12-31", "B"),
]


def _ns(index: pd.DatetimeIndex) -> np.ndarray:
    return index.values.astype("M8[ns]").astype(np.int64)


def _pandas_freq(index: pd.DatetimeIndex) -> str | None:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # pandas 3 announces offsets instead of strings
        return pd.infer_freq(index)


def frame_of(df: pd.DataFrame) -> Frame:
    codes, names = factorize(df["unique_id"].to_numpy())
    stamps, zoned = parse_times(df["ds"].astype(str).to_numpy(), "ds")
    return Frame(codes, names, df["y"].to_numpy(float), stamps, "datetime", zoned)


def panel_of(df: pd.DataFrame, freq: str | None = None, **policy: object) -> Panel:
    return to_panel(frame_of(df), freq, FillPolicy(**policy), 100_000)  # type: ignore[arg-type]


@pytest.mark.parametrize(("start", "freq"), FREQS)
def test_inferred_frequency_is_pandas(start: str, freq: str) -> None:
    index = pd.date_range(start, periods=30, freq=freq)
    assert infer(_ns(index), np.array([0])).aliases == [_pandas_freq(index)]


@pytest.mark.parametrize(("start", "freq"), FREQS)
def test_gaps_do_not_stop_inference(start: str, freq: str) -> None:
    """pandas needs a regular index; the smallest common step is found with gaps too."""
    full = pd.date_range(start, periods=30, freq=freq)
    gappy = full.delete([3, 4, 11, 20])
    assert _pandas_freq(gappy) is None
    assert infer(_ns(gappy), np.array([0])).aliases == [_pandas_freq(full)]


@pytest.mark.parametrize(("start", "freq"), FREQS)
def test_forecast_times_continue_each_calendar_like_pandas(start: str, freq: str) -> None:
    index = pd.date_range(start, periods=40, freq=freq)
    df = pd.DataFrame({"unique_id": "a", "ds": index[:30], "y": np.arange(30.0)})
    panel = panel_of(df)
    future = panel.calendar.times(np.zeros(10, np.int64), 30 + np.arange(10))
    np.testing.assert_array_equal(future, _ns(index[30:]))


def test_every_series_keeps_its_own_calendar() -> None:
    monthly = pd.DataFrame({"unique_id": "m", "ds": pd.date_range("2021-03-31", periods=12, freq="ME"), "y": 1.0})
    daily = pd.DataFrame({"unique_id": "d", "ds": pd.date_range("2021-01-01", periods=5, freq="D"), "y": 2.0})
    panel = panel_of(pd.concat([daily, monthly]))
    assert panel.calendar.aliases == ["D", "ME"]
    next_times = format_times(panel.calendar.times(np.array([0, 1]), panel.lengths), False)
    assert next_times.tolist() == ["2021-01-06", "2022-03-31"]


def test_given_freq_applies_to_every_series_and_checks_anchors() -> None:
    df = pd.DataFrame({"unique_id": "a", "ds": pd.date_range("2020-01-01", periods=8, freq="QS"), "y": 1.0})
    assert panel_of(df, "QS-JAN").calendar.aliases == ["QS-JAN"]
    with pytest.raises(InvalidSeriesError, match="starts on 2020-01-01, which is not a QS-FEB date"):
        panel_of(df, "QS-FEB")
    with pytest.raises(InvalidSeriesError, match="unknown freq 'fortnight'"):
        parse_freq("fortnight")


def test_unsorted_rows_are_sorted_and_ids_keep_first_appearance() -> None:
    df = pd.DataFrame({"unique_id": ["b", "a", "b", "a", "b"],
                       "ds": ["2020-01-03", "2020-01-02", "2020-01-01", "2020-01-01", "2020-01-02"],
                       "y": [3.0, 20.0, 1.0, 10.0, 2.0]})
    panel = panel_of(df)
    assert panel.names == ["b", "a"]
    np.testing.assert_array_equal(panel.values, [1, 2, 3, 10, 20])


def test_duplicates_off_grid_rows_and_lone_timestamps_are_refused_naming_the_series() -> None:
    twin = pd.DataFrame({"unique_id": ["a", "a", "x"], "ds": ["2020-01-01", "2020-01-01", "2020-01-01"],
                         "y": [1.0, 2.0, 3.0]})
    with pytest.raises(InvalidSeriesError, match="series 'a' has more than one row at 2020-01-01"):
        panel_of(twin)
    odd = pd.DataFrame({"unique_id": "m", "ds": ["2020-01-01", "2020-02-01", "2020-02-15"], "y": 1.0})
    with pytest.raises(InvalidSeriesError, match="series 'm' has a row at 2020-02-15, off its MS calendar from 2020-01-01"):
        panel_of(odd, "MS")
    lone = pd.DataFrame({"unique_id": ["a", "a", "z"], "ds": ["2020-01-01", "2020-01-02", "2020-01-01"], "y": 1.0})
    with pytest.raises(InvalidSeriesError, match="series 'z' has a single timestamp"):
        panel_of(lone)


@pytest.mark.parametrize(("method", "expected"), [
    ("linear", [1, 2, 3, 4, 5, 6]), ("ffill", [1, 2, 2, 4, 4, 6]), ("zero", [1, 2, 0, 4, 0, 6]),
])
def test_missing_timestamps_and_nulls_are_filled_and_reported(method: str, expected: list[float]) -> None:
    df = pd.DataFrame({"unique_id": "a", "ds": ["2020-01-01", "2020-01-02", "2020-01-04", "2020-01-05", "2020-01-06"],
                       "y": [1.0, 2.0, 4.0, None, 6.0]})
    panel = panel_of(df, method=method)
    np.testing.assert_array_equal(panel.values, expected)
    np.testing.assert_array_equal(panel.observed, [True, True, False, True, False, True])
    assert (panel.report.missing_timestamps[0], panel.report.missing_values[0]) == (1, 1)


def test_leading_nulls_are_dropped_a_missing_tail_carried_and_refuse_refuses() -> None:
    df = pd.DataFrame({"unique_id": "a", "ds": pd.date_range("2020-01-01", periods=6, freq="D"),
                       "y": [None, None, 1.0, 3.0, None, None]})
    panel = panel_of(df)
    np.testing.assert_array_equal(panel.values, [1, 3, 3, 3])
    assert panel.report.dropped_leading[0] == 2
    assert format_times(panel.calendar.times(np.array([0]), np.array([0])), False)[0] == "2020-01-03"
    with pytest.raises(InvalidSeriesError, match="series 'a' has 2 missing values and fill is 'refuse'"):
        panel_of(df, method="refuse")


def test_a_mostly_missing_recent_window_is_refused() -> None:
    df = pd.DataFrame({"unique_id": "a", "ds": pd.date_range("2020-01-01", periods=20, freq="D"), "y": 1.0})
    df = df.drop(index=[14, 15, 16, 17])
    panel = panel_of(df)
    require_recent(panel, 10, 0.5)
    with pytest.raises(InvalidSeriesError, match="series 'a' has 4 of its last 6 values missing"):
        require_recent(panel, 6, 0.5)


def test_series_spanning_too_many_steps_are_refused_before_allocating() -> None:
    df = pd.DataFrame({"unique_id": "a", "ds": ["2020-01-01 00:00", "2020-01-01 00:01", "2030-01-01"], "y": 1.0})
    with pytest.raises(LimitExceededError, match="series 'a' spans 5260321 steps of min"):
        to_panel(frame_of(df), None, FillPolicy(), 100_000)


def test_integer_times_and_row_order() -> None:
    codes, names = factorize(np.array(["a"] * 4))
    panel = to_panel(Frame(codes, names, np.arange(4.0), np.array([0, 10, 30, 20]), "index"), None, FillPolicy(), 99)
    assert panel.calendar.aliases == ["10"]
    assert panel.calendar.times(np.array([0]), np.array([4])).tolist() == [40]
    ordered = to_panel(Frame(codes, names, np.arange(4.0), None, "none"), None, FillPolicy(), 99)
    np.testing.assert_array_equal(ordered.values, [0, 1, 2, 3])


def test_iso_times_with_zones_become_utc() -> None:
    stamps, zoned = parse_times(["2020-01-01T02:00:00+02:00", "2020-01-01T01:00:00Z", "2020-01-01"], "ds")
    assert zoned and format_times(stamps, True).tolist() == [
        "2020-01-01T00:00:00Z", "2020-01-01T01:00:00Z", "2020-01-01T00:00:00Z"]
    with pytest.raises(InvalidSeriesError, match=r"ds\[1\] is '2020-13-01', not an ISO 8601 date"):
        parse_times(["2020-01-01", "2020-13-01"], "ds")
