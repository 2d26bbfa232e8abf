"""Windowing and the synthetic process."""

from __future__ import annotations

import numpy as np
import pytest

from app.training.data import DataError, load_synthetic, make_windows, synthetic_series


def tutorial_create_labels(data: np.ndarray, step: int) -> tuple[np.ndarray, np.ndarray]:
    """The tutorial's create_labels, with its lost lines restored."""
    x, y = [], []
    for i in range(len(data) - step):
        d = i + step
        x.append(data[i:d,])
        y.append(data[d,])
    return np.array(x), np.array(y)


@pytest.mark.parametrize("window", [1, 3, 7])
def test_windows_match_the_tutorials_create_labels(window: int) -> None:
    values = synthetic_series(50, seed=1)
    inputs, targets = make_windows(values, window)
    expected_x, expected_y = tutorial_create_labels(values.reshape(-1, 1), window)
    np.testing.assert_array_equal(inputs, expected_x[:, :, 0])
    np.testing.assert_array_equal(targets, expected_y[:, 0])
    assert inputs.shape == (50 - window, window)


def test_shortest_series_gives_one_window() -> None:
    inputs, targets = make_windows(np.arange(4.0), 3)
    np.testing.assert_array_equal(inputs, [[0.0, 1.0, 2.0]])
    np.testing.assert_array_equal(targets, [3.0])


@pytest.mark.parametrize("length", [0, 2, 3])
def test_too_short_for_the_window_is_refused(length: int) -> None:
    with pytest.raises(DataError, match=f"has {length} values; a window of 3 needs at least 4"):
        make_windows(np.arange(float(length)), 3)


def test_window_below_one_is_refused() -> None:
    with pytest.raises(DataError, match="at least 1"):
        make_windows(np.arange(5.0), 0)


def test_synthetic_is_seeded_and_has_the_tutorials_split() -> None:
    a, b = load_synthetic(1000, 200, seed=3), load_synthetic(1000, 200, seed=3)
    np.testing.assert_array_equal(a.values, b.values)
    assert a.test_start == 800
    assert not np.array_equal(a.values, load_synthetic(1000, 200, seed=4).values)
    noise = a.values - np.sin(0.02 * np.arange(1000))
    assert 0.0 <= noise.min() and noise.max() < 2.0
