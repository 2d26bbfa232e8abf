"""The batch engine: long-format rows of whole series in, forecast rows out, with the
server's numbers.

``BatchForecaster(spec)`` verifies and loads the model once; calling it on a pyarrow
Table in which every series has all its rows gives a Table of forecasts (``unique_id,
ds, mean``, quantile and band columns, then the model's name, version and sha256). It
runs the very functions of the frame endpoints (app.runtime.frame_forecast,
app.runtime.backtest) on the table's panel, and sampled paths are seeded per series,
so any split of the series into tables gives the same numbers as the server, to the
bit. ``rnncast batch``, Ray Data and Spark all call it.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path

import pyarrow as pa

from app.artifact import ArtifactError, sha256_of
from app.batch.chunks import Columns
from app.runtime import backtest
from app.runtime.errors import ForecastError
from app.runtime.frame_forecast import RowsSpec, build_panel, check_ahead, forecast_ahead
from app.runtime.frames.arrow import arrow_of, frame_from_arrow
from app.runtime.frames.fill import FillPolicy
from app.runtime.frames.panel import Panel
from app.runtime.intervals import IntervalSpec
from app.runtime.service import Limits
from app.runtime.signing import verifier_for

# Offline there is no request to bound: the engine's memory is bounded by the size
# of the tables it is given and by the runtime's chunked passes (CHUNK_ROWS).
OFFLINE = Limits(
    max_series=10**12, max_values_per_series=10**12, max_horizon=10**9, max_num_samples=10**6,
    max_compute_rows=10**18, max_response_bytes=10**18,
)
MODEL_COLUMNS = ("model", "model_version", "model_sha256")
# The last line of a Python traceback that the engine's own error ended.
_ENGINE_ERROR = re.compile(r"^app\.(?:runtime\.errors|artifact)\.(\w+): (.+)$", re.MULTILINE)


@dataclass(frozen=True)
class BatchSpec:
    """Everything a batch forecast depends on: the model and how to trust it, what to
    forecast, and how rows become series. Plain values, so it pickles to workers.

    ``backtest_windows`` 0 forecasts ``horizon`` steps after each series' end; n > 0
    backtests instead: n cut-offs per series, ``step_size`` apart (default: horizon).
    ``threads`` sets torch's threads in the process that builds the engine (None: leave
    torch's default); one thread per worker process is what scales.
    """

    model: Path
    horizon: int
    sha256: str | None = None
    trusted_keys: tuple[Path, ...] = ()
    trusted_certificates: tuple[Path, ...] = ()
    intervals: IntervalSpec = field(default_factory=IntervalSpec)
    seed: int = 0
    id_col: str = "unique_id"
    time_col: str = "ds"
    target_col: str = "y"
    freq: str | None = None
    fill: FillPolicy = field(default_factory=FillPolicy)
    backtest_windows: int = 0
    step_size: int | None = None
    season_length: int = 1
    threads: int | None = 1

    @property
    def columns(self) -> Columns:
        """The input's column names, as the chunk reader takes them."""
        return Columns(self.id_col, self.time_col, self.target_col)

    @property
    def backtest(self) -> backtest.BacktestSpec:
        """The backtest these options describe (used when ``backtest_windows`` > 0)."""
        return backtest.BacktestSpec(self.horizon, self.backtest_windows, self.step_size, self.season_length,
                                     self.intervals, self.seed)


def verify_model(spec: BatchSpec) -> None:
    """Refuse a model whose sha256 is not the expected one, or whose signature does not
    verify against the trusted keys or certificates (when any are given).

    Raises ArtifactError or app.runtime.errors.SignatureError, naming the file.
    """
    if not spec.model.is_file():
        raise ArtifactError(f"{spec.model}: no such model file")
    if spec.sha256 is not None:
        actual = sha256_of(spec.model)
        if actual != spec.sha256.lower():
            raise ArtifactError(f"{spec.model}: sha256 {actual} is not the expected {spec.sha256}")
    verifier = verifier_for(spec.trusted_keys, spec.trusted_certificates)
    if verifier is not None:
        verifier(spec.model)


class BatchForecaster:
    """A verified, loaded model that forecasts tables of whole series (see the module)."""

    def __init__(self, spec: BatchSpec) -> None:
        import torch

        from app.runtime.forecaster import Forecaster

        if spec.threads is not None:
            torch.set_num_threads(spec.threads)
        verify_model(spec)
        self.spec = spec
        # load_artifact checks the recorded checksum and the format before anything runs.
        self.forecaster = Forecaster.load(spec.model, torch.device("cpu"), spec.model.parent.name)

    def panel(self, rows: pa.Table) -> Panel:
        """The rows as checked, regular series, exactly as the frame endpoints build them."""
        spec = self.spec
        frame = frame_from_arrow(rows, spec.id_col, spec.time_col, spec.target_col)
        return build_panel(frame, RowsSpec(spec.freq, spec.fill), self.forecaster.window, OFFLINE)

    def backtest(self, panel: Panel) -> backtest.Backtest:
        """The checked backtest of ``spec.backtest`` on ``panel``: rows and scores."""
        backtest.check(panel, self.spec.backtest, self.forecaster.window, OFFLINE)
        return backtest.run(self.forecaster, panel, self.spec.backtest)

    def __call__(self, rows: pa.Table) -> pa.Table:
        """Forecast rows (or backtest rows) of every series in ``rows``.

        Raises app.runtime.errors.ForecastError (InvalidSeriesError and kin) naming the
        series at fault, like the server's 4xx answers.
        """
        spec = self.spec
        panel = self.panel(rows)
        if spec.backtest_windows:
            table = self.backtest(panel).rows
        else:
            check_ahead(panel, spec.horizon, spec.intervals, self.forecaster.window, OFFLINE)
            table = forecast_ahead(self.forecaster, panel, spec.horizon, spec.intervals, spec.seed)
        return self._with_model(arrow_of(table, text_times=False))

    def _with_model(self, answer: pa.Table) -> pa.Table:
        """``answer`` with the model's name, version and sha256 on every row."""
        forecaster = self.forecaster
        values = (forecaster.name, forecaster.metadata.version, forecaster.sha256)
        for name, value in zip(MODEL_COLUMNS, values, strict=True):
            answer = answer.append_column(name, pa.repeat(pa.scalar(value, pa.string()), answer.num_rows))
        return answer


@dataclass(frozen=True)
class Refusal:
    """The engine refusing a job, as found behind a cluster engine's error."""

    kind: str  # the error's class: ArtifactError and SignatureError concern the model
    message: str

    @property
    def of_model(self) -> bool:
        return self.kind in ("ArtifactError", "SignatureError")


def refusal_in(exc: BaseException) -> Refusal | None:
    """The engine's own error behind ``exc``, raised by Ray or Spark when a worker's
    engine refused a series or the model; None for any other failure.

    Ray raises it again on the driver, its text ending with the worker's traceback;
    Spark only carries that traceback as text; the driver's own checks raise it plainly.
    """
    found = _ENGINE_ERROR.findall(str(exc))
    if found:
        return Refusal(*found[-1])
    if isinstance(exc, (ForecastError, ArtifactError)):
        return Refusal(type(exc).__name__, str(exc))
    return None
