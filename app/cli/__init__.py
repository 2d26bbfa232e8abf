"""``rnncast train | serve | inspect | predict``.

Arguments are parsed inside :func:`main`; each command imports what it needs, so
``rnncast serve`` never loads pandas or matplotlib, and its supervisor process (with
``--workers N``) never loads torch.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import signal
import sys
import tempfile
from collections.abc import Sequence
from pathlib import Path


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="rnncast", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)

    train = commands.add_parser("train", help="train a model and export it with a report")
    train.add_argument("--preset", choices=["default", "tutorial"], default="default",
                       help="training recipe: the original tutorial, or the measured better default")
    train.add_argument("--data", default="synthetic",
                       help="'synthetic' (the tutorial's sine + noise) or a CSV file")
    train.add_argument("--column", help="CSV column holding the series")
    train.add_argument("--seed", type=int, default=0)
    train.add_argument("--out", type=Path, required=True, help="output directory")
    train.add_argument("--points", type=int, help="synthetic series length (preset's by default)")
    train.add_argument("--test-points", type=int, default=200, help="synthetic points held out for testing")
    train.add_argument("--test-fraction", type=float, default=0.2, help="CSV share held out for testing")
    train.add_argument("--period", type=int, help="season length, for a seasonal-naive baseline")
    train.add_argument("--epochs", type=int, help="override the preset's epoch count")
    train.add_argument("--name", help="model name (default: the output directory's name)")
    train.add_argument("--model-version", default="1", help="version string stored in the model")
    train.add_argument("--quiet", action="store_true", help="no progress bar")

    serve = commands.add_parser("serve", help="serve every model under the model directory")
    serve.add_argument("--host", help="listen address (RNNCAST_HOST)")
    serve.add_argument("--port", type=int, help="listen port (RNNCAST_PORT)")
    serve.add_argument("--workers", type=int, help="worker processes (RNNCAST_WORKERS)")
    serve.add_argument("--model-dir", type=Path, help="model directory (RNNCAST_MODEL_DIR)")

    inspect = commands.add_parser("inspect", help="print an artifact's metadata and verify it")
    inspect.add_argument("file", type=Path)

    predict = commands.add_parser("predict", help="forecast offline from an artifact")
    predict.add_argument("file", type=Path)
    source = predict.add_mutually_exclusive_group(required=True)
    source.add_argument("--values", help="comma-separated values, oldest first")
    source.add_argument("--csv", type=Path, help="CSV file to read the values from")
    predict.add_argument("--column", help="CSV column (default: the last one)")
    predict.add_argument("--horizon", type=int, default=1, help="recursive steps to forecast")
    return parser


def _train(args: argparse.Namespace) -> int:
    from app.training.data import DataError
    from app.training.pipeline import TrainOptions, train_and_export

    options = TrainOptions(
        out=args.out, preset=args.preset, data=args.data, column=args.column, seed=args.seed,
        points=args.points, test_points=args.test_points, test_fraction=args.test_fraction,
        period=args.period, epochs=args.epochs, name=args.name, version=args.model_version,
        quiet=args.quiet,
    )
    try:
        metrics = train_and_export(options)
    except (DataError, ValueError) as exc:
        print(f"rnncast train: {exc}", file=sys.stderr)
        return 2
    summary = {
        "out": str(args.out),
        "test": metrics["test"],
        "baselines": metrics["baselines"],
        "epochs_run": metrics["epochs_run"],
        "training_seconds": metrics["training_seconds"],
    }
    if "synthetic" in metrics:
        synthetic = metrics["synthetic"]
        summary["one_step_ratio_to_oracle"] = synthetic["one_step_ratio_to_oracle"]
        summary["recursive_mse_vs_oracle_test"] = synthetic["recursive_mse_vs_oracle_test"]
    print(json.dumps(summary, indent=2))
    return 0


def _serve(args: argparse.Namespace) -> int:
    # Settings travel as environment variables so uvicorn's worker processes see them.
    for flag, env in (("host", "HOST"), ("port", "PORT"), ("workers", "WORKERS"), ("model_dir", "MODEL_DIR")):
        value = getattr(args, flag)
        if value is not None:
            os.environ[f"RNNCAST_{env}"] = str(value)
    from pydantic import ValidationError

    from app.config import Settings

    try:
        settings = Settings()
    except ValidationError as exc:
        print(f"rnncast serve: invalid settings:\n{exc}", file=sys.stderr)
        return 2
    import uvicorn

    from app.api.logs import configure_logging, log_config

    configure_logging(settings.log_level)
    # After a graceful shutdown uvicorn re-raises the signal that stopped it; end a
    # SIGTERM drain with status 0, as orchestrators expect of a clean stop.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    with contextlib.ExitStack() as cleanup:
        if settings.workers > 1 and "PROMETHEUS_MULTIPROC_DIR" not in os.environ:
            # Workers write their samples here and any one of them aggregates a scrape;
            # a fresh directory per start, removed at exit, so no stale samples add up.
            metrics_dir = cleanup.enter_context(tempfile.TemporaryDirectory(prefix="rnncast-metrics-"))
            os.environ["PROMETHEUS_MULTIPROC_DIR"] = metrics_dir
        uvicorn.run(
            "app.main:create_app",
            factory=True,
            host=settings.host,
            port=settings.port,
            workers=settings.workers,
            log_config=log_config(settings.log_level),
            access_log=False,
            timeout_graceful_shutdown=settings.graceful_timeout_s,
            server_header=False,
            # Nothing here reads the client address that X-Forwarded-For would rewrite;
            # uvicorn's proxy-headers layer would only add work to every request.
            proxy_headers=False,
        )
    return 0


def _inspect(args: argparse.Namespace) -> int:
    from app.artifact import ArtifactError, read_metadata, verify_checksum

    try:
        metadata = read_metadata(args.file)
    except ArtifactError as exc:
        print(f"rnncast inspect: {exc}", file=sys.stderr)
        return 1
    print(metadata.to_json())
    try:
        sha = verify_checksum(args.file)
    except ArtifactError as exc:
        print(f"checksum: MISMATCH - {exc}", file=sys.stderr)
        return 1
    print(f"checksum: ok ({sha})", file=sys.stderr)
    return 0


def _read_values(args: argparse.Namespace) -> list[float]:
    if args.values is not None:
        return [float(v) for v in args.values.split(",") if v.strip()]
    import csv

    with args.csv.open(newline="") as handle:
        rows = list(csv.DictReader(handle))
    if not rows:
        raise ValueError(f"{args.csv} has no data rows")
    column = args.column or list(rows[0])[-1]
    if column not in rows[0]:
        raise ValueError(f"{args.csv} has no column {column!r}")
    return [float(row[column]) for row in rows]


def _predict(args: argparse.Namespace) -> int:
    import numpy as np
    import torch

    from app.artifact import ArtifactError
    from app.runtime.errors import ForecastError
    from app.runtime.forecaster import Forecaster
    from app.runtime.service import Limits, check_series, to_array

    try:
        forecaster = Forecaster.load(args.file, torch.device("cpu"), args.file.parent.name)
        values = to_array(_read_values(args), 0)
        check_series([values], forecaster.window, Limits())
        history = values[-forecaster.window :][None, :]
        rolling = forecaster.rolling(np.ascontiguousarray(history), args.horizon)[0]
    except (ArtifactError, ForecastError, ValueError, OSError) as exc:
        print(f"rnncast predict: {exc}", file=sys.stderr)
        return 2
    print(json.dumps({"next": float(rolling[0]), "rolling": [float(v) for v in rolling]}))
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``rnncast`` command."""
    args = _parser().parse_args(argv)
    handlers = {"train": _train, "serve": _serve, "inspect": _inspect, "predict": _predict}
    return handlers[args.command](args)


if __name__ == "__main__":
    sys.exit(main())
