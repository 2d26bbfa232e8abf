"""``rnncast train``: pick the preset's pipeline, run it, return its metrics.

``default`` is the real-data recipe (app.training.recipe); ``tutorial`` and ``plain``
train one network as the original tutorial did: data -> fit -> evaluate -> export -> report.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Any

import numpy as np
import torch
from tqdm import tqdm

from app.training import evaluate, recipe, report
from app.training.data import DataError, SeriesData, load_synthetic
from app.training.ensemble import RECIPES
from app.training.export import calibration_from, export_module
from app.training.options import TrainOptions
from app.training.table import load_table
from app.training.train import PRESETS, EpochLoss, Preset, TrainedModel, fit

__all__ = ["TrainOptions", "train_and_export"]


def train_and_export(options: TrainOptions) -> dict[str, Any]:
    """Check the options, run the preset's pipeline and return the metrics written."""
    options.check()
    if options.preset in RECIPES:
        # Small members: one thread beats several, which spin at every tiny product.
        torch.set_num_threads(1)
        chosen = RECIPES[options.preset]
        if options.epochs is not None:
            chosen = dataclasses.replace(chosen, epochs=options.epochs)
        return recipe.train_and_export(options, chosen)
    torch.set_num_threads(max(1, min(torch.get_num_threads(), 4)))
    preset = PRESETS[options.preset]
    if options.epochs is not None:
        preset = dataclasses.replace(preset, epochs=options.epochs)
    return _train_network(options, preset)


def load_data(options: TrainOptions, preset: Preset) -> SeriesData:
    """The synthetic process or one column of a file, with its test split."""
    if options.data == "synthetic":
        return load_synthetic(options.points or preset.synthetic_points, options.test_points, options.seed)
    panel = load_table(Path(options.data), options.column or "", time_column=options.time_column,
                       fill=options.fill, test_fraction=options.test_fraction)
    if options.id_column is not None:
        raise DataError(f"--preset {preset.name} trains on one series; --id-column needs --preset default")
    return panel.series[0]


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


def _train_network(options: TrainOptions, preset: Preset) -> dict[str, Any]:
    """One network, trained and scored as the tutorial did (with its improvements)."""
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
    export_module(
        trained.module, options, window=window, hidden_size=preset.hidden_size,
        normalization=trained.normalization, period=options.period or 1, training_data=data.description,
        training=_training_record(trained, preset), metrics=metrics,
        calibration=calibration_from(residuals, source, options.seed),
    )
    out = options.out
    report.write_metrics(out, metrics)
    report.plot_losses(out, trained.history, trained.best_epoch)
    report.plot_test(out, data.values, start, one_step, recursive, context=min(start, 3 * window + 100))
    report.write_summary(out, f"rnncast training report: preset {preset.name}", metrics)
    return metrics


def _training_record(trained: TrainedModel, preset: Preset) -> dict[str, Any]:
    return {
        "preset": dataclasses.asdict(preset),
        "epochs_run": len(trained.history),
        "best_epoch": trained.best_epoch,
        "seconds": round(trained.seconds, 3),
        "final_train_loss": trained.history[-1].train,
        "final_validation_loss": trained.history[-1].validation,
    }
