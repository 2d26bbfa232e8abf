"""Structured logs: one JSON object per line on standard error."""

from __future__ import annotations

import logging
import logging.config
import threading
import time
from datetime import UTC, datetime
from typing import Any

import orjson

# Attributes every LogRecord has; anything else was passed with ``extra=`` and is logged.
_STANDARD = set(vars(logging.makeLogRecord({}))) | {"message", "asctime", "color_message"}


_second_prefix: tuple[int, str] = (-1, "")


def iso_ms(timestamp: float) -> str:
    """``timestamp`` as ISO 8601 UTC with milliseconds, like ``datetime.isoformat``.

    The date and time of day are formatted once a second: datetime's own formatting
    costs more than the rest of a request's log line.
    """
    global _second_prefix
    second = int(timestamp)
    micros = round((timestamp - second) * 1e6)  # rounded as datetime.fromtimestamp does
    if micros == 1_000_000:
        second, micros = second + 1, 0
    cached_second, prefix = _second_prefix  # one tuple: a racing thread sees a matching pair
    if second != cached_second:
        prefix = datetime.fromtimestamp(second, UTC).strftime("%Y-%m-%dT%H:%M:%S")
        _second_prefix = (second, prefix)
    return f"{prefix}.{micros // 1000:03d}+00:00"


class JsonFormatter(logging.Formatter):
    """Formats a record as one JSON line with its ``extra`` fields."""

    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, Any] = {
            "ts": iso_ms(record.created),
            "level": record.levelname.lower(),
            "logger": record.name,
            "msg": record.getMessage(),
        }
        entry.update({k: v for k, v in vars(record).items() if k not in _STANDARD})
        if record.exc_info:
            entry["exc"] = self.formatException(record.exc_info)
        return orjson.dumps(entry, default=str).decode()


class BufferedStreamHandler(logging.StreamHandler):  # type: ignore[type-arg]
    """A StreamHandler that writes in batches: at most every FLUSH_SECONDS, at once for
    warnings and errors, when the buffer grows large, and at exit.

    One write per request line costs a system call and a GIL hand-off on the event
    loop's thread; measured at 64 concurrent clients on one core, that was about a
    quarter of the server's throughput (bench/RESULTS.md).
    """

    FLUSH_SECONDS = 0.1
    MAX_PENDING = 256

    def __init__(self, stream: Any = None) -> None:
        super().__init__(stream)
        self._pending: list[str] = []
        self._flusher: threading.Thread | None = None

    def emit(self, record: logging.LogRecord) -> None:
        try:
            line = self.format(record) + self.terminator
        except Exception:  # noqa: BLE001 - logging must never raise into the caller
            self.handleError(record)
            return
        with self.lock:  # type: ignore[union-attr]
            self._pending.append(line)
            urgent = record.levelno >= logging.WARNING or len(self._pending) >= self.MAX_PENDING
            if self._flusher is None:  # started lazily: also in forked worker processes
                self._flusher = threading.Thread(target=self._flush_periodically, name="log-flush", daemon=True)
                self._flusher.start()
        if urgent:
            self.flush()

    def write_line(self, line: str) -> None:
        """Queue one already formatted line (the request log's fast path)."""
        with self.lock:  # type: ignore[union-attr]
            self._pending.append(line + self.terminator)
            if self._flusher is None:
                self._flusher = threading.Thread(target=self._flush_periodically, name="log-flush", daemon=True)
                self._flusher.start()
            full = len(self._pending) >= self.MAX_PENDING
        if full:
            self.flush()

    def flush(self) -> None:
        with self.lock:  # type: ignore[union-attr]
            pending, self._pending = self._pending, []
            if pending and self.stream is not None:
                self.stream.write("".join(pending))
                self.stream.flush()

    def _flush_periodically(self) -> None:
        while True:
            time.sleep(self.FLUSH_SECONDS)
            self.flush()


def log_request(logger: logging.Logger, fields: dict[str, Any]) -> None:
    """Log one request as an info line with ``fields``.

    Where the line goes to a BufferedStreamHandler it is formatted here directly,
    skipping the LogRecord and the formatter's scan of it: with one line per request
    that work cost about 15% of one-step throughput under load (bench/RESULTS.md,
    "no-request-log"). The line is the same JsonFormatter would write.
    """
    if not logger.isEnabledFor(logging.INFO):
        return
    handlers = logging.getLogger().handlers if logger.propagate and not logger.handlers else logger.handlers
    if len(handlers) != 1 or not isinstance(handlers[0], BufferedStreamHandler):
        logger.info("request", extra=fields)
        return
    entry = {
        "ts": iso_ms(time.time()),
        "level": "info",
        "logger": logger.name,
        "msg": "request",
        **fields,
    }
    handlers[0].write_line(orjson.dumps(entry, default=str).decode())


def log_config(level: str) -> dict[str, Any]:
    """A dictConfig sending every logger (uvicorn's too) through one JSON handler.

    uvicorn's access log is silenced: the request middleware logs each request
    with more detail (route, duration, batch size, request id).
    """
    return {
        "version": 1,
        "disable_existing_loggers": False,
        "formatters": {"json": {"()": JsonFormatter}},
        "handlers": {
            "stderr": {"()": BufferedStreamHandler, "formatter": "json", "stream": "ext://sys.stderr"}
        },
        "root": {"handlers": ["stderr"], "level": level.upper()},
        "loggers": {
            "uvicorn": {"handlers": [], "propagate": True},
            "uvicorn.error": {"handlers": [], "propagate": True},
            "uvicorn.access": {"handlers": [], "propagate": False, "level": "WARNING"},
        },
    }


def configure_logging(level: str) -> None:
    """Apply :func:`log_config` to this process."""
    # Fields the JSON lines never show; skipping them makes each record cheaper.
    logging.logThreads = logging.logProcesses = logging.logMultiprocessing = False
    logging.config.dictConfig(log_config(level))
