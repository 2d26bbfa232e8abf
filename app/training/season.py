"""The season the model uses: ``--period``, else the time column's frequency, else the
autocorrelation of the training part."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from app.training.data import Series

# pandas frequency codes (anchors stripped) -> observations per season.
FREQUENCY_PERIODS = {
    "MS": 12, "ME": 12, "M": 12, "BMS": 12, "BME": 12,
    "QS": 4, "QE": 4, "Q": 4, "BQS": 4, "BQE": 4,
    "W": 52, "D": 7, "B": 5, "h": 24, "H": 24,
    "YS": 1, "YE": 1, "Y": 1, "A": 1, "AS": 1,
}
# A season is only inferred from the data when it repeats clearly: a peak of the
# autocorrelation this high, rising this much above the trough before it.
MIN_AUTOCORRELATION = 0.3
MIN_PROMINENCE = 0.1
LONGEST_INFERRED = 64


@dataclass(frozen=True)
class Season:
    """A season length (1 = none) and how it was found, for the report."""

    period: int
    source: str


def from_frequency(code: str | None) -> int | None:
    """Season of a pandas frequency code such as ``MS``, ``QS-OCT`` or ``W-SUN``."""
    if code is None:
        return None
    base = code.split("-")[0].lstrip("0123456789")
    return FREQUENCY_PERIODS.get(base)


def autocorrelation(values: Series, max_lag: int) -> Series:
    """Sample autocorrelation at lags 0..max_lag of the linearly detrended series."""
    t = np.arange(len(values), dtype=np.float64)
    detrended = values - np.polyval(np.polyfit(t, values, 1), t)
    denominator = float(np.dot(detrended, detrended)) or 1.0
    return np.array([
        float(np.dot(detrended[: len(values) - k], detrended[k:])) / denominator
        for k in range(max_lag + 1)
    ])


def from_autocorrelation(values: Series) -> Season:
    """The first clear autocorrelation peak (its multiples peak too), among seasons that
    repeat at least three times in ``values``; else no season."""
    max_lag = min(LONGEST_INFERRED, len(values) // 3)
    if max_lag < 3:
        return Season(1, "none (too short to infer one)")
    acf = autocorrelation(values, max_lag + 1)
    for k in range(2, max_lag + 1):
        peak = acf[k - 1] < acf[k] >= acf[k + 1]
        if peak and acf[k] >= MIN_AUTOCORRELATION and acf[k] - acf[1:k].min() >= MIN_PROMINENCE:
            return Season(k, f"autocorrelation ({acf[k]:.2f} at lag {k})")
    return Season(1, "none (no clear autocorrelation peak)")


def resolve(period: int | None, frequency: str | None, train_parts: list[Series]) -> Season:
    """``--period`` wins, then the time column's frequency, then the pooled data."""
    if period is not None:
        return Season(period, "--period")
    known = from_frequency(frequency)
    if known is not None:
        return Season(known, f"time column frequency {frequency}")
    candidates = [from_autocorrelation(p) for p in train_parts]
    seasonal = [c for c in candidates if c.period > 1]
    if len(seasonal) * 2 > len(candidates):
        periods = [c.period for c in seasonal]
        common = max(set(periods), key=periods.count)
        return next(c for c in seasonal if c.period == common)
    return candidates[0] if len(candidates) == 1 else Season(1, "none (most series show no season)")
