"""``rnncast batch``: forecast every series of a CSV or Parquet input, offline, on all cores.

The server's numbers (app.batch.engine), streamed in chunks of whole series so memory
stays bounded, resumable, with the model verified before any input is read. Exit
status: 0 done, 2 bad options or input, 3 the model is refused (checksum, signature,
not loadable), 130 interrupted (finished parts are kept; rerun to resume).
"""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Callable
from pathlib import Path
from types import TracebackType
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from app.batch.engine import BatchSpec

EXIT_INPUT, EXIT_MODEL, EXIT_INTERRUPTED = 2, 3, 130
PLAIN_EVERY_S = 10.0


def _positive(text: str) -> int:
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1, not {value}")
    return value


def _numbers(low: float, high: float) -> Callable[[str], tuple[float, ...]]:
    """A parser of comma-separated numbers, each strictly between ``low`` and ``high``."""

    def parse(text: str) -> tuple[float, ...]:
        values = tuple(float(part) for part in text.split(",") if part.strip())
        for value in values:
            if not low < value < high:
                raise argparse.ArgumentTypeError(f"{value:g} is not between {low:g} and {high:g}")
        return values

    return parse


def add_parser(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Register ``batch`` and its flags."""
    batch = commands.add_parser(
        "batch", help="forecast every series of a CSV or Parquet input, offline, on all cores",
        description="Rows (unique_id, ds, y) in, forecast rows out, with the server's numbers. The input "
        "is a file or a directory of .parquet or .csv parts; each series' rows must be together (the "
        "input grouped or sorted by id, a series in one file). Exit status: 0 done, 2 bad options or "
        "input, 3 model refused, 130 interrupted (rerun the same command to resume).",
    )
    batch.add_argument("--model", type=Path, required=True, help="model.pt, or the directory holding it")
    batch.add_argument("--input", type=Path, required=True, help="a .parquet/.csv file or a directory of them")
    batch.add_argument("--output", type=Path, required=True,
                       help="a directory of Parquet parts, or one .parquet or .csv file")
    batch.add_argument("--horizon", type=_positive, required=True, help="steps forecast after each series' end")
    batch.add_argument("--level", type=_numbers(0, 100), default=(), help="interval levels in percent: 80,95")
    batch.add_argument("--quantiles", type=_numbers(0, 1), default=(), help="quantile levels: 0.1,0.5,0.9")
    batch.add_argument("--interval-method", choices=["paths", "conformal"], default="paths",
                       help="simulated paths or conformal calibration on each series' history")
    batch.add_argument("--num-samples", type=_positive, default=100, help="simulated paths (paths method)")
    batch.add_argument("--calibration-windows", type=_positive, help="windows (conformal; default: up to 50)")
    batch.add_argument("--seed", type=int, default=0, help="seed of the sampled paths (per series with its id)")
    batch.add_argument("--backtest", type=_positive, metavar="N_WINDOWS",
                       help="backtest N cut-offs per series instead of forecasting ahead")
    batch.add_argument("--step-size", type=_positive, help="positions between backtest cut-offs (default: horizon)")
    batch.add_argument("--freq", help="pandas alias of the step (default: inferred per series)")
    batch.add_argument("--fill", choices=["linear", "ffill", "zero", "refuse"], default="linear",
                       help="how missing values and timestamps are filled")
    batch.add_argument("--max-missing", type=float, default=0.5,
                       help="refuse a series when more of its last window than this share was missing")
    batch.add_argument("--id-col", default="unique_id", help="column naming each series")
    batch.add_argument("--time-col", default="ds", help="column of timestamps (empty: rows in time order)")
    batch.add_argument("--target-col", default="y", help="column of values")
    batch.add_argument("--workers", type=_positive, help="processes, one torch thread each (default: all cores)")
    batch.add_argument("--chunk-series", type=_positive, default=1000, help="series per chunk and output part")
    batch.add_argument("--sha256", help="refuse the model unless its sha256 is this")
    batch.add_argument("--trusted-key", type=Path, action="append", default=[],
                       help="verify the model's signature against this public key (repeatable)")
    batch.add_argument("--trusted-certificate", type=Path, action="append", default=[],
                       help="verify the model's signature against this CA certificate (repeatable)")
    batch.add_argument("--no-progress", action="store_true", help="print no progress on standard error")
    batch.add_argument("--engine", choices=["local", "ray", "spark"], default="local",
                       help="processes on this machine, or a Ray or Spark cluster (the ray or spark extra); "
                       "ray and spark write a directory of Parquet parts, without resuming")
    batch.add_argument("--address", help="Ray cluster address (--engine ray; default: RAY_ADDRESS, else a local Ray)")
    batch.add_argument("--master", help="Spark master URL (--engine spark; default: spark-submit's, else local[*])")
    batch.add_argument("--regroup", action="store_true",
                       help="ray and spark: rows in any order, regrouped by series with a shuffle (default: a "
                       "task per file, each series' rows together in one file, as locally)")
    batch.set_defaults(run=run)


class _Progress:
    """Series done and series/s on standard error: a tqdm bar when tqdm is installed
    (the train extra), else a plain line every PLAIN_EVERY_S seconds."""

    def __init__(self, enabled: bool) -> None:
        self.enabled, self.series, self.started, self.shown = enabled, 0, time.monotonic(), 0.0
        self.bar = None
        if enabled:
            try:
                from tqdm import tqdm
            except ModuleNotFoundError:
                return
            self.bar = tqdm(desc="rnncast batch", unit=" series", file=sys.stderr)

    def __enter__(self) -> _Progress:
        return self

    def __exit__(self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None) -> None:
        if self.bar is not None:
            self.bar.close()

    def __call__(self, series: int) -> None:
        self.series += series
        if self.bar is not None:
            self.bar.update(series)
            return
        now = time.monotonic()
        if self.enabled and now - self.shown >= PLAIN_EVERY_S:
            self.shown = now
            print(f"rnncast batch: {self.series:,} series, {self.rate():,.1f} series/s", file=sys.stderr)

    def rate(self) -> float:
        """Series per second since the start."""
        return self.series / max(time.monotonic() - self.started, 1e-9)


def run(args: argparse.Namespace) -> int:
    """Run the job and print a summary line; see the module for the exit status."""
    import pyarrow as pa

    from app.artifact import MODEL_FILE, ArtifactError
    from app.batch import local
    from app.batch.chunks import InputError
    from app.batch.engine import BatchSpec
    from app.runtime.errors import ForecastError, SignatureError
    from app.runtime.frames.fill import FillPolicy
    from app.runtime.intervals import IntervalSpec

    model = args.model / MODEL_FILE if args.model.is_dir() else args.model
    intervals = IntervalSpec(args.interval_method, args.level, args.quantiles, args.num_samples,
                             args.calibration_windows)
    spec = BatchSpec(model, args.horizon, args.sha256, tuple(args.trusted_key), tuple(args.trusted_certificate),
                     intervals, args.seed, args.id_col, args.time_col, args.target_col, args.freq,
                     FillPolicy(args.fill, args.max_missing), args.backtest or 0, args.step_size)
    if args.engine != "local":
        return _run_on_cluster(args, spec)
    if args.regroup:
        print("rnncast batch: --regroup is for --engine ray or spark; locally each series' rows must be together",
              file=sys.stderr)
        return EXIT_INPUT
    job = local.LocalJob(spec, args.input, args.output, args.workers or local.default_workers(), args.chunk_series)
    try:
        with _Progress(not args.no_progress) as progress:
            summary = local.run(job, progress)
    except (ArtifactError, SignatureError) as exc:
        print(f"rnncast batch: model refused: {exc}", file=sys.stderr)
        return EXIT_MODEL
    except (InputError, local.BatchError, ForecastError, pa.ArrowException, OSError) as exc:
        print(f"rnncast batch: {exc}", file=sys.stderr)
        return EXIT_INPUT
    except KeyboardInterrupt:
        print("rnncast batch: interrupted; finished parts are kept, rerun to resume", file=sys.stderr)
        return EXIT_INTERRUPTED
    print(f"rnncast batch: {summary.series:,} series forecast into {summary.written} parts "
          f"({summary.skipped} parts already done) at {progress.rate():,.1f} series/s -> {args.output}",
          file=sys.stderr)
    return 0


def _run_on_cluster(args: argparse.Namespace, spec: BatchSpec) -> int:
    """The job on Ray or Spark (imported only here): the model verified first, the
    input listed, then the whole job in one go into a new directory of Parquet parts."""
    from app.artifact import ArtifactError
    from app.batch.chunks import InputError, input_files
    from app.batch.engine import refusal_in, verify_model
    from app.runtime.errors import SignatureError

    try:
        verify_model(spec)
    except (ArtifactError, SignatureError) as exc:
        print(f"rnncast batch: model refused: {exc}", file=sys.stderr)
        return EXIT_MODEL
    try:
        files = input_files(args.input)
    except InputError as exc:
        print(f"rnncast batch: {exc}", file=sys.stderr)
        return EXIT_INPUT
    if args.output.exists():
        print(f"rnncast batch: {args.output} exists; --engine {args.engine} writes a new directory",
              file=sys.stderr)
        return EXIT_INPUT
    started = time.monotonic()
    try:
        if args.engine == "ray":
            from app.batch import on_ray

            on_ray.run_job(spec, files, args.output, args.workers, args.address, args.regroup, args.chunk_series)
        else:
            from app.batch import on_spark

            on_spark.run_job(spec, files, args.output, args.master, args.regroup, args.chunk_series)
    except Exception as exc:  # a worker's error comes back wrapped by the engine
        refusal = refusal_in(exc)
        if refusal is None:
            raise
        print(f"rnncast batch: {'model refused: ' if refusal.of_model else ''}{refusal.message}", file=sys.stderr)
        return EXIT_MODEL if refusal.of_model else EXIT_INPUT
    print(f"rnncast batch: forecast on {args.engine} in {time.monotonic() - started:,.1f} s -> {args.output}",
          file=sys.stderr)
    return 0
