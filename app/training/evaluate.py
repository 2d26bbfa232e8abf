"""Test metrics, simple baselines, recursive forecasts and the synthetic oracle checks."""

from __future__ import annotations

from typing import Any

import numpy as np
import torch
from torch import nn

from app.training.data import Series, SeriesData, make_windows, oracle, synthetic_series

FRESH_POINTS = 20_000
RECURSIVE_STARTS = 20


def predict_windows(model: nn.Module, windows: Series) -> Series:
    """One-step forecasts for every row of ``windows`` (n, window)."""
    with torch.inference_mode():
        out = model(torch.tensor(windows, dtype=torch.float32))
    return np.asarray(out.double().numpy(), dtype=np.float64)


def one_step(model: nn.Module, values: Series, window: int, start: int) -> Series:
    """Forecasts of values[start:] from the ``window`` actual values before each."""
    inputs, _ = make_windows(values[start - window :], window)
    return predict_windows(model, inputs)


def recursive(model: nn.Module, history: Series, horizon: int, window: int) -> Series:
    """Feed each forecast back as the newest value, ``horizon`` times."""
    buffer = torch.zeros(1, window + horizon)
    buffer[0, :window] = torch.tensor(history[-window:], dtype=torch.float32)
    with torch.inference_mode():
        for step in range(horizon):
            buffer[0, window + step] = model(buffer[:, step : step + window])[0]
    return buffer[0, window:].double().numpy()


def errors(predicted: Series, actual: Series) -> dict[str, float]:
    """MAE, MSE and RMSE."""
    diff = predicted - actual
    mse = float(np.mean(diff**2))
    return {"mae": float(np.mean(np.abs(diff))), "mse": mse, "rmse": mse**0.5}


def baselines(data: SeriesData, window: int, period: int | None) -> dict[str, dict[str, float]]:
    """Naive forecasts of the same test points the model is scored on."""
    start = data.test_start
    actual = data.values[start:]
    inputs, _ = make_windows(data.values[start - window :], window)
    result = {
        "last_value": errors(data.values[start - 1 : -1], actual),
        "window_mean": errors(inputs.mean(axis=1), actual),
    }
    if period is not None:
        if period >= start:
            raise ValueError(f"--period {period} is longer than the training part ({start})")
        result[f"seasonal_naive_{period}"] = errors(data.values[start - period : -period], actual)
    return result


def synthetic_checks(model: nn.Module, window: int, seed: int, test: SeriesData) -> dict[str, Any]:
    """Score against the oracle on a fresh draw of the synthetic process.

    The 200 test points are too few to compare models (the oracle's own MSE varies
    by about 6% across draws), so the one-step ratio uses a fresh 20,000-point series
    and divides by the oracle's MSE on the same points.
    """
    fresh = synthetic_series(FRESH_POINTS, seed + 1_000_003)
    inputs, actual = make_windows(fresh, window)
    truth = oracle(FRESH_POINTS)[window:]
    model_mse = float(np.mean((predict_windows(model, inputs) - actual) ** 2))
    oracle_mse = float(np.mean((truth - actual) ** 2))
    horizon = len(test.values) - test.test_start
    starts = np.linspace(window, FRESH_POINTS - horizon, RECURSIVE_STARTS).astype(int)
    fresh_recursive = [
        float(np.mean((recursive(model, fresh[:s], horizon, window) - oracle(horizon, s)) ** 2))
        for s in starts
    ]
    test_recursive = recursive(model, test.values[: test.test_start], horizon, window)
    test_truth = oracle(horizon, test.test_start)
    return {
        "fresh_points": FRESH_POINTS,
        "one_step_mse": model_mse,
        "oracle_mse": oracle_mse,
        "one_step_ratio_to_oracle": model_mse / oracle_mse,
        "recursive_horizon": horizon,
        "recursive_mse_vs_oracle_test": float(np.mean((test_recursive - test_truth) ** 2)),
        "recursive_mse_vs_oracle_fresh_mean": float(np.mean(fresh_recursive)),
        "recursive_mse_vs_oracle_fresh_max": float(np.max(fresh_recursive)),
        "training_mean_mse_vs_oracle_test": float(
            np.mean((np.mean(test.values[: test.test_start]) - test_truth) ** 2)
        ),
    }
