"""``rnncast train``: train a model and export it with a report."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

from app.cli.sign import add_signing_flags, sign


def add_parser(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Register ``train`` and its flags."""
    train = commands.add_parser("train", help="train a model and export it with a report")
    train.add_argument("--preset", choices=["default", "tutorial", "plain"], default="default",
                       help="default: the real-data recipe (smoothing anchor + RNN ensemble); "
                            "tutorial: the original tutorial; plain: one window-100 RNN")
    train.add_argument("--data", default="synthetic",
                       help="'synthetic' (the tutorial's sine + noise) or a CSV / Parquet file")
    train.add_argument("--column", help="column holding the values")
    train.add_argument("--id-column", help="column naming each series of a long-format file (one global model)")
    train.add_argument("--time-column", help="column of timestamps: rows are sorted by it, the season inferred from it")
    train.add_argument("--fill", choices=["linear", "previous", "none"], default="linear",
                       help="gaps: interpolate, repeat the previous value, or refuse (mostly empty series are refused)")
    train.add_argument("--seed", type=int, default=0,
                       help="seeds the synthetic data, the weights and the batch order")
    train.add_argument("--out", type=Path, required=True, help="output directory")
    train.add_argument("--points", type=int, help="synthetic series length (preset's by default)")
    train.add_argument("--test-points", type=int, default=200, help="synthetic points held out for testing")
    train.add_argument("--test-fraction", type=float, default=0.2, help="share of each series held out for testing")
    train.add_argument("--period", type=int,
                       help="season length used by the model (1 = none); default: from --time-column or the data")
    train.add_argument("--window", type=int, help="values the model reads; default: chosen from the data")
    train.add_argument("--epochs", type=int, help="override the preset's epoch count")
    train.add_argument("--name", help="model name (default: the output directory's name)")
    train.add_argument("--model-version", default="1", help="version string stored in the model")
    train.add_argument("--quiet", action="store_true", help="no progress bar")
    add_signing_flags(train, "--sign-key", required=False)
    train.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    """Train, export and print a summary; exit 2 on unusable data or flags."""
    from app.training.data import DataError
    from app.training.pipeline import TrainOptions, train_and_export

    options = TrainOptions(
        out=args.out, preset=args.preset, data=args.data, column=args.column, id_column=args.id_column,
        time_column=args.time_column, fill=args.fill, seed=args.seed, points=args.points,
        test_points=args.test_points, test_fraction=args.test_fraction, period=args.period,
        window=args.window, epochs=args.epochs, name=args.name, version=args.model_version, quiet=args.quiet,
    )
    try:
        metrics = train_and_export(options)
    except (DataError, ValueError) as exc:
        print(f"rnncast train: {exc}", file=sys.stderr)
        return 2
    if metrics.get("warning"):
        print(f"rnncast train: WARNING: {metrics['warning']}", file=sys.stderr)
    print(json.dumps(_summary(args.out, metrics), indent=2))
    if args.sign_key is not None:
        return sign(args.out / "model.pt", args.sign_key, args.certificate, args.chain)
    return 0


def _summary(out: Path, metrics: dict[str, Any]) -> dict[str, Any]:
    keys = ("season", "window", "test", "mase", "mase_mean", "baselines", "epochs_run", "training_seconds", "warning")
    summary = {"out": str(out), **{k: metrics[k] for k in keys if k in metrics}}
    if "synthetic" in metrics:
        synthetic = metrics["synthetic"]
        summary["one_step_ratio_to_oracle"] = synthetic["one_step_ratio_to_oracle"]
        summary["recursive_mse_vs_oracle_test"] = synthetic["recursive_mse_vs_oracle_test"]
    return summary
