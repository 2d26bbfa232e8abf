"""Per-request plumbing as plain ASGI (cheaper than BaseHTTPMiddleware): request id,
deadline, body size limit, metrics and one JSON log line per request."""

from __future__ import annotations

import asyncio
import logging
import random
import re
import time
from collections.abc import Awaitable, Callable, Mapping, Sequence
from typing import Any

from starlette.requests import ClientDisconnect, Request
from starlette.responses import Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from app.api import metrics, tracing
from app.api.errors import CLIENT_CLOSED, ApiError, error_response, problem_response
from app.api.logs import log_request
from app.runtime.jobs import Deadline

logger = logging.getLogger("rnncast.request")

REQUEST_ID_HEADER = "x-request-id"
_SAFE_ID = re.compile(r"^[A-Za-z0-9._:\-]{1,128}$")


def _too_large(limit: int) -> ApiError:
    return ApiError(413, "body-too-large", "Request body too large",
                    f"the request body exceeds {limit} bytes (RNNCAST_MAX_BODY_BYTES)")


Endpoint = Callable[[Request], Awaitable[Response]]


class _ReadRequest(Request):
    """A request whose body the middleware has already read and size-checked."""

    def __init__(self, scope: Scope, receive: Receive, body: bytes) -> None:
        super().__init__(scope, receive)
        self._read_body = body

    async def body(self) -> bytes:
        return self._read_body


class RequestMiddleware:
    """Wraps every HTTP request; the innermost app sees a size-checked body.

    ``direct_routes`` are answered here without the framework's per-request routing,
    dependency and exception layers: the hot forecast routes, whose endpoints take
    only the request. They are also registered as ordinary routes (that is where
    the OpenAPI document describes them); the answer is the same either way, and
    errors go through the same ``error_response``. Measured in bench/RESULTS.md.

    Every request gets ``scope["state"]["deadline"]``, ``request_timeout_s`` from its
    start (app.api.heavy hands it to the runtime). Requests are counted by route
    template; a file under one of ``mounts`` (the page's and the docs' static files,
    which FastAPI routes without naming a route) counts as ``<mount>/{path}``, so the
    label set stays bounded whatever paths are asked for.
    """

    def __init__(
        self,
        app: ASGIApp,
        max_body_bytes: int,
        direct_routes: Mapping[tuple[str, str], Endpoint] | None = None,
        authorize: Callable[[Request], Awaitable[None]] | None = None,
        request_timeout_s: float = 60.0,
        mounts: Sequence[str] = (),
    ) -> None:
        self.app = app
        self.mounts = tuple(mounts)
        self.timeout = request_timeout_s
        self.max_body = max_body_bytes
        self.direct = direct_routes or {}
        self.authorize = authorize

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        headers = dict(scope["headers"])
        incoming = headers.get(b"x-request-id", b"").decode("latin-1")
        # getrandbits needs no system call (uuid4 reads the OS entropy pool each time).
        request_id = incoming if _SAFE_ID.match(incoming) else f"{random.getrandbits(128):032x}"
        state = scope.setdefault("state", {})
        state["request_id"] = request_id
        state["deadline"] = Deadline(time.monotonic() + self.timeout)
        status = 500
        headers_out = [(REQUEST_ID_HEADER.encode(), request_id.encode())]
        span = tracing.start_request(scope)  # None unless tracing is on
        if span is not None:
            state["trace_id"] = span.trace_id
            headers_out.append(span.header)
        finished = responding = False

        def finish(final_status: int) -> None:
            """Count and log the request once, before its last bytes go out: a client
            that scrapes /metrics (of any worker) after its answer arrives sees it."""
            nonlocal finished
            if not finished:
                finished = True
                metrics.IN_FLIGHT.dec()
                route = self._record(scope, state, final_status, time.perf_counter() - started)
                if span is not None:
                    span.end(final_status, route, request_id)

        async def send_with_id(message: Message) -> None:
            nonlocal status, responding
            if message["type"] == "http.response.start":
                status, responding = message["status"], True
                message["headers"] = [*message.get("headers", []), *headers_out]
            elif not message.get("more_body", False):
                finish(status)
            await send(message)

        metrics.IN_FLIGHT.inc()
        try:
            length = headers.get(b"content-length")
            if length is not None and length.isdigit() and int(length) > self.max_body:
                error = _too_large(self.max_body)
                response = problem_response(scope["path"], 413, error.slug, error.title, error.detail)
                await response(scope, receive, send_with_id)
            elif (endpoint := self.direct.get((scope["method"], scope["path"]))) is not None:
                state["route"] = scope["path"]
                await self._answer(endpoint, scope, receive, send, headers_out, finish)
            else:
                await self.app(scope, self._limited(receive), send_with_id)
        except asyncio.CancelledError:
            # Only uvicorn cancels a request's task: one still running when a shutdown's
            # graceful timeout ends. Answered 503 (when nothing went out yet) rather than
            # re-raised, which uvicorn would log as a traceback and answer 500.
            logger.warning("request cancelled by shutdown",
                           extra={"request_id": request_id, "path": scope["path"]})
            if not (finished or responding):
                status = 503
                response = problem_response(
                    scope["path"], 503, "shutting-down", "Server shutting down",
                    "the server stopped before this request finished; retry it",
                    headers={"Retry-After": "1"},
                )
                await response(scope, receive, send_with_id)
        finally:
            finish(status)  # no answer went out (an error, or the client left)
            if span is not None:
                span.detach()

    async def _read(self, receive: Receive) -> bytes:
        """The whole body; ApiError 413 as soon as it outgrows the limit."""
        receive = self._limited(receive)
        chunks = []
        while True:
            message = await receive()
            if message["type"] == "http.disconnect":
                raise ClientDisconnect()
            chunks.append(message.get("body", b""))
            if not message.get("more_body", False):
                return chunks[0] if len(chunks) == 1 else b"".join(chunks)

    async def _answer(
        self,
        endpoint: Endpoint,
        scope: Scope,
        receive: Receive,
        send: Send,
        headers_out: list[tuple[bytes, bytes]],
        finish: Callable[[int], None],
    ) -> None:
        """Answer a direct route. The response is ours, so the id (and trace) headers
        go onto it directly rather than through a wrapped ``send``."""
        try:
            if self.authorize is not None:  # before reading a body nobody may send
                await self.authorize(Request(scope))
            response = await endpoint(_ReadRequest(scope, receive, await self._read(receive)))
        except ClientDisconnect:
            finish(CLIENT_CLOSED)
            return
        except Exception as exc:  # noqa: BLE001 - every error becomes its problem response
            response = await error_response(Request(scope), exc)
        response.raw_headers.extend(headers_out)
        finish(response.status_code)
        await response(scope, receive, send)

    def _limited(self, receive: Receive) -> Receive:
        """Count streamed body bytes too: Content-Length may be absent (chunked)."""
        seen = 0

        async def wrapped() -> Message:
            nonlocal seen
            message = await receive()
            if message["type"] == "http.request":
                seen += len(message.get("body", b""))
                if seen > self.max_body:
                    raise _too_large(self.max_body)
            return message

        return wrapped

    def _template(self, scope: Scope, state: dict[str, Any]) -> str:
        """The route's path template; a mount's files share one label."""
        template = getattr(scope.get("route"), "path", None) or state.get("route")
        if template:
            return str(template)
        path: str = scope["path"]
        mount = next((m for m in self.mounts if path.startswith(m + "/")), None)
        return "unmatched" if mount is None else mount + "/{path}"

    def _record(self, scope: Scope, state: dict[str, Any], status: int, seconds: float) -> str:
        """Count and log the request; its route template."""
        template = self._template(scope, state)
        metrics.observe_request(template, scope["method"], status, seconds)
        log_request(logger, {
            "request_id": state["request_id"],
            "method": scope["method"],
            "route": template,
            "path": scope["path"],
            "status": status,
            "duration_ms": round(seconds * 1000, 3),
            "batch_size": state.get("batch_size"),
            "trace_id": state.get("trace_id"),
        })
        return template
