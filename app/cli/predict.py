"""``rnncast predict``: forecast offline from an artifact, no server."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path


def add_parser(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Register ``predict`` and its flags."""
    predict = commands.add_parser("predict", help="forecast offline from an artifact")
    predict.add_argument("file", type=Path, help="the model file, e.g. models/default/model.pt")
    source = predict.add_mutually_exclusive_group(required=True)
    source.add_argument("--values", help="comma-separated values, oldest first")
    source.add_argument("--csv", type=Path, help="CSV file to read the values from")
    predict.add_argument("--column", help="CSV column (default: the last one)")
    predict.add_argument("--horizon", type=int, default=1, help="recursive steps to forecast")
    predict.set_defaults(run=run)


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
    values = []
    for line, row in enumerate(rows, start=2):
        try:
            values.append(float(row[column]))
        except ValueError:
            raise ValueError(f"{args.csv}: column {column!r} has a non-number {row[column]!r} at row {line}") from None
    return values


def run(args: argparse.Namespace) -> int:
    """Print the next value and the recursive path as JSON; exit 2 on bad input."""
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
