"""Recursive forecast paths from every origin of a series, scored in MASE units: how a
one-step model fares when its own forecasts are fed back, as the runtime's rolling
forecasts do."""

from __future__ import annotations

import numpy as np
import torch
from torch import nn

from app.training.data import Series
from app.training.smoothing import mase_scale


def path_errors(model: nn.Module, values: Series, window: int, steps: int) -> Series:
    """Absolute errors of the paths of up to ``steps`` values that start at every index
    from ``window`` on, each path cut where ``values`` ends; all paths run as one batch."""
    origins = np.arange(window, len(values))
    length = min(steps, len(origins))
    paths = torch.zeros(len(origins), window + length)
    windows = np.lib.stride_tricks.sliding_window_view(values[:-1], window)
    paths[:, :window] = torch.tensor(windows, dtype=torch.float32)
    with torch.inference_mode():
        for step in range(length):
            paths[:, window + step] = model(paths[:, step : step + window])
    targets = origins[:, None] + np.arange(length)[None, :]
    inside = targets < len(values)
    forecasts = paths[:, window:].double().numpy()
    errors: Series = np.abs(forecasts - values[np.minimum(targets, len(values) - 1)])[inside]
    return errors


def path_mase(model: nn.Module, parts: list[Series], window: int, period: int, steps: int) -> float:
    """Mean absolute path error over every series, each in its own MASE scale."""
    return float(np.mean(np.concatenate([
        path_errors(model, values, window, steps) / mase_scale(values, period) for values in parts
    ])))
