"""The JSON log lines: the request fast path writes what the formatter would."""

from __future__ import annotations

import io
import json
import logging

from app.api.logs import BufferedStreamHandler, JsonFormatter, log_request


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
