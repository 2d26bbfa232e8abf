"""Long-format bodies in, answer rows out: JSON rows, CSV or Parquet.

The request's ``Content-Type`` says how its body is written (anything but CSV or
Parquet is read as JSON, as before); ``Accept`` says how the answer should be,
defaulting to the body's own format. CSV and Parquet go through pyarrow, imported
on first use only (its import costs the process about 86 MiB and 0.2 s, bench/FRAMES.md).
"""

from __future__ import annotations

import io
import json
from typing import Any

import numpy as np
import orjson
from starlette.concurrency import run_in_threadpool
from starlette.responses import Response

from app.api import tracing
from app.api.errors import ApiError
from app.api.frame_schemas import Row, RowIn, RowsOptions
from app.runtime.errors import InvalidSeriesError
from app.runtime.frames.panel import Frame, factorize
from app.runtime.frames.table import Table
from app.runtime.frames.times import format_times, parse_times

JSON, CSV, PARQUET = "json", "csv", "parquet"
MEDIA_TYPES = {JSON: "application/json", CSV: "text/csv", PARQUET: "application/vnd.apache.parquet"}
_NAMED = {
    "application/json": JSON, "text/csv": CSV, "application/csv": CSV,
    "application/vnd.apache.parquet": PARQUET, "application/parquet": PARQUET, "application/x-parquet": PARQUET,
}
META_HEADER = "X-Rnncast-Meta"


def _media(header: str) -> str:
    return header.split(";", 1)[0].strip().lower()


def body_format(content_type: str | None) -> str:
    """CSV or Parquet by Content-Type; anything else is read as JSON."""
    return _NAMED.get(_media(content_type or ""), JSON)


def _weight(params: list[str]) -> float:
    for param in params:
        key, _, value = param.partition("=")
        if key.strip().lower() == "q":
            try:
                return float(value)
            except ValueError:
                return 0.0
    return 1.0


def answer_format(accept: str | None, default: str) -> str:
    """The format ``Accept`` prefers among JSON, CSV and Parquet (406 when none);
    ``default`` (the body's format) when it names no preference."""
    if not accept or not accept.strip():
        return default
    wildcards = {"*/*": default, "text/*": CSV, "application/*": JSON if default == CSV else default}
    best, best_weight = None, 0.0
    for item in accept.split(","):
        media, *params = item.split(";")
        found = _NAMED.get(_media(media)) or wildcards.get(_media(media))
        weight = _weight(params)
        if found is not None and weight > best_weight:
            best, best_weight = found, weight
    if best is None:
        raise ApiError(406, "not-acceptable", "Not acceptable",
                       f"cannot answer as {accept!r}; accept one of {', '.join(MEDIA_TYPES.values())}")
    return best


def _column(rows: list[Row], name: str, required: bool) -> list[Any]:
    values = [row.get(name) for row in rows]
    if required and None in values:
        index = values.index(None)
        raise InvalidSeriesError(f"rows[{index}] has no {name!r}", field=f"rows[{index}].{name}")
    return values


def _refuse_types(values: list[Any], allowed: tuple[type, ...], name: str, what: str) -> None:
    kinds = {type(value) for value in values}
    if not kinds <= set(allowed):
        index = next(i for i, value in enumerate(values) if type(value) not in allowed)
        raise InvalidSeriesError(
            f"rows[{index}].{name} is {values[index]!r}; {what}", field=f"rows[{index}].{name}"
        )


def frame_from_rows(posted: list[RowIn], options: RowsOptions) -> Frame:
    """JSON rows as a Frame (ids as text; times as ISO text or integers; values as numbers or null)."""
    rows = [row.root for row in posted]
    ids = _column(rows, options.id_col, True)
    _refuse_types(ids, (str, int), options.id_col, "ids are strings or integers")
    y = _column(rows, options.target_col, False)
    _refuse_types(y, (float, int, type(None)), options.target_col, "values are numbers or null")
    codes, names = factorize(np.array([str(i) for i in ids]) if int in {type(i) for i in ids} else np.array(ids))
    values = np.array(y, dtype=np.float64)
    if not options.time_col:
        return Frame(codes, names, values, None, "none")
    ds = _column(rows, options.time_col, True)
    if all(type(d) is int for d in ds):
        return Frame(codes, names, values, np.array(ds, dtype=np.int64), "index")
    _refuse_types(ds, (str,), options.time_col, "times are ISO 8601 text, or all integers")
    stamps, zoned = parse_times(ds, f"rows[].{options.time_col}")
    return Frame(codes, names, values, stamps, "datetime", zoned)


def frame_from_bytes(data: bytes, fmt: str, options: RowsOptions) -> Frame:
    """A CSV or Parquet body as a Frame (pyarrow)."""
    import pyarrow as pa

    from app.runtime.frames.arrow import frame_from_arrow, read_rows

    try:
        table = read_rows(pa.BufferReader(data), fmt == CSV, options.id_col, options.target_col)
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError, OSError) as exc:
        what = "CSV" if fmt == CSV else "Parquet"
        raise ApiError(400, "malformed-body", f"Malformed {what}", f"the {what} body cannot be read: {exc}") from None
    return frame_from_arrow(table, options.id_col, options.time_col, options.target_col)


def _json_column(table: Table, name: str) -> list[Any]:
    values = table.columns[name]
    if name in table.time_columns and table.time_kind == "datetime":
        return format_times(values.astype(np.int64), table.zoned).tolist()  # type: ignore[no-any-return]
    if values.dtype == np.float32:
        return list(values)  # numpy scalars: orjson writes float32's shortest form
    return values.tolist()  # type: ignore[no-any-return]


def json_rows(table: Table) -> list[dict[str, Any]]:
    names = list(table.columns)
    columns = [_json_column(table, name) for name in names]
    return [dict(zip(names, row, strict=True)) for row in zip(*columns, strict=True)]


def _summary(meta: dict[str, Any]) -> str:
    """The answer's metadata in one header line (ASCII JSON), lists reduced to counts."""
    short = {key: len(value) if key == "filled" else value for key, value in meta.items() if key != "metrics"}
    if "metrics" in meta:
        short["metrics"] = meta["metrics"]["overall"]
    return json.dumps(short, separators=(",", ":"), default=str)


def table_response(table: Table, meta: dict[str, Any], fmt: str) -> Response:
    """The answer rows in ``fmt``; the metadata beside them (JSON), in the Parquet file's
    key-value metadata (``rnncast``) and, summarised, in the X-Rnncast-Meta header."""
    headers = {META_HEADER: _summary(_nan_to_none(meta))}
    if fmt == JSON:
        body = orjson.dumps({**meta, "rows": json_rows(table)}, option=orjson.OPT_SERIALIZE_NUMPY)
        return Response(body, media_type=MEDIA_TYPES[JSON], headers=headers)
    from app.runtime.frames.arrow import write_rows

    sink = io.BytesIO()
    write_rows(table, sink, fmt == CSV, {"rnncast": orjson.dumps(meta).decode()})
    return Response(sink.getvalue(), media_type=MEDIA_TYPES[fmt], headers=headers)


async def answer_rows(table: Table, meta: dict[str, Any], fmt: str) -> Response:
    """:func:`table_response`, encoded off the event loop."""
    with tracing.span("serialise"):
        return await run_in_threadpool(table_response, table, meta, fmt)


def _nan_to_none(value: Any) -> Any:
    if isinstance(value, float) and value != value:
        return None
    if isinstance(value, dict):
        return {k: _nan_to_none(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_nan_to_none(v) for v in value]
    return value
