"""Reading the options and the series of a request in any of its forms (JSON series,
JSON rows, CSV, Parquet, options in the query string), and the metadata of an
answer in rows. Bodies are decoded and turned into panels off the event loop."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Generic, Literal, TypeVar, get_args, get_origin
from urllib.parse import parse_qsl

import numpy as np
import orjson
from pydantic import BaseModel
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request

from app.api import tracing
from app.api.bodies import parse_body
from app.api.errors import ApiError
from app.api.frame_schemas import RowIn, RowsOptions
from app.api.schemas import IntervalOptions, SeriesIn
from app.api.state import ServiceState
from app.api.tables import JSON, answer_format, body_format, frame_from_bytes, frame_from_rows
from app.runtime.forecaster import Forecaster
from app.runtime.frame_forecast import RowsSpec, build_panel
from app.runtime.frames.fill import FillPolicy
from app.runtime.frames.panel import Panel, panel_of_series
from app.runtime.intervals import IntervalMethod, IntervalSpec
from app.runtime.registry import LoadedModel
from app.runtime.service import Limits, check_series, to_array

M = TypeVar("M", bound=BaseModel)
Options = TypeVar("Options", bound=RowsOptions)


def _textual(annotation: Any) -> bool:
    """Whether a field holds text (kept as sent) rather than numbers or flags (read as JSON)."""
    return any(arg is str or get_origin(arg) is Literal for arg in (get_args(annotation) or (annotation,)))


def _query_value(text: str, textual: bool) -> Any:
    if textual:
        return text
    try:
        return orjson.loads(text)
    except orjson.JSONDecodeError:
        return text  # validation names the field


def query_options(request: Request, options: type[BaseModel]) -> dict[str, Any]:
    """The query string's options as JSON values (``horizon=24`` is 24, ``freq=D`` is "D"),
    validated as strictly as a JSON body's; list options may repeat or use commas."""
    given: dict[str, Any] = {}
    for key, value in parse_qsl(request.scope["query_string"].decode("latin-1"), keep_blank_values=True):
        field = options.model_fields.get(key)
        annotation = field.annotation if field is not None else str
        if get_origin(annotation) is list:
            item = get_args(annotation)[0]
            given.setdefault(key, []).extend(_query_value(part, _textual(item)) for part in value.split(",") if part)
        else:
            given[key] = _query_value(value, _textual(annotation))
    return given


def is_rows(request: Request, body: bytes) -> bool:
    """Whether a forecast request is in a long form: a CSV or Parquet body, or JSON whose
    ``"rows"`` comes before any ``"series"`` (a series' id or a row's value can only come
    after the key that holds it)."""
    if body_format(request.headers.get("content-type")) != JSON:
        return True
    rows, series = body.find(b'"rows"'), body.find(b'"series"')
    return rows >= 0 and (series < 0 or rows < series)


async def json_request(
    request: Request, body: bytes, model: type[M], options: type[BaseModel], *, key: str, item: type[BaseModel],
    limits: Limits,
) -> M:
    """A JSON body as ``model``, parsed without stalling the event loop (app.api.bodies;
    ``key`` names its list of ``item``), with the query string's options merged in (each
    option given once: in the body or in the query)."""
    if not request.scope["query_string"]:
        rows = key == "rows"
        return await parse_body(
            model, body, key=key, item=item,
            max_items=limits.max_series * (limits.max_values_per_series if rows else 1),
            max_values=8 if rows else limits.max_values_per_series,
        )
    try:
        parsed = orjson.loads(body)
    except orjson.JSONDecodeError:
        return model.model_validate_json(body)  # the same 400 the body alone gets
    query = query_options(request, options)
    if isinstance(parsed, dict):
        twice = sorted(parsed.keys() & query.keys())
        if twice:
            raise ApiError(422, "validation", "Request validation failed",
                           f"{', '.join(twice)} given both in the query string and in the body; give each once")
        parsed = {**parsed, **query}
    return model.model_validate(parsed)


def interval_spec(params: IntervalOptions) -> IntervalSpec:
    """The runtime's view of the interval options."""
    method: IntervalMethod = params.interval_method
    return IntervalSpec(
        method, tuple(params.level), tuple(params.quantiles), params.num_samples,
        params.calibration_windows, params.calibration_step,
    )


def _rows_panel(rows: list[RowIn] | None, body: bytes, fmt: str, options: RowsOptions, window: int,
                state: ServiceState) -> Panel:
    frame = frame_from_rows(rows, options) if rows is not None else frame_from_bytes(body, fmt, options)
    spec = RowsSpec(options.freq, FillPolicy(options.fill, options.max_missing))
    return build_panel(frame, spec, window, state.limits)


async def rows_panel(rows: list[RowIn] | None, body: bytes, fmt: str, options: RowsOptions, window: int,
                     state: ServiceState) -> Panel:
    """The posted rows (JSON ``rows``, or the CSV/Parquet ``body``) as checked series."""
    return await run_in_threadpool(_rows_panel, rows, body, fmt, options, window, state)


@dataclass(frozen=True)
class Posted(Generic[Options]):
    """A request read in whatever form it came: its options, model, series and answer format."""

    params: Options
    model: LoadedModel
    panel: Panel
    answer: str


async def read_posted(request: Request, body: bytes, model: type[Options], options: type[Options]) -> Posted[Options]:
    """Options from the JSON body or the query string; series from ``series``, ``rows``,
    or the CSV/Parquet body; the answer's format from ``Accept``."""
    with tracing.span("parse"):
        return await _read_posted(request, body, model, options)


async def _read_posted(request: Request, body: bytes, model: type[Options], options: type[Options]) -> Posted[Options]:
    state: ServiceState = request.app.state.service
    fmt = body_format(request.headers.get("content-type"))
    answer = answer_format(request.headers.get("accept"), fmt)
    if fmt == JSON:  # the request model: the options and the series or rows
        key, item = ("rows", RowIn) if is_rows(request, body) else ("series", SeriesIn)
        params = await json_request(request, body, model, options, key=key, item=item, limits=state.limits)
    else:
        params = options.model_validate(query_options(request, options))
    loaded = state.registry.get(params.model)
    window = loaded.forecaster.window
    series: list[SeriesIn] | None = getattr(params, "series", None)
    if series is not None:
        return Posted(params, loaded, series_panel(series, window, state), answer)
    rows: list[RowIn] | None = getattr(params, "rows", None)
    return Posted(params, loaded, await rows_panel(rows, body, fmt, params, window, state), answer)


def series_panel(series: list[SeriesIn], window: int, state: ServiceState) -> Panel:
    """The JSON ``series`` form as a panel, with the series form's own checks."""
    values = [to_array(s.values, i) for i, s in enumerate(series)]
    check_series(values, window, state.limits)
    return panel_of_series(values, [s.id for s in series])


def rows_meta(forecaster: Forecaster, panel: Panel, fill: str, interval_method: str | None) -> dict[str, Any]:
    """What an answer in rows says beside them: model, method, frequencies, what was filled."""
    report = panel.report
    filled = np.flatnonzero(report.missing_timestamps + report.missing_values + report.dropped_leading)
    return {
        "model": {"name": forecaster.name, "version": forecaster.metadata.version},
        "interval_method": interval_method,
        "freq": sorted(set(panel.calendar.aliases)) if panel.time_kind != "none" else [],
        "fill": fill,
        "filled": [
            {
                "unique_id": str(panel.names[s]),
                "missing_timestamps": int(report.missing_timestamps[s]),
                "missing_values": int(report.missing_values[s]),
                "dropped_leading": int(report.dropped_leading[s]),
            }
            for s in filled
        ],
    }
