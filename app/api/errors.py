"""Every error leaves as RFC 9457 problem+json (v1) or the protocol's {"error"} (v2).

All handlers are registered in :func:`add_error_handlers`; each runtime error class
maps to exactly one status here. Unknown exceptions are logged with their traceback
and answered 500 without one.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import Any

import orjson
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from pydantic import ValidationError
from starlette.exceptions import HTTPException
from starlette.requests import ClientDisconnect
from starlette.responses import Response

from app.runtime.errors import (
    DeadlineExceededError,
    ForecastError,
    HorizonTooLongError,
    InferenceError,
    InvalidSeriesError,
    JobCancelledError,
    LimitExceededError,
    ModelNotFoundError,
    ModelNotReadyError,
    OverloadedError,
)

logger = logging.getLogger(__name__)

PROBLEM_JSON = "application/problem+json"

# Logged and counted for a client that went away before its answer: nothing can be
# answered, and it is no server error (nginx's convention).
CLIENT_CLOSED = 499

# status, problem slug, title
_RUNTIME_ERRORS: dict[type[ForecastError], tuple[int, str, str]] = {
    InvalidSeriesError: (422, "invalid-series", "Invalid series"),
    HorizonTooLongError: (422, "limit-exceeded", "Request limit exceeded"),
    LimitExceededError: (422, "limit-exceeded", "Request limit exceeded"),
    ModelNotFoundError: (404, "model-not-found", "Model not found"),
    ModelNotReadyError: (503, "model-not-ready", "Model not ready"),
    OverloadedError: (503, "overloaded", "Server overloaded"),
    DeadlineExceededError: (504, "deadline-exceeded", "Deadline exceeded"),
    JobCancelledError: (CLIENT_CLOSED, "client-closed", "Client closed the request"),
    InferenceError: (500, "inference-failed", "Inference failed"),
}


class ApiError(Exception):
    """An HTTP-level refusal raised by the API itself (auth, body, content type)."""

    def __init__(self, status: int, slug: str, title: str, detail: str, headers: dict[str, str] | None = None):
        super().__init__(detail)
        self.status, self.slug, self.title, self.detail = status, slug, title, detail
        self.headers = headers or {}


def problem_response(
    request_path: str,
    status: int,
    slug: str,
    title: str,
    detail: str,
    errors: Sequence[dict[str, Any]] | None = None,
    headers: dict[str, str] | None = None,
) -> Response:
    """A problem+json body, or ``{"error": detail}`` under the v2 protocol's paths."""
    if request_path.startswith("/v2"):
        return Response(orjson.dumps({"error": detail}), status, headers, "application/json")
    body: dict[str, Any] = {
        "type": f"urn:rnncast:problem:{slug}",
        "title": title,
        "status": status,
        "detail": detail,
        "instance": request_path,
    }
    if errors is not None:
        body["errors"] = list(errors)
    return Response(orjson.dumps(body), status, headers, PROBLEM_JSON)


def field_path(loc: Sequence[int | str]) -> str:
    """("body", "series", 0, "values") -> "series[0].values"."""
    path = ""
    for part in loc:
        if part == "body" and not path:
            continue
        path += f"[{part}]" if isinstance(part, int) else (f".{part}" if path else str(part))
    return path or "body"


def _limit_of(ctx: dict[str, Any] | None) -> object:
    if not ctx:
        return None
    for key in ("min_length", "max_length", "ge", "gt", "le", "lt", "expected"):
        if key in ctx:
            return ctx[key]
    return None


def validation_problem(path: str, errors: Sequence[Any]) -> Response:
    """422 naming every bad field; 400 when the body is not JSON at all."""
    items = [
        {
            "field": field_path(e.get("loc", ())),
            "message": e.get("msg", "invalid"),
            "type": e.get("type", "value_error"),
            "limit": _limit_of(e.get("ctx")),
        }
        for e in errors
    ]
    if any(item["type"] == "json_invalid" for item in items):
        return problem_response(
            path, 400, "malformed-json", "Malformed JSON",
            "the request body is not valid JSON: " + items[0]["message"], items,
        )
    detail = "; ".join(f"{i['field']}: {i['message']}" for i in items[:5])
    if len(items) > 5:
        detail += f"; and {len(items) - 5} more"
    return problem_response(path, 422, "validation", "Request validation failed", detail, items)


def forecast_problem(path: str, exc: ForecastError) -> Response:
    """The one mapping from runtime errors to HTTP."""
    status, slug, title = next(
        (v for cls, v in _RUNTIME_ERRORS.items() if isinstance(exc, cls)),
        (500, "inference-failed", "Inference failed"),
    )
    errors = None
    if exc.field is not None:
        errors = [{"field": exc.field, "message": exc.message, "type": slug, "limit": exc.limit}]
    headers = {"Retry-After": "1"} if status in (503, 504) else None
    return problem_response(path, status, slug, title, exc.message, errors, headers)


async def error_response(request: Request, exc: Exception) -> Response:
    """The response for any exception a request raised: the one mapping used by the
    framework's handlers and by the request middleware's direct routes alike."""
    path = request.url.path
    if isinstance(exc, ClientDisconnect):  # nobody reads this; the status is what gets logged
        return Response(status_code=CLIENT_CLOSED)
    if isinstance(exc, RequestValidationError):
        return validation_problem(path, exc.errors())
    if isinstance(exc, ValidationError):
        return validation_problem(path, exc.errors(include_url=False))
    if isinstance(exc, ForecastError):
        return forecast_problem(path, exc)
    if isinstance(exc, ApiError):
        return problem_response(path, exc.status, exc.slug, exc.title, exc.detail, headers=exc.headers)
    if isinstance(exc, HTTPException):
        title = {404: "Not found", 405: "Method not allowed"}.get(exc.status_code, "HTTP error")
        detail = str(exc.detail)
        if exc.status_code == 404 and detail == "Not Found":
            detail = f"no route {request.method} {path}"
        return problem_response(path, exc.status_code, "http", title, detail, headers=dict(exc.headers or {}))
    logger.exception("unhandled error", extra={"path": path}, exc_info=exc)
    return problem_response(
        path, 500, "internal", "Internal error",
        "the server failed to answer; the error is logged with this request's id",
    )


def add_error_handlers(app: FastAPI) -> None:
    """Register :func:`error_response` for every exception class, in one place."""
    for exc_class in (
        RequestValidationError, ValidationError, ForecastError, ApiError, HTTPException, ClientDisconnect, Exception
    ):
        app.add_exception_handler(exc_class, error_response)
