"""``rnncast backtest``: backtest an artifact on a long-format CSV or Parquet file, no server.

The same computation as ``POST /v1/forecast/backtest`` (the runtime's frames and
backtest code, the artifact's frozen model): forecasts from ``--n-windows`` cut-offs
per series beside the actual values, written to ``--out``, and the scores printed
as JSON.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path


def add_parser(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Register ``backtest`` and its flags."""
    backtest = commands.add_parser("backtest", help="backtest an artifact on a long-format file, offline")
    backtest.add_argument("file", type=Path, help="the model.pt to backtest")
    backtest.add_argument("--data", type=Path, required=True, help="CSV or Parquet rows (unique_id, ds, y)")
    backtest.add_argument("--h", type=int, required=True, help="steps forecast from each cut-off")
    backtest.add_argument("--n-windows", type=int, default=1, help="cut-offs per series")
    backtest.add_argument("--step-size", type=int, help="positions between cut-offs (default: h)")
    backtest.add_argument("--season-length", type=int, default=1, help="season of MASE's naive forecast")
    backtest.add_argument("--level", type=float, nargs="*", default=[], help="interval levels in percent")
    backtest.add_argument("--interval-method", choices=["paths", "conformal"], default="paths",
                          help="how the intervals are made: simulated paths or conformal calibration")
    backtest.add_argument("--num-samples", type=int, default=100, help="simulated paths (paths method)")
    backtest.add_argument("--calibration-windows", type=int, default=20, help="windows (conformal method)")
    backtest.add_argument("--seed", type=int, default=0, help="seed of the sampled paths (per series with its id)")
    backtest.add_argument("--freq", help="pandas alias of the step (default: inferred per series)")
    backtest.add_argument("--fill", choices=["linear", "ffill", "zero", "refuse"], default="linear",
                          help="how missing values and timestamps are filled")
    backtest.add_argument("--id-col", default="unique_id", help="column naming each series")
    backtest.add_argument("--time-col", default="ds", help="column of timestamps")
    backtest.add_argument("--target-col", default="y", help="column of values")
    backtest.add_argument("--out", type=Path, help="write the forecasts here (.csv or .parquet)")
    backtest.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    """Backtest and print the scores as JSON; exit 2 on bad input."""
    import orjson
    import pyarrow as pa

    from app.artifact import ArtifactError
    from app.batch.engine import BatchForecaster, BatchSpec
    from app.runtime.errors import ForecastError
    from app.runtime.frames.arrow import read_rows, write_rows
    from app.runtime.frames.fill import FillPolicy
    from app.runtime.intervals import IntervalSpec

    intervals = IntervalSpec(args.interval_method, tuple(args.level), (), args.num_samples, args.calibration_windows)
    spec = BatchSpec(args.file, args.h, intervals=intervals, seed=args.seed, id_col=args.id_col,
                     time_col=args.time_col, target_col=args.target_col, freq=args.freq,
                     fill=FillPolicy(args.fill), backtest_windows=args.n_windows, step_size=args.step_size,
                     season_length=args.season_length, threads=None)
    try:
        engine = BatchForecaster(spec)
        csv = args.data.suffix.lower() not in (".parquet", ".pq")
        rows = read_rows(args.data, csv, args.id_col, args.target_col)
        panel = engine.panel(rows)
        result = engine.backtest(panel)
    except (ArtifactError, ForecastError, OSError, pa.ArrowInvalid) as exc:
        print(f"rnncast backtest: {exc}", file=sys.stderr)
        return 2
    if args.out is not None:
        write_rows(result.rows, args.out, args.out.suffix.lower() != ".parquet")
    scores = {
        "overall": result.scores.overall,
        "series": {"unique_id": [str(name) for name in panel.names], **result.scores.per_series},
    }
    # orjson writes NaN (a metric with nothing to average) as null, and numpy arrays as lists.
    print(orjson.dumps(scores, option=orjson.OPT_INDENT_2 | orjson.OPT_SERIALIZE_NUMPY).decode())
    return 0
