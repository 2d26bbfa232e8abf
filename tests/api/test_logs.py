"""The JSON log lines: the request fast path writes what the formatter would."""

from __future__ import annotations

import io
import json
import logging
import random
from datetime import UTC, datetime

from app.api.logs import BufferedStreamHandler, JsonFormatter, iso_ms, log_request


def test_timestamps_equal_datetimes_own_formatting() -> None:
    rng = random.Random(0)
    stamps = [rng.uniform(0, 4e9) for _ in range(20_000)]
    stamps += [s + d for s in (1_800_000_000.0, 1_800_000_001.0) for d in (-1e-7, -5e-7, 0.0, 4.9e-7, 0.0004999, 0.9995)]
    stamps += [1_800_000_000.0 + k / 1000 for k in range(2000)]  # reuse of a cached second
    for stamp in stamps:
        assert iso_ms(stamp) == datetime.fromtimestamp(stamp, UTC).isoformat(timespec="milliseconds"), stamp


def test_request_lines_match_the_formatter_and_are_flushed() -> None:
    stream = io.StringIO()
    handler = BufferedStreamHandler(stream)
    handler.setFormatter(JsonFormatter())
    logger = logging.getLogger("test.rnncast.request")
    logger.handlers[:] = [handler]
    logger.propagate = False
    logger.setLevel(logging.INFO)
    fields = {"request_id": "r1", "method": "POST", "route": "/v1/forecast", "status": 200, "batch_size": 3}
    log_request(logger, fields)
    logger.info("request", extra=fields)
    assert stream.getvalue() == ""  # buffered: written by the flusher or on flush
    handler.flush()
    fast, formatted = (json.loads(line) for line in stream.getvalue().splitlines())
    assert fast.keys() == formatted.keys()
    assert {k: v for k, v in fast.items() if k != "ts"} == {k: v for k, v in formatted.items() if k != "ts"}
    logger.warning("disk almost full")  # warnings are written at once
    assert "disk almost full" in stream.getvalue().splitlines()[-1]
