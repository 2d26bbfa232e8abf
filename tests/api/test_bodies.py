"""Large bodies are validated in slices with the small-body rules, and refused before
the full parse when they hold too many series or values."""

from __future__ import annotations

import asyncio
import gc
from typing import Any

import orjson
import pytest
from fastapi.exceptions import RequestValidationError
from pydantic import BaseModel, ValidationError

from app.api.bodies import LARGE_BODY, parse_body
from app.api.schemas import RollingRequest, TimedSeriesIn
from app.runtime.errors import LimitExceededError


def parse(body: bytes, max_items: int = 10_000, max_values: int = 100_000) -> BaseModel:
    return asyncio.run(parse_body(RollingRequest, body, key="series", item=TimedSeriesIn,
                                  max_items=max_items, max_values=max_values))


def big(series: list[dict[str, Any]], **rest: Any) -> bytes:
    body = orjson.dumps({"horizon": 3, **rest, "series": series})
    assert len(body) > LARGE_BODY
    return body


def test_a_large_body_parses_to_what_the_whole_parse_gives() -> None:
    tricky_ids = ['a{["x', 'b\\"]}', "c,,,", "é"]
    series = [{"id": tricky_ids[i % 4], "values": [i + 0.5] * 300, "start": "2026-01-01", "freq": "D"}
              for i in range(400)]
    body = big(series, quantiles=[0.1, 0.9], model="default")
    assert parse(body) == RollingRequest.model_validate_json(body)


def test_too_many_series_are_refused_before_parsing() -> None:
    body = b'{"horizon": 1, "series": [' + b",".join([b'{"values": [1]}'] * 200_000) + b"]}"
    with pytest.raises(LimitExceededError, match="more than 10000 series") as refused:
        parse(body)
    assert refused.value.field == "series"


def test_too_many_values_in_one_series_are_refused_before_parsing() -> None:
    body = big([{"values": [1.0] * 10}, {"values": [1] * 200_000}])
    with pytest.raises(LimitExceededError, match=r"series\[1\] has more than 100000 values"):
        parse(body)


def test_errors_in_later_series_name_their_index() -> None:
    series: list[dict[str, Any]] = [{"values": [1.0] * 200} for _ in range(400)]
    series[321]["values"][5] = "5"
    with pytest.raises(RequestValidationError) as refused:
        parse(big(series))
    assert [e["loc"] for e in refused.value.errors()] == [("body", "series", 321, "values", 5)]


def test_errors_outside_the_list_are_the_whole_parse_errors() -> None:
    body = big([{"values": [1.0] * 200} for _ in range(400)], horizon=True)
    with pytest.raises(ValidationError, match="horizon"):
        parse(body)


@pytest.mark.parametrize("body", [
    b'[' + b"1," * LARGE_BODY + b"1]",
    b'{"horizon": 1, "series": [' + b"1," * LARGE_BODY + b"1]}",
    b'{"horizon": 1, "series": [{"values": [1]}' + b" " * LARGE_BODY,
])
def test_other_shapes_get_the_whole_parse_answer(body: bytes) -> None:
    with pytest.raises(ValidationError):
        parse(body)


def test_parsed_values_are_not_tracked_by_the_garbage_collector() -> None:
    """Each full collection on the event loop would otherwise visit every posted value."""
    parsed = parse(big([{"values": [float(i)] * 200} for i in range(400)]))
    assert isinstance(parsed, RollingRequest)
    values = parsed.series[-1].values
    gc.collect()
    assert values == (399.0,) * 200 and not gc.is_tracked(values)
