"""The tutorial's synthetic process, the series type and windowing (files: app.training.table)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt

Series = npt.NDArray[np.float64]

# The tutorial's process: x_t = sin(0.02 t) + 2 U[0,1). Its noise has mean 1 and
# variance 1/3, so the best possible one-step forecast is sin(0.02 t) + 1.
NOISE_VARIANCE = 1.0 / 3.0


class DataError(Exception):
    """The training data cannot be used; the message is one sentence for the user."""


@dataclass(frozen=True)
class SeriesData:
    """A univariate series, where it came from, and where its test part starts."""

    values: Series
    test_start: int
    description: dict[str, Any]


def synthetic_series(n: int, seed: int, start: int = 0) -> Series:
    """The tutorial's sine-plus-uniform-noise series for t = start .. start+n-1."""
    rng = np.random.default_rng(seed)
    t = np.arange(start, start + n)
    return np.asarray(np.sin(0.02 * t) + 2.0 * rng.random(n), dtype=np.float64)


def oracle(n: int, start: int = 0) -> Series:
    """The noise-free conditional mean of the synthetic process: sin(0.02 t) + 1."""
    return np.asarray(np.sin(0.02 * np.arange(start, start + n)) + 1.0, dtype=np.float64)


def load_synthetic(points: int, test_points: int, seed: int) -> SeriesData:
    """A synthetic series whose last ``test_points`` values are held out for testing."""
    if test_points <= 0 or test_points >= points:
        raise DataError(f"--test-points must be between 1 and {points - 1}, got {test_points}")
    return SeriesData(
        values=synthetic_series(points, seed),
        test_start=points - test_points,
        description={
            "source": "synthetic",
            "process": "sin(0.02 t) + 2 U[0,1)",
            "points": points,
            "test_points": test_points,
            "seed": seed,
        },
    )


def make_windows(values: Series, window: int) -> tuple[Series, Series]:
    """All (window, next value) pairs: X is (n - window, window), y is (n - window,).

    Row i holds values[i : i + window] and its label values[i + window], exactly the
    tutorial's ``create_labels``.
    """
    if window < 1:
        raise DataError(f"the window must be at least 1, got {window}")
    if len(values) <= window:
        raise DataError(
            f"the series has {len(values)} values; a window of {window} needs at least "
            f"{window + 1}"
        )
    inputs = np.lib.stride_tricks.sliding_window_view(values[:-1], window)
    return np.ascontiguousarray(inputs), values[window:].copy()
