"""``rnncast train``: data -> fit -> evaluate -> export -> report."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
from tqdm import tqdm

from app.training import evaluate, report
from app.training.data import DataError, SeriesData, load_csv, load_synthetic
from app.training.export import calibration_from, export
from app.training.train import PRESETS, EpochLoss, Preset, TrainedModel, fit


@dataclass(frozen=True)
class TrainOptions:
    """What the user asked for on the command line."""

    out: Path
    preset: str = "default"
    data: str = "synthetic"
    column: str | None = None
    seed: int = 0
    points: int | None = None
    test_points: int = 200
    test_fraction: float = 0.2
    period: int | None = None
    epochs: int | None = None
    name: str | None = None
    version: str = "1"
    quiet: bool = False


def load_data(options: TrainOptions, preset: Preset) -> SeriesData:
    """The synthetic process or a CSV column, with its test split."""
    if options.data == "synthetic":
        points = options.points or preset.synthetic_points
        return load_synthetic(points, options.test_points, options.seed)
    if options.column is None:
        raise DataError("--column is required with a CSV file: name the column to forecast")
    return load_csv(Path(options.data), options.column, options.test_fraction)


def _fit_with_progress(data: SeriesData, preset: Preset, options: TrainOptions) -> TrainedModel:
    bar = tqdm(total=preset.epochs, desc="training", unit="epoch", disable=options.quiet)

    def on_epoch(loss: EpochLoss) -> None:
        shown = {"train": f"{loss.train:.4f}"}
        if loss.validation is not None:
            shown["val"] = f"{loss.validation:.4f}"
        bar.set_postfix(shown)
        bar.update()
        if preset.log_every and loss.epoch % preset.log_every == 0:
            # The tutorial's line: the loss of the epoch's last batch.
            bar.write(f"Epoch [{loss.epoch}/{preset.epochs}], Loss: {loss.last_batch:.4f}")

    try:
        return fit(data, preset, options.seed, on_epoch)
    finally:
        bar.close()


def _calibration_residuals(trained: TrainedModel, data: SeriesData, window: int) -> tuple[np.ndarray, str]:
    """Residuals on the validation split, or on the test part when there is none."""
    start, end, source = trained.validation_start, data.test_start, "validation split"
    if start is None:
        # The tutorial preset holds out nothing but the test part.
        start, end, source = data.test_start, len(data.values), "test part"
    predicted = evaluate.one_step(trained.module, data.values[:end], window, start)
    return data.values[start:end] - predicted, source


def train_and_export(options: TrainOptions) -> dict[str, Any]:
    """Run the whole pipeline and return the metrics written to ``metrics.json``."""
    preset = PRESETS[options.preset]
    if options.epochs is not None:
        preset = dataclasses.replace(preset, epochs=options.epochs)
    torch.set_num_threads(max(1, min(torch.get_num_threads(), 4)))
    data = load_data(options, preset)
    trained = _fit_with_progress(data, preset, options)

    window, start = preset.window, data.test_start
    actual = data.values[start:]
    one_step = evaluate.one_step(trained.module, data.values, window, start)
    recursive = evaluate.recursive(trained.module, data.values[:start], len(actual), window)
    metrics: dict[str, Any] = {
        "preset": preset.name,
        "seed": options.seed,
        "normalization": trained.normalization.kind,
        "test_points": len(actual),
        "test": evaluate.errors(one_step, actual),
        "recursive_test": evaluate.errors(recursive, actual),
        "baselines": evaluate.baselines(data, window, options.period),
        "epochs_run": len(trained.history),
        "best_epoch": trained.best_epoch,
        "training_seconds": round(trained.seconds, 2),
        "last_batch_loss": trained.history[-1].last_batch,
    }
    if data.description["source"] == "synthetic":
        metrics["synthetic"] = evaluate.synthetic_checks(trained.module, window, options.seed, data)

    residuals, source = _calibration_residuals(trained, data, window)
    out = options.out
    export(
        trained,
        preset,
        out,
        name=options.name or out.resolve().name,
        version=options.version,
        seed=options.seed,
        training_data=data.description,
        metrics=metrics,
        calibration=calibration_from(residuals, source, options.seed),
    )
    report.write_metrics(out, metrics)
    report.plot_losses(out, trained.history, trained.best_epoch)
    report.plot_test(out, data.values, start, one_step, recursive, context=min(start, 3 * window + 100))
    report.write_summary(out, f"rnncast training report: preset {preset.name}", metrics)
    return metrics
