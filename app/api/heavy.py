"""Heavy work from an HTTP request: its deadline and cancellation on disconnect.

Every heavy endpoint (rolling forecasts, and any other chunked job) runs its work as::

    async with job_context(request) as context:
        result = await service.some_job(..., context)

``context.deadline`` is the request's deadline (RNNCAST_REQUEST_TIMEOUT_S from its
first byte, set by the request middleware); ``context.token`` is cancelled as soon as
the client disconnects, and the job stops at its next chunk (app.runtime.jobs). Only
heavy requests pay for the watcher task; one-step requests never need it.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator

from starlette.requests import Request

from app.runtime.jobs import NO_DEADLINE, CancelToken, Deadline, JobContext


def request_deadline(request: Request) -> Deadline:
    """The deadline the request middleware gave this request."""
    deadline: Deadline = request.scope.get("state", {}).get("deadline", NO_DEADLINE)
    return deadline


async def _cancel_on_disconnect(request: Request, token: CancelToken) -> None:
    # The body has been read: the next message the server sends is the disconnect.
    while (await request.receive())["type"] != "http.disconnect":
        pass
    token.cancel()


@contextlib.asynccontextmanager
async def job_context(request: Request) -> AsyncIterator[JobContext]:
    """A JobContext whose token is cancelled when the client goes away."""
    context = JobContext(request_deadline(request), CancelToken())
    watcher = asyncio.ensure_future(_cancel_on_disconnect(request, context.token))
    try:
        yield context
    except asyncio.CancelledError:  # the server stops waiting (shutdown): so does the job
        context.token.cancel()
        raise
    finally:
        watcher.cancel()
