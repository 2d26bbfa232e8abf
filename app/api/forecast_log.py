"""The forecast log: one JSON line per forecast, to score against the actuals later.

On with ``RNNCAST_FORECAST_LOG`` (a file path, or ``stdout``); ``rnncast score``
joins its lines with actual values that arrive later. A line holds:

- ``ts``: when the forecast was answered (ISO 8601 UTC); ``request_id``: the
  request's ``X-Request-ID``; ``trace_id``: the request's trace id (32 hex digits)
  when tracing is on (app.api.tracing), else null;
- ``kind`` (``one_step`` or ``rolling``) and ``model``: ``name``, ``version``, ``sha256``;
- ``series_id``, ``last_timestamp`` (time of the last posted value, when the request
  gave ``start`` and ``freq``, or rows with dates in ``ds``; else null), ``last_value``;
- ``naive_mae``: the mean absolute change between consecutive posted values, the
  in-sample error of the naive forecast, which scales errors into MASE (null for a
  single value);
- ``forecast`` (one value per step), ``timestamps`` of the steps (or null),
  ``quantiles`` (level -> one value per step, or null).

A request never waits for the disk, and does little for the log: it queues each
forecast as it is, in a buffer bounded by the numbers the queued forecasts hold; a
thread of the log's own formats the queue every ``flush_seconds`` (the ``naive_mae``
of the whole batch in a few numpy calls) and writes it out. Forecasts that find the
buffer full are dropped and counted in ``rnncast_forecast_log_dropped_total``. With
``RNNCAST_FORECAST_LOG_SAMPLE_RATE`` below 1 each forecast is kept with that probability.
"""

from __future__ import annotations

import itertools
import logging
import random
import threading
import time
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

import numpy as np
import orjson
from starlette.requests import Request

from app.api import metrics
from app.api.log_sinks import RotatingFileSink, StreamSink
from app.api.logs import iso_ms
from app.config import Settings
from app.runtime.calendar import step_times
from app.runtime.forecaster import Array, Forecaster
from app.runtime.frames.panel import Panel
from app.runtime.frames.table import Table
from app.runtime.frames.times import format_times
from app.runtime.service import RollingForecast, SeriesInput

logger = logging.getLogger("rnncast.forecast_log")

STDOUT = "stdout"
_OPTIONS = orjson.OPT_SERIALIZE_NUMPY | orjson.OPT_APPEND_NEWLINE


class Sink(Protocol):
    """Where the writer thread puts whole lines."""

    def write(self, lines: list[bytes]) -> None: ...

    def close(self) -> None: ...


@dataclass(frozen=True, slots=True)
class LoggedForecast:
    """One series' forecast, as a route hands it to the log."""

    series_id: str | None
    history: Sequence[float] | Array
    """The posted values, oldest first."""
    forecast: Sequence[float] | Array
    """One value per forecast step."""
    timestamps: Sequence[str] | None = None
    quantiles: Mapping[str, Array] | None = None
    last_timestamp: str | None = None

    def numbers(self) -> int:
        """How many numbers this forecast holds (what the buffer bound counts)."""
        return len(self.history) + len(self.forecast) * (1 + len(self.quantiles or ()))

    def fields(self, naive_mae: float | None) -> dict[str, Any]:
        """This forecast's part of its log line."""
        return {
            "series_id": self.series_id,
            "last_timestamp": self.last_timestamp,
            "last_value": self.history[-1],  # as posted: a float32 history stays float32-short
            "naive_mae": naive_mae,
            "forecast": self.forecast,
            "timestamps": self.timestamps,
            "quantiles": self.quantiles,
        }


def naive_maes(histories: Sequence[Sequence[float] | Array]) -> list[float | None]:
    """The mean absolute change between consecutive values of each history (None for
    fewer than two values), for a whole batch in one pass over all its values."""
    long = [i for i, h in enumerate(histories) if len(h) > 1]
    result: list[float | None] = [None] * len(histories)
    if not long:
        return result
    lengths = np.array([len(histories[i]) for i in long])
    values = np.fromiter(itertools.chain.from_iterable(histories[i] for i in long), np.float64, int(lengths.sum()))
    changes = np.abs(np.diff(values))
    ends = np.cumsum(lengths)
    changes[ends[:-1] - 1] = 0.0  # the step from one history into the next is no change
    sums = np.add.reduceat(changes, np.concatenate(([0], ends[:-1])))
    for i, mae in zip(long, sums / (lengths - 1), strict=True):
        result[i] = float(mae)
    return result


def rolling_forecast(series: SeriesInput, result: RollingForecast) -> LoggedForecast:
    """What the log keeps of one series of a rolling request."""
    last = None
    if series.start is not None and series.freq is not None:
        last = step_times(series.start, series.freq, len(series.values) - 1, 1)[0]
    return LoggedForecast(series.id, series.values, result.mean, result.timestamps, result.quantiles, last)


def rows_forecasts(panel: Panel, table: Table, horizon: int) -> Iterator[LoggedForecast]:
    """What the log keeps of each series of a rows request, whose answer ``table`` has
    ``horizon`` rows per series in the panel's order. Times are logged only when ``ds``
    held dates: integer positions are no instants to join actual values on."""
    dated = panel.time_kind == "datetime"
    steps = format_times(table.columns["ds"].astype(np.int64, copy=False), panel.zoned) if dated else None
    series = np.arange(len(panel.names))
    lasts = format_times(panel.calendar.times(series, panel.lengths - 1), panel.zoned) if dated else None
    mean = table.columns["mean"].astype(np.float32, copy=False)
    quantiles = {name[2:]: column.astype(np.float32, copy=False)
                 for name, column in table.columns.items() if name.startswith("q-")}
    for s, name in enumerate(panel.names):
        rows = slice(s * horizon, (s + 1) * horizon)
        yield LoggedForecast(
            name,
            panel.values[panel.offsets[s] : panel.offsets[s + 1]],
            mean[rows],
            None if steps is None else steps[rows].tolist(),
            {key: column[rows] for key, column in quantiles.items()} or None,
            None if lasts is None else str(lasts[s]),
        )


def _plain(value: object) -> object:
    """orjson writes C-contiguous numpy arrays itself; anything else numpy, as a list."""
    if isinstance(value, np.ndarray | np.generic):
        return value.tolist()
    raise TypeError(f"cannot log a {type(value).__name__}")


def _lines(batch: list[tuple[dict[str, Any], LoggedForecast]]) -> list[bytes]:
    scales = naive_maes([item.history for _, item in batch])
    return [
        orjson.dumps({**head, "ts": iso_ms(head["ts"]), **item.fields(scale)}, default=_plain, option=_OPTIONS)
        for (head, item), scale in zip(batch, scales, strict=True)
    ]


class ForecastLog:
    """Queues forecasts on the caller's thread; formats and writes them on its own."""

    NUMBER_BYTES = 8  # what the buffer bound counts for each queued number

    def __init__(
        self, sink: Sink, sample_rate: float = 1.0, buffer_bytes: int = 8 * 1024 * 1024, flush_seconds: float = 0.2
    ) -> None:
        self._sink = sink
        self._flush_seconds = flush_seconds
        self._sample_rate = sample_rate
        self._buffer_bytes = buffer_bytes
        self._pending: list[tuple[dict[str, Any], LoggedForecast]] = []
        self._pending_bytes = 0
        self._lock = threading.Lock()  # held only to append or to swap the buffer, never for I/O
        self._written = metrics.FORECAST_LOG_LINES
        self._dropped_full = metrics.FORECAST_LOG_DROPPED.labels("buffer_full")
        self._dropped_error = metrics.FORECAST_LOG_DROPPED.labels("write_error")
        self._failing = False
        self._closed = threading.Event()
        self._writer = threading.Thread(target=self._write_periodically, name="forecast-log", daemon=True)
        self._writer.start()

    def record(
        self, request_id: str, forecaster: Forecaster, kind: str, forecasts: Iterable[LoggedForecast],
        trace_id: str | None = None,
    ) -> None:
        """Queue each forecast the sampling keeps; never waits for I/O."""
        head = {
            "ts": time.time(),
            "request_id": request_id,
            "trace_id": trace_id,
            "kind": kind,
            "model": {"name": forecaster.name, "version": forecaster.metadata.version, "sha256": forecaster.sha256},
        }
        for item in forecasts:
            if self._sample_rate < 1.0 and random.random() >= self._sample_rate:
                continue
            self._offer(head, item)

    def _offer(self, head: dict[str, Any], item: LoggedForecast) -> None:
        size = self.NUMBER_BYTES * item.numbers()
        with self._lock:
            if self._pending_bytes + size <= self._buffer_bytes:
                self._pending.append((head, item))
                self._pending_bytes += size
                return
        self._dropped_full.inc()

    def flush(self) -> None:
        """Write every queued forecast now (the writer thread does this every ``flush_seconds``)."""
        with self._lock:
            batch, self._pending, self._pending_bytes = self._pending, [], 0
        if not batch:
            return
        lines = _lines(batch)
        try:
            self._sink.write(lines)
        except OSError as exc:
            self._dropped_error.inc(len(lines))
            if not self._failing:  # once per failing spell, not every flush
                logger.error("forecast log write failed; lines dropped until it succeeds",
                             extra={"lines": len(lines), "reason": str(exc)})
            self._failing = True
            return
        self._failing = False
        self._written.inc(len(lines))

    def _write_periodically(self) -> None:
        while not self._closed.wait(self._flush_seconds):
            self.flush()

    def close(self) -> None:
        """Stop the writer, write what is left, close the sink (at shutdown)."""
        self._closed.set()
        self._writer.join()
        self.flush()
        self._sink.close()


def open_forecast_log(settings: Settings) -> ForecastLog | None:
    """The log ``settings`` ask for, or None when it is off. RuntimeError naming the
    setting when the file cannot be opened: the server then stops at start."""
    target = settings.forecast_log
    if target is None:
        return None
    sink: Sink
    if target == STDOUT:
        sink = StreamSink(1)
    else:
        try:
            sink = RotatingFileSink(Path(target), settings.forecast_log_max_bytes, settings.forecast_log_backups)
        except OSError as exc:
            raise RuntimeError(f"RNNCAST_FORECAST_LOG: cannot write {target}: {exc.strerror or exc}") from exc
    return ForecastLog(sink, settings.forecast_log_sample_rate, settings.forecast_log_buffer_bytes)


def record(request: Request, forecaster: Forecaster, kind: str, forecasts: Iterable[LoggedForecast]) -> None:
    """Log a request's forecasts when the forecast log is on; otherwise nothing is
    built (``forecasts`` is best a lazy iterable) and nothing is done."""
    log: ForecastLog | None = request.app.state.service.forecast_log
    if log is not None:
        log.record(request.state.request_id, forecaster, kind, forecasts, request.scope["state"].get("trace_id"))
