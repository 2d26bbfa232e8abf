"""uvicorn's httptools protocol with the limits uvicorn lacks, enforced per connection
before any request reaches the application.

uvicorn (0.54) with httptools has no limit on the size of a request line or headers
(128 MiB of header stalled the event loop for 12 s), no timeout for a request that
never completes, and ``limit_concurrency`` answers only once a request's headers have
arrived. With h11 the header size is bounded (``h11_max_incomplete_event_size``,
answered 400) but the rest is the same, and h11 is slower. This subclass adds:

- ``max_header_bytes``: a request line and headers larger than this are answered 431
  and the connection closed, as soon as the bytes received pass the limit;
- ``header_timeout_s``: a connection must deliver a request's complete headers within
  this long of opening, or of its previous answer (after uvicorn's keep-alive timeout);
  otherwise it is answered 408 and closed. The body must then arrive within
  ``body_timeout_s`` (the request deadline), or the connection is closed;
- ``max_connections``: one connection more than this per worker is answered 503 and
  closed at once, before it can hold a file descriptor for long.

``rnncast serve`` names :data:`PROTOCOL` as uvicorn's ``http`` protocol (an import
string, so that every worker process imports it); the limits come from the settings.
"""

from __future__ import annotations

import asyncio
from typing import Any

from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

from app.config import get_settings

PROTOCOL = "app.api.protocol:GuardedHttpToolsProtocol"


def _canned(status: str, detail: str) -> bytes:
    body = (
        f'{{"type":"urn:rnncast:problem:http","title":"{status[4:]}","status":{status[:3]},'
        f'"detail":"{detail}"}}'
    ).encode()
    head = (
        f"HTTP/1.1 {status}\r\ncontent-type: application/problem+json\r\n"
        f"content-length: {len(body)}\r\nconnection: close\r\n"
    )
    if status.startswith("503"):
        head += "retry-after: 1\r\n"
    return head.encode() + b"\r\n" + body


class GuardedHttpToolsProtocol(HttpToolsProtocol):
    """HttpToolsProtocol with a header size limit, header/body timeouts and a
    connection cap, from RNNCAST_MAX_HEADER_BYTES, RNNCAST_HEADER_TIMEOUT_S,
    RNNCAST_REQUEST_TIMEOUT_S and RNNCAST_MAX_CONNECTIONS.

    The timeouts are a deadline per connection that one sweep per event loop checks a
    few times a second, not a timer per request: arming and cancelling two timers for
    every request cost 5% of the one-step throughput (bench/RESULTS.md)."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        settings = get_settings()
        self.max_header_bytes = settings.max_header_bytes
        self.header_timeout_s = settings.header_timeout_s
        self.body_timeout_s = settings.request_timeout_s
        self.max_connections = settings.max_connections
        self._header_bytes = 0
        self._in_headers = True  # until the headers of the current request are complete
        self._deadline: float | None = None  # loop time by which the current phase must end

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        if len(self.connections) > self.max_connections:
            self._refuse("503 Service Unavailable", f"over {self.max_connections} open connections; retry shortly")
            return
        self._deadline = self.loop.time() + self.header_timeout_s
        _sweep_soon(self.loop, min(1.0, self.header_timeout_s / 4), self.connections)

    def data_received(self, data: bytes) -> None:
        if self._in_headers:
            if self._deadline is None:  # the first bytes after a keep-alive pause
                self._deadline = self.loop.time() + self.header_timeout_s
            self._header_bytes += len(data)
            if self._header_bytes > self.max_header_bytes and not self._headers_end_within(data):
                self._refuse(
                    "431 Request Header Fields Too Large",
                    f"the request line and headers exceed {self.max_header_bytes} bytes",
                )
                return
        super().data_received(data)

    def _headers_end_within(self, data: bytes) -> bool:
        """Whether the headers ended inside the limit (the rest of ``data`` is body)."""
        end = data.find(b"\r\n\r\n")
        return end >= 0 and self._header_bytes - len(data) + end + 4 <= self.max_header_bytes

    def on_message_begin(self) -> None:
        super().on_message_begin()
        self._in_headers = True

    def on_headers_complete(self) -> None:
        self._in_headers = False
        self._header_bytes = 0
        self._deadline = self.loop.time() + self.body_timeout_s
        super().on_headers_complete()

    def on_message_complete(self) -> None:
        self._deadline = None
        super().on_message_complete()

    def on_response_complete(self) -> None:
        # uvicorn's keep-alive timeout covers the pause; the header deadline is set
        # again by the next request's first bytes.
        self._deadline = None
        self._in_headers = True
        super().on_response_complete()

    def check_deadline(self, now: float) -> None:
        """Called by the sweep: answer 408 or close when the current phase is late."""
        if self._deadline is None or now < self._deadline or self.transport.is_closing():
            return
        self._deadline = None
        if self._in_headers:
            self._refuse("408 Request Timeout", f"no complete request headers within {self.header_timeout_s:g}s")
        else:  # the application is reading the body: it sees a disconnect
            self.transport.close()

    def _refuse(self, status: str, detail: str) -> None:
        self._deadline = None
        if not self.transport.is_closing():
            self.transport.write(_canned(status, detail))
            self.transport.close()


_sweeping: set[asyncio.AbstractEventLoop] = set()


def _sweep_soon(loop: asyncio.AbstractEventLoop, every_s: float, connections: set[Any]) -> None:
    """Check every guarded connection's deadline every ``every_s`` while any is open."""
    if loop in _sweeping:
        return
    _sweeping.add(loop)

    def sweep() -> None:
        now = loop.time()
        for connection in list(connections):
            if isinstance(connection, GuardedHttpToolsProtocol):
                connection.check_deadline(now)
        if connections:
            loop.call_later(every_s, sweep)
        else:
            _sweeping.discard(loop)

    loop.call_later(every_s, sweep)
