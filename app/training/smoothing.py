"""Exponential smoothing over one window, as a matrix: the anchor of the real-data recipe.

Damped additive Holt-Winters with its state initialised from the window itself is a
*linear* function of the window's values, so its h-step forecasts for every window are
one matrix product ``windows @ basis`` (basis shaped ``(window, horizon)``). The scripted
module multiplies by that matrix on the hot path: no sequential loop in TorchScript.
Simple smoothing (beta = 0, no season), Holt and damped trends are special cases.
Multiplicative structure is handled by smoothing the logarithms of positive data.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from app.training.data import Series

Matrix = npt.NDArray[np.float64]

ALPHAS = (0.05, 0.1, 0.2, 0.3, 0.5, 0.7, 0.9, 1.0)
# (beta, phi): no trend, then damped trends; phi < 1 keeps long horizons from running away.
TRENDS = ((0.0, 1.0), (0.05, 0.9), (0.05, 0.98), (0.2, 0.9), (0.2, 0.98))
GAMMAS = (0.0, 0.05, 0.1, 0.3)


@dataclass(frozen=True)
class Smoothing:
    """Smoothing weights of level (alpha), trend (beta, damped by phi) and season (gamma)."""

    alpha: float
    beta: float
    phi: float
    gamma: float


@dataclass(frozen=True)
class Baseline:
    """The chosen anchor: window, season, log space or not, weights, and its matrix."""

    window: int
    period: int
    log_space: bool
    smoothing: Smoothing
    basis: Matrix  # (window, horizon) in the (log-)value space
    insample_mase: float

    def describe(self) -> dict[str, object]:
        """The anchor as plain JSON for metadata and reports."""
        return {
            "kind": "damped additive Holt-Winters over the window (linear)",
            "window": self.window,
            "period": self.period,
            "log_space": self.log_space,
            "smoothing": self.smoothing.__dict__,
            "insample_mase": round(self.insample_mase, 4),
        }


def _initial_state(windows: Matrix, period: int, trend: bool) -> tuple[Matrix, Matrix, list[Matrix], int]:
    """Level, trend and seasonal state from the window's complete cycles; first step to run."""
    rows, width = windows.shape
    if period == 1:
        slope = windows[:, 1] - windows[:, 0] if trend else np.zeros(rows)
        return windows[:, 0].copy(), slope, [np.zeros(rows)], 1
    cycles = width // period
    first = width - cycles * period
    cycle_means = windows[:, first:].reshape(rows, cycles, period).mean(axis=2)
    shape = (windows[:, first:].reshape(rows, cycles, period) - cycle_means[:, :, None]).mean(axis=1)
    season = [shape[:, (j - first) % period] for j in range(period)]
    slope = np.zeros(rows)
    if trend and cycles >= 2:
        slope = (cycle_means[:, -1] - cycle_means[:, 0]) / ((cycles - 1) * period)
    # The level just before the first complete cycle, so that the first update sees it.
    level = cycle_means[:, 0] - slope * (period + 1) / 2
    return level, slope, season, first


def forecast(windows: Matrix, period: int, smoothing: Smoothing, horizon: int) -> Matrix:
    """Smooth each row of ``windows`` (rows, window) and forecast ``horizon`` steps."""
    a, b, phi, g = smoothing.alpha, smoothing.beta, smoothing.phi, smoothing.gamma
    level, slope, season, first = _initial_state(windows, period, b > 0)
    width = windows.shape[1]
    for t in range(first, width):
        s = season[t % period]
        previous = level
        level = a * (windows[:, t] - s) + (1 - a) * (previous + phi * slope)
        slope = b * (level - previous) + (1 - b) * phi * slope
        if period > 1:
            season[t % period] = g * (windows[:, t] - level) + (1 - g) * s
    out = np.empty((windows.shape[0], horizon))
    damping = np.cumsum(phi ** np.arange(1, horizon + 1))
    for h in range(horizon):
        out[:, h] = level + damping[h] * slope + season[(width + h) % period]
    return out


def basis_matrix(window: int, period: int, smoothing: Smoothing, horizon: int) -> Matrix:
    """The (window, horizon) matrix B with forecast(x) == x @ B for every window x."""
    return forecast(np.eye(window), period, smoothing, horizon)


def grid(period: int) -> list[Smoothing]:
    """Every candidate weighting; no seasonal weight without a season."""
    gammas = GAMMAS if period > 1 else (0.0,)
    return [
        Smoothing(a, b, phi, g) for a, (b, phi), g in itertools.product(ALPHAS, TRENDS, gammas)
    ]


def window_candidates(period: int, shortest_train: int, min_targets: int) -> list[int]:
    """Look-backs to try: 2-4 seasons, or 8-128 values; each leaves ``min_targets`` windows."""
    options = [k * period for k in (2, 3, 4)] if period > 1 else [8, 16, 32, 64, 128]
    return [w for w in options if w <= shortest_train - min_targets]


def mase_scale(values: Series, period: int) -> float:
    """Mean absolute seasonal difference: the unit of MASE (1e-12 at least)."""
    lag = period if len(values) > period else 1
    return max(float(np.mean(np.abs(values[lag:] - values[:-lag]))), 1e-12)


def choose_baseline(parts: list[Series], period: int, windows: list[int], horizon: int) -> Baseline:
    """The window, space and weights with the lowest in-sample one-step MASE.

    Like ETS fitting, the weights are chosen on one-step errors over the training part;
    every candidate is scored on the same targets (those after the longest window), and
    each series' errors are divided by its own MASE scale so a global model weighs
    series alike.
    """
    longest = max(windows)
    spaces = [False] + ([True] if all(bool((p > 0).all()) for p in parts) else [])
    best: tuple[float, int, bool, Smoothing] | None = None
    for log_space, window in itertools.product(spaces, windows):
        stacked = [_windows_and_targets(p, window, longest, log_space) for p in parts]
        scales = [mase_scale(p, period) for p in parts]
        for smoothing in grid(period):
            column = basis_matrix(window, period, smoothing, 1)[:, 0]
            score = float(np.mean([
                np.mean(np.abs(_back(x @ column, log_space) - y)) / s
                for (x, y), s in zip(stacked, scales, strict=True)
            ]))
            if best is None or score < best[0]:
                best = (score, window, log_space, smoothing)
    assert best is not None, "window_candidates is never empty here"
    score, window, log_space, smoothing = best
    return Baseline(window, period, log_space, smoothing,
                    basis_matrix(window, period, smoothing, horizon), score)


def _windows_and_targets(values: Series, window: int, first_target: int, log_space: bool) -> tuple[Matrix, Series]:
    space = np.log(values) if log_space else values
    inputs = np.lib.stride_tricks.sliding_window_view(space[:-1], window)
    return inputs[first_target - window :], values[first_target:]


def _back(values: Series, log_space: bool) -> Series:
    return np.exp(values) if log_space else values
