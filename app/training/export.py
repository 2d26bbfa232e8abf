"""Turn a trained model into an artifact: script it, check it, describe it, save it."""

from __future__ import annotations

import dataclasses
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
import torch

from app.artifact import ArtifactMetadata, Calibration, save_artifact
from app.training.data import Series
from app.training.train import Preset, TrainedModel

CALIBRATION_SAMPLE = 2000
CALIBRATION_QUANTILES = (0.01, 0.05, 0.1, 0.25, 0.5, 0.75, 0.9, 0.95, 0.99)


class ExportError(Exception):
    """The scripted module disagrees with the eager one."""


def calibration_from(residuals: Series, source: str, seed: int) -> Calibration:
    """A seeded sample of one-step residuals plus summary quantiles."""
    rng = np.random.default_rng(seed)
    sample = residuals
    if len(residuals) > CALIBRATION_SAMPLE:
        sample = rng.choice(residuals, CALIBRATION_SAMPLE, replace=False)
    return Calibration(
        source=source,
        count=len(residuals),
        residuals=[round(float(r), 7) for r in sample],
        quantiles={str(q): float(np.quantile(residuals, q)) for q in CALIBRATION_QUANTILES},
    )


def script_and_check(trained: TrainedModel, window: int, seed: int) -> torch.jit.ScriptModule:
    """Script the wrapper and refuse to export if it disagrees with eager mode."""
    scripted = torch.jit.script(trained.module)
    probe = torch.randn(64, window, generator=torch.Generator().manual_seed(seed)) * 2 + 1
    with torch.inference_mode():
        eager_out, script_out = trained.module(probe), scripted(probe)
    gap = float((eager_out - script_out).abs().max())
    if gap > 1e-6:
        raise ExportError(f"scripted module differs from eager by {gap:.2e}")
    return scripted


def export(
    trained: TrainedModel,
    preset: Preset,
    out_dir: Path,
    *,
    name: str,
    version: str,
    seed: int,
    training_data: dict[str, Any],
    metrics: dict[str, Any],
    calibration: Calibration,
) -> Path:
    """Write ``model.pt`` (with metadata) and its checksum into ``out_dir``."""
    scripted = script_and_check(trained, preset.window, seed)
    metadata = ArtifactMetadata(
        name=name,
        version=version,
        window=preset.window,
        layout=preset.layout,
        hidden_size=preset.hidden_size,
        normalization=trained.normalization,
        calibration=calibration,
        training_data=training_data,
        training={
            "preset": dataclasses.asdict(preset),
            "seed": seed,
            "epochs_run": len(trained.history),
            "best_epoch": trained.best_epoch,
            "seconds": round(trained.seconds, 3),
            "final_train_loss": trained.history[-1].train,
            "final_validation_loss": trained.history[-1].validation,
        },
        metrics=metrics,
        torch_version=torch.__version__,
        created_at=datetime.now(UTC).isoformat(timespec="seconds"),
    )
    return save_artifact(scripted, metadata, out_dir)
