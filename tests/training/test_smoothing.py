"""The smoothing anchor: one matrix product equals the recursion, and it is chosen well."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from app.training.ensemble import anchor_module
from app.training.smoothing import Smoothing, basis_matrix, choose_baseline, forecast, window_candidates

WEIGHTS = [Smoothing(0.3, 0.0, 1.0, 0.0), Smoothing(0.5, 0.2, 0.9, 0.1), Smoothing(0.1, 0.05, 0.98, 0.3)]


@pytest.mark.parametrize("period", [1, 4, 12])
@pytest.mark.parametrize("weights", WEIGHTS, ids=str)
def test_the_basis_matrix_is_the_smoothing_recursion(period: int, weights: Smoothing) -> None:
    window = 3 * period if period > 1 else 16
    windows = np.random.default_rng(0).normal(10, 3, (40, window))
    basis = basis_matrix(window, period, weights, 6)
    np.testing.assert_allclose(windows @ basis, forecast(windows, period, weights, 6), rtol=1e-9, atol=1e-9)


def test_full_weight_on_the_level_is_the_last_value() -> None:
    basis = basis_matrix(10, 1, Smoothing(1.0, 0.0, 1.0, 0.0), 3)
    x = np.arange(10.0)[None, :] ** 2
    np.testing.assert_allclose(x @ basis, [[81.0, 81.0, 81.0]])


def test_the_anchor_beats_the_seasonal_naive_and_follows_a_trend() -> None:
    t = np.arange(120)
    season = 50 + 10 * np.sin(2 * np.pi * t / 12) + np.random.default_rng(0).normal(0, 0.5, len(t))
    # In-sample MASE: the seasonal naive scores 1 by definition.
    assert choose_baseline([season], 12, window_candidates(12, 120, 10), horizon=1).insample_mase < 0.8
    trend = choose_baseline([season + 0.5 * t], 12, window_candidates(12, 120, 10), horizon=1)
    assert trend.insample_mase < 0.8 and trend.smoothing.beta > 0


def test_multiplicative_data_are_smoothed_in_log_space() -> None:
    t = np.arange(144)
    rng = np.random.default_rng(1)
    y = 100 * np.exp(0.01 * t) * (1 + 0.3 * np.sin(2 * np.pi * t / 12)) * np.exp(rng.normal(0, 0.01, len(t)))
    assert choose_baseline([y], 12, [24, 36], horizon=1).log_space
    assert not choose_baseline([y - 500], 12, [24, 36], horizon=1).log_space  # not all positive


def test_the_anchor_module_computes_the_baseline() -> None:
    y = np.abs(np.random.default_rng(2).normal(5, 1, 200)) + 1
    baseline = choose_baseline([y], 1, [8, 16], horizon=1)
    module = anchor_module(baseline, [y])
    x = np.lib.stride_tricks.sliding_window_view(y, baseline.window)[:20]
    expected = x @ baseline.basis[:, 0] if not baseline.log_space else np.exp(np.log(x) @ baseline.basis[:, 0])
    with torch.inference_mode():
        got = module(torch.tensor(x, dtype=torch.float32)).numpy()
    np.testing.assert_allclose(got, expected, rtol=1e-4)


def test_windows_leave_enough_targets() -> None:
    assert window_candidates(12, 60, 10) == [24, 36, 48]
    assert window_candidates(12, 40, 10) == [24]
    assert window_candidates(1, 30, 10) == [8, 16]
    assert window_candidates(12, 30, 10) == []
