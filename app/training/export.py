"""Turn a trained model into an artifact: script it, check it, describe it, save it."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
import torch

from app.artifact import ArtifactMetadata, Calibration, CalibrationUnit, Layout, Normalization, save_artifact
from app.training.data import Series
from app.training.options import TrainOptions

CALIBRATION_SAMPLE = 2000
CALIBRATION_QUANTILES = (0.01, 0.05, 0.1, 0.25, 0.5, 0.75, 0.9, 0.95, 0.99)


class ExportError(Exception):
    """The scripted module disagrees with the eager one."""


def calibration_from(residuals: Series, source: str, seed: int, unit: CalibrationUnit = "raw") -> Calibration:
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
        unit=unit,
    )


def script_and_check(module: torch.nn.Module, window: int, seed: int) -> torch.jit.ScriptModule:
    """Script the module and refuse to export if it disagrees with eager mode."""
    scripted = torch.jit.script(module)
    probe = torch.rand(64, window, generator=torch.Generator().manual_seed(seed)) * 2 + 0.5
    with torch.inference_mode():
        eager_out, script_out = module(probe), scripted(probe)
    gap = float((eager_out - script_out).abs().max())
    if gap > 1e-6 * (1.0 + float(eager_out.abs().max())):
        raise ExportError(f"scripted module differs from eager by {gap:.2e}")
    return scripted


def export_module(
    module: torch.nn.Module,
    options: TrainOptions,
    *,
    window: int,
    hidden_size: int,
    normalization: Normalization,
    period: int,
    training_data: dict[str, Any],
    training: dict[str, Any],
    metrics: dict[str, Any],
    calibration: Calibration,
    layout: Layout = "features",
) -> Path:
    """Script ``module`` and write ``model.pt`` (with metadata) and its checksum into
    ``options.out``."""
    scripted = script_and_check(module, window, options.seed)
    metadata = ArtifactMetadata(
        name=options.name or options.out.resolve().name,
        version=options.version,
        window=window,
        layout=layout,
        hidden_size=hidden_size,
        normalization=normalization,
        calibration=calibration,
        training_data=training_data,
        training={"seed": options.seed, **training},
        metrics=metrics,
        torch_version=torch.__version__,
        created_at=datetime.now(UTC).isoformat(timespec="seconds"),
        period=period,
    )
    return save_artifact(scripted, metadata, options.out)
