"""How the plain preset (the default before the real-data recipe) was chosen: candidate
recipes scored on fresh synthetic data.

    .venv/bin/python -m bench.presets            # writes bench/PRESETS.md

Each candidate trains through the project's own pipeline (app.training) and is scored
with the same oracle checks as `rnncast train`: one-step MSE over a fresh 20,000-point
draw divided by the oracle's MSE on the same points (1.0 is the floor no model beats),
and the recursive 200-step MSE against the noise-free curve, averaged over 20 starts.
"""

from __future__ import annotations

import dataclasses
import time
from datetime import UTC, datetime
from pathlib import Path

from app.training import evaluate
from app.training.data import load_synthetic
from app.training.train import PRESETS, Preset, fit

OUT = Path(__file__).resolve().parent / "PRESETS.md"
BASE = PRESETS["plain"]

CANDIDATES: list[tuple[str, Preset]] = [
    ("tutorial (window 3, features, raw, 800 points)", PRESETS["tutorial"]),
    ("sequence layout, window 50, hidden 32, 20k points",
     dataclasses.replace(BASE, layout="sequence", window=50, hidden_size=32, synthetic_points=20_200)),
    ("sequence layout, window 100, hidden 32, 8k points",
     dataclasses.replace(BASE, layout="sequence", window=100, hidden_size=32, synthetic_points=8_200)),
    ("features, window 100, hidden 64, 800 points",
     dataclasses.replace(BASE, synthetic_points=1_000)),
    ("features, window 100, hidden 64, 20k points", dataclasses.replace(BASE, synthetic_points=20_200)),
    ("features, window 200, hidden 128, 20k points",
     dataclasses.replace(BASE, window=200, hidden_size=128, synthetic_points=20_200)),
    ("**plain** (the default before the real-data recipe): features, window 100, hidden 64, 50k points", BASE),
]


def score(label: str, preset: Preset, seed: int = 0) -> str:
    """Train one candidate and format its table row."""
    data = load_synthetic(preset.synthetic_points, 200, seed)
    started = time.perf_counter()
    trained = fit(data, preset, seed)
    seconds = time.perf_counter() - started
    checks = evaluate.synthetic_checks(trained.module, preset.window, seed, data)
    return (
        f"| {label} | {checks['one_step_ratio_to_oracle']:.3f} | "
        f"{checks['recursive_mse_vs_oracle_fresh_mean']:.3f} | {len(trained.history)} | {seconds:.1f} s |"
    )


def main() -> None:
    """Score every candidate and write bench/PRESETS.md."""
    rows = [score(label, preset) for label, preset in CANDIDATES]
    OUT.write_text(
        "# Choosing the plain preset (the default before the real-data recipe)\n\n"
        f"Measured {datetime.now(UTC):%Y-%m-%d} on a shared 2-core CPU with "
        "`.venv/bin/python -m bench.presets` (seed 0).\n\n"
        "| recipe | one-step MSE / oracle (20k fresh points) | recursive 200-step MSE vs oracle "
        "(mean of 20 starts) | epochs | training time |\n|---|---|---|---|---|\n"
        + "\n".join(rows)
        + "\n\nThe window limits accuracy (the best linear predictor from k values reaches "
        "1.275x the floor at k=3 and 1.030x at k=100). A long window as one step of features "
        "trains in seconds and stays on the curve when fed its own forecasts; the same window "
        "as a sequence trains slower, is less accurate, and drifts when rolled forward.\n"
    )


if __name__ == "__main__":
    main()
