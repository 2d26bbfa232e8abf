"""Builders for test data and artifacts."""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Any

import numpy as np

from app.training.data import synthetic_series
from app.training.pipeline import TrainOptions, train_and_export
from app.training.train import PRESETS


def make_series(n: int, seed: int = 0, start: int = 0) -> list[float]:
    """A stretch of the tutorial's synthetic process as plain floats."""
    rng = np.random.default_rng(seed)
    t = np.arange(start, start + n)
    return (np.sin(0.02 * t) + 2.0 * rng.random(n)).round(6).tolist()


def train_artifact(out: Path, preset: str = "plain", **overrides: Any) -> Path:
    """Train a small model quickly and export it into ``out``; returns model.pt's path.

    Overrides of Preset fields (window, layout, hidden_size, epochs, ...) are applied
    by registering a temporary preset.
    """
    points = overrides.pop("points", 4_000)
    seed = overrides.pop("seed", 0)
    name = preset
    if overrides:
        name = f"test-{out.name}"
        PRESETS[name] = dataclasses.replace(PRESETS[preset], name=name, **overrides)
    try:
        train_and_export(TrainOptions(out=out, preset=name, points=points, seed=seed, quiet=True))
    finally:
        if name != preset:
            del PRESETS[name]
    return out / "model.pt"


def fresh_draw(n: int, seed: int) -> np.ndarray:
    """A fresh stretch of the synthetic process as float32."""
    return synthetic_series(n, seed).astype(np.float32)
