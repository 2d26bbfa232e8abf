"""Export the benchmark model (window 32, hidden 128, "sequence" layout) as an rnncast artifact.

It goes through the project's own training and export code (``app.training``), so the
file is exactly what ``rnncast train`` would write: TorchScript, embedded metadata,
sha256 beside it. A brief seeded fit on the synthetic series is enough: the benchmark
measures speed, and the sequence layout (32 RNN steps of one feature) is what makes the
batch-1 forward cost ~0.5 ms.

    python -m bench.export_model --out bench/out/models
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from pathlib import Path

import torch

from app.artifact import MODEL_FILE
from app.training import evaluate
from app.training.data import load_synthetic
from app.training.export import calibration_from, export_module
from app.training.options import TrainOptions
from app.training.train import Preset, fit

MODEL_NAME = "bench32"
WINDOW = 32
HIDDEN = 128

PRESET = Preset(
    name="bench32", window=WINDOW, layout="sequence", hidden_size=HIDDEN, learning_rate=1e-3,
    epochs=2, batch_size=256, shuffle=True, normalization="auto",
    validation_fraction=0.15, patience=None, synthetic_points=6_000,
)


def export_bench_model(models_dir: Path, seed: int = 0) -> Path:
    """Fit briefly and write ``models_dir/bench32/model.pt`` (+ checksum); return its path."""
    torch.manual_seed(seed)
    torch.set_num_threads(max(1, min(torch.get_num_threads(), 2)))
    data = load_synthetic(PRESET.synthetic_points, test_points=500, seed=seed)
    trained = fit(data, PRESET, seed)
    start = data.test_start
    one_step = evaluate.one_step(trained.module, data.values, WINDOW, start)
    actual = data.values[start:]
    val_start = trained.validation_start or start
    residuals = data.values[val_start:start] - evaluate.one_step(
        trained.module, data.values[:start], WINDOW, val_start
    )
    options = TrainOptions(out=models_dir / MODEL_NAME, name=MODEL_NAME, seed=seed)
    return export_module(
        trained.module,
        options,
        window=WINDOW,
        hidden_size=HIDDEN,
        normalization=trained.normalization,
        period=1,
        training_data=data.description,
        training={"preset": PRESET.name, "epochs_run": len(trained.history)},
        metrics={"test": evaluate.errors(one_step, actual), "note": "benchmark model, brief fit"},
        calibration=calibration_from(residuals, "validation split", seed),
        layout=PRESET.layout,
    )


def main(argv: Sequence[str] | None = None) -> int:
    """Command line: ``--out DIR`` (default bench/out/models); skips if already there."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=Path("bench/out/models"))
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--force", action="store_true", help="re-export even if the file exists")
    args = parser.parse_args(argv)
    target = args.out / MODEL_NAME / MODEL_FILE
    if target.is_file() and not args.force:
        print(f"{target} exists (use --force to re-export)")
        return 0
    path = export_bench_model(args.out, args.seed)
    print(f"wrote {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
