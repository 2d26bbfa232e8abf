"""Request bodies parsed without stalling the event loop.

A small body is validated in one call, straight from JSON by pydantic-core. A large
one would hold the loop (and every other client) for hundreds of milliseconds in that
call: 8 MiB of numbers take 0.3-0.8 s, and half a million tiny series several seconds
before the series limit could even be applied. So a body over ``LARGE_BODY`` bytes is
taken apart first: a scanner that jumps over numbers and strings in C (``re``) finds
the elements of the top-level list (``series``), refusing the request as soon as it
holds more elements than allowed or one element holds more values than allowed; then
the envelope (with the first element) and each further element are validated in JSON
mode by the same schema, so the rules and messages are the ones a small body gets.
Every few milliseconds the work yields to the event loop.
"""

from __future__ import annotations

import asyncio
import re
import time
from collections.abc import Generator
from typing import Any, TypeVar

from fastapi.exceptions import RequestValidationError
from pydantic import BaseModel, ValidationError

from app.runtime.errors import LimitExceededError

M = TypeVar("M", bound=BaseModel)

LARGE_BODY = 256 * 1024
SLICE_S = 0.005  # longest stretch of parsing between two yields to the event loop
MAX_ERRORS = 50  # validation errors reported at most (the rest are counted)
# Commas in an element beside those between its values: its id (at most 256
# characters), and those between its keys.
_OTHER_COMMAS = 300
_STEP_BYTES = 64 * 1024  # of the body scanned between two yields, at most (bar one number run)

_STRUCTURE = re.compile(rb'[{}\[\]"]')
_STRING_TAIL = re.compile(rb'(?:[^"\\]|\\.)*"', re.S)
_SEPARATORS = b" \t\r\n,"
_QUOTE, _BRACE, _BRACKET = ord('"'), ord("{"), ord("[")
_OPENERS = b"{["

# (start, end) of the list, and of each element in it
_Spans = tuple[int, int, list[tuple[int, int]]]


class _Layout(Exception):
    """The body is not a JSON object whose list field holds objects: parse it whole."""


def _scan(body: bytes, key: bytes, max_items: int, max_values: int) -> Generator[None, None, _Spans]:
    """The span of the top-level array under ``key`` and of each object in it.

    Yields every 256 structural characters or 64 KiB, whichever comes first: the regex
    skips numbers in C, but not for free (8 MiB of numbers take it 30-50 ms, and a long
    series holds no structural character for megabytes). Raises
    LimitExceededError as soon as a limit is broken, and _Layout when the body is
    shaped otherwise.
    """
    quoted, name = b'"' + key + b'"', key.decode()
    depth, skip_until, last_key = 0, 0, b""
    start = end = -1
    in_array, item_start, gap = False, 0, 0
    items: list[tuple[int, int]] = []
    next_yield = _STEP_BYTES
    for count, match in enumerate(_STRUCTURE.finditer(body)):
        pos = match.start()
        if count & 255 == 255 or pos > next_yield:
            yield
            next_yield = pos + _STEP_BYTES
        if pos < skip_until:  # inside a string
            continue
        char = body[pos]
        if char == _QUOTE:
            tail = _STRING_TAIL.match(body, pos + 1)
            if tail is None or (in_array and depth == 2):
                raise _Layout
            skip_until = tail.end()
            if depth == 1 and body[skip_until:skip_until + 64].lstrip()[:1] == b":":
                last_key = body[pos:skip_until]
        elif char in _OPENERS:
            depth += 1
            if depth == 2 and char == _BRACKET and last_key == quoted and not in_array:
                if start >= 0:
                    raise _Layout  # the key twice: the parser decides
                in_array, start, gap = True, pos, pos + 1
            elif in_array and depth == 3:
                if char != _BRACE or body[gap:pos].strip(_SEPARATORS):
                    raise _Layout
                if len(items) == max_items:
                    raise LimitExceededError(
                        f"more than {max_items} series posted; at most {max_items} per request",
                        field=name, limit=max_items,
                    )
                item_start = pos
        else:
            depth -= 1
            if in_array and depth == 2:
                gap = pos + 1
                if body.count(b",", item_start, gap) > max_values + _OTHER_COMMAS:
                    raise LimitExceededError(
                        f"{name}[{len(items)}] has more than {max_values} values; at most {max_values}",
                        field=f"{name}[{len(items)}].values", limit=max_values,
                    )
                items.append((item_start, gap))
            elif in_array and depth == 1:
                if body[gap:pos].strip(_SEPARATORS):
                    raise _Layout
                in_array, end = False, pos + 1
    if end < 0 or not items:
        raise _Layout
    return start, end, items


async def _drive(work: Generator[None, None, Any]) -> Any:
    """Run a generator, yielding to the event loop whenever a slice took SLICE_S."""
    started = time.perf_counter()
    while True:
        try:
            next(work)
        except StopIteration as done:
            return done.value
        if time.perf_counter() - started > SLICE_S:
            await asyncio.sleep(0)
            started = time.perf_counter()


def _validate(model: type[M], item: type[BaseModel], body: bytes, key: str, spans: _Spans) -> Generator[None, None, M]:
    """The envelope with the first element, then each further element, in JSON mode."""
    start, end, items = spans
    first = body[items[0][0]:items[0][1]]
    envelope = model.model_validate_json(body[:start] + b"[" + first + b"]" + body[end:])
    parsed = [getattr(envelope, key)[0]]
    errors: list[dict[str, Any]] = []
    for i, (s, e) in enumerate(items[1:], start=1):
        try:
            parsed.append(item.model_validate_json(body[s:e]))
        except ValidationError as exc:
            errors += [{**err, "loc": ("body", key, i, *err["loc"])} for err in exc.errors(include_url=False)]
            if len(errors) >= MAX_ERRORS:
                break
        yield
    if errors:
        raise RequestValidationError(errors[:MAX_ERRORS])
    return envelope.model_copy(update={key: parsed})


async def parse_body(
    model: type[M], body: bytes, *, key: str, item: type[BaseModel], max_items: int, max_values: int
) -> M:
    """``model`` validated from JSON ``body``, whose field ``key`` is a list of ``item``.

    Large bodies are split and validated in slices (see the module docstring); limits
    on the list's length and on each element's values apply before the full parse.
    """
    if len(body) <= LARGE_BODY:
        return model.model_validate_json(body)
    try:
        spans = await _drive(_scan(body, key.encode(), max_items, max_values))
    except _Layout:
        return model.model_validate_json(body)
    parsed: M = await _drive(_validate(model, item, body, key, spans))
    return parsed
