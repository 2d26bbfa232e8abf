"""Presets and the training loop: Adam on MSE, optional early stopping."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Literal

import numpy as np
import torch

from app.artifact import Layout, Normalization
from app.training.data import Series, SeriesData, make_windows
from app.training.network import ScaledForecaster, SimpleRNN


@dataclass(frozen=True)
class Preset:
    """A training recipe; every field is recorded in the artifact's metadata."""

    name: str
    window: int
    layout: Layout
    hidden_size: int
    learning_rate: float
    epochs: int
    batch_size: int
    shuffle: bool
    normalization: Literal["none", "auto"]
    validation_fraction: float
    patience: int | None
    synthetic_points: int
    log_every: int | None = None


PRESETS: dict[str, Preset] = {
    # The tutorial as written: 3 values as one step of 3 features, no scaling,
    # in-order batches of 32, 100 epochs at lr 1e-4, no validation split.
    "tutorial": Preset(
        name="tutorial", window=3, layout="features", hidden_size=128, learning_rate=1e-4,
        epochs=100, batch_size=32, shuffle=False, normalization="none",
        validation_fraction=0.0, patience=None, synthetic_points=1000, log_every=10,
    ),
    # The default before the real-data recipe, kept as `--preset plain` (and for fast
    # test models). Measured better (bench/PRESETS.md, `python -m bench.presets`): the window
    # is what limits accuracy, and a long window in the features layout trains in
    # seconds and stays stable when fed its own forecasts; a longer sequence layout
    # was both slower and less accurate. Standardised (or relative when the data
    # trend), more synthetic data, shuffled, early-stopped on a validation split.
    "plain": Preset(
        name="plain", window=100, layout="features", hidden_size=64, learning_rate=1e-3,
        epochs=60, batch_size=256, shuffle=True, normalization="auto",
        validation_fraction=0.15, patience=8, synthetic_points=50_200,
    ),
}


@dataclass(frozen=True)
class EpochLoss:
    """Mean training loss of one epoch, the last batch's loss, and validation loss."""

    epoch: int
    train: float
    last_batch: float
    validation: float | None


@dataclass
class TrainedModel:
    """The fitted wrapper and what happened while fitting it."""

    module: ScaledForecaster
    normalization: Normalization
    history: list[EpochLoss]
    best_epoch: int
    seconds: float
    validation_start: int | None  # index into the series where validation begins
    train_end: int  # index where the held-out test part begins
    extra: dict[str, float] = field(default_factory=dict)


def choose_normalization(values: Series, requested: str) -> Normalization:
    """Standardise stationary data; scale each window by its last value if it trends.

    A series "trends" when a straight-line fit moves further across the training
    part than two standard deviations of what the line leaves unexplained: a model
    standardised on the training mean could then never reach the test values.
    """
    if requested == "none":
        return Normalization("none", 0.0, 1.0)
    t = np.arange(len(values), dtype=np.float64)
    slope, intercept = np.polyfit(t, values, 1)
    residual_std = float(np.std(values - (slope * t + intercept))) or 1.0
    if abs(slope) * len(values) > 2.0 * residual_std:
        step_std = float(np.std(np.diff(values))) or 1.0
        return Normalization("last_value", 0.0, step_std)
    return Normalization("standard", float(np.mean(values)), float(np.std(values)) or 1.0)


def _tensors(values: Series, window: int) -> tuple[torch.Tensor, torch.Tensor]:
    inputs, targets = make_windows(values, window)
    return torch.tensor(inputs, dtype=torch.float32), torch.tensor(targets, dtype=torch.float32)


def _loss(model: ScaledForecaster, inputs: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
    """MSE in the network's own (scaled) units, against targets shaped (N, 1)."""
    encoded, ref = model.encode(inputs)
    scaled_targets = ((targets.unsqueeze(1) - ref) / model.scale)
    return torch.nn.functional.mse_loss(model.net(encoded), scaled_targets)


def fit(
    data: SeriesData,
    preset: Preset,
    seed: int,
    on_epoch: Callable[[EpochLoss], None] = lambda _: None,
) -> TrainedModel:
    """Train on the part before ``data.test_start``; return the best (or last) model."""
    torch.manual_seed(seed)
    train_values = data.values[: data.test_start]
    n_val = int(len(train_values) * preset.validation_fraction)
    fit_values = train_values[: len(train_values) - n_val]
    x_fit, y_fit = _tensors(fit_values, preset.window)  # refuses too-short data first
    norm = choose_normalization(fit_values, preset.normalization)
    input_size = preset.window if preset.layout == "features" else 1
    model = ScaledForecaster(SimpleRNN(input_size, preset.hidden_size), preset.layout, norm)
    validation = None
    if n_val:
        # Validation windows may look back into the fitting part; their labels may not.
        validation = _tensors(train_values[len(fit_values) - preset.window :], preset.window)

    optimizer = torch.optim.Adam(model.parameters(), lr=preset.learning_rate)
    generator = torch.Generator().manual_seed(seed)
    history: list[EpochLoss] = []
    best_loss, best_epoch, best_state = float("inf"), 0, model.state_dict()
    started = time.perf_counter()
    for epoch in range(1, preset.epochs + 1):
        model.train()
        order = (
            torch.randperm(len(x_fit), generator=generator)
            if preset.shuffle
            else torch.arange(len(x_fit))
        )
        total, batch_loss = 0.0, 0.0
        for start in range(0, len(order), preset.batch_size):
            rows = order[start : start + preset.batch_size]
            optimizer.zero_grad()
            loss = _loss(model, x_fit[rows], y_fit[rows])
            loss.backward()  # type: ignore[no-untyped-call]
            optimizer.step()
            batch_loss = loss.item()
            total += batch_loss * len(rows)
        val_loss = None
        if validation is not None:
            model.eval()
            with torch.inference_mode():
                val_loss = _loss(model, *validation).item()
        record = EpochLoss(epoch, total / len(order), batch_loss, val_loss)
        history.append(record)
        on_epoch(record)
        if val_loss is None:
            best_epoch = epoch
        elif val_loss < best_loss:
            best_loss, best_epoch = val_loss, epoch
            best_state = {k: v.clone() for k, v in model.state_dict().items()}
        elif preset.patience is not None and epoch - best_epoch >= preset.patience:
            break
    if validation is not None:
        model.load_state_dict(best_state)
    model.eval()
    return TrainedModel(
        module=model,
        normalization=norm,
        history=history,
        best_epoch=best_epoch,
        seconds=time.perf_counter() - started,
        validation_start=len(fit_values) if n_val else None,
        train_end=data.test_start,
    )
