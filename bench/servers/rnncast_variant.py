"""``rnncast serve`` with hot-path changes patched in at start-up: the evidence behind the
suggestions in bench/RESULTS.md, measured without editing app/.

    python -m bench.servers.rnncast_variant --patch async-deps --patch fast-request-id -- serve

Patches (each mirrors a one-line change proposed for app/):

- ``async-deps``: ``get_state`` and ``require_api_key`` as ``async def``. As plain
  ``def`` dependencies FastAPI runs each in its thread pool: two thread hand-offs per
  request, which on one core cost more than the whole ceiling request.
- ``fast-request-id``: a per-process random prefix + counter instead of ``uuid.uuid4()``
  (one ``os.urandom`` syscall and a UUID object per request).
- ``yield-before-batch``: the batcher yields once to the event loop before it takes
  the first batch after being idle, so requests already readable on other
  connections are parsed and join that forward pass.
- ``gc-freeze``: import the server's modules (torch, the app) and call ``gc.freeze()``
  before serving, so the collector's full passes stop re-scanning the hundreds of
  thousands of long-lived objects torch brings (tail latency under load).
- ``plain-route``: POST /v1/forecast as a plain Starlette ``Route`` placed first, calling
  the same auth check and the same route function directly: no FastAPI dependency
  solving, no thread pool, same middleware, errors and metrics.

A patch whose change is already in app/ is left out of the ablation list
(:func:`applicable`), so each variant measures a difference that still exists.
Only for one worker process (uvicorn's workers would re-import unpatched modules).
"""

# No `from __future__ import annotations`: FastAPI reads the patched dependencies'
# annotations at run time.
import argparse
import hmac
import inspect
import itertools
import os
import sys
from types import SimpleNamespace
from typing import Annotated

from fastapi import Depends, Request

PATCHES = ("async-deps", "fast-request-id", "plain-route", "yield-before-batch", "gc-freeze")


def _patch_async_deps() -> None:
    import app.api.state as state

    async def get_state(request: Request) -> state.ServiceState:
        """Dependency: the service state of this app (no thread-pool hop)."""
        service: state.ServiceState = request.app.state.service
        return service

    state.get_state = get_state  # type: ignore[assignment]
    state.State = Annotated[state.ServiceState, Depends(get_state)]  # type: ignore[misc]

    import app.api.auth as auth

    async def require_api_key(request: Request) -> None:
        """Dependency: the same check as app.api.auth.require_api_key, awaited in place."""
        keys = request.app.state.service.settings.api_keys
        if not keys:
            return
        scheme, _, token = request.headers.get("authorization", "").partition(" ")
        presented = token.strip().encode()
        matched = False
        for key in keys:
            matched |= hmac.compare_digest(presented, key.encode())
        if scheme.lower() != "bearer" or not matched:
            raise auth.ApiError(
                401, "unauthorized", "Unauthorized",
                "send a valid API key as 'Authorization: Bearer <key>'",
                headers={"WWW-Authenticate": 'Bearer realm="rnncast"'},
            )

    auth.require_api_key = require_api_key  # type: ignore[assignment]


def _patch_fast_request_id() -> None:
    import app.api.middleware as middleware

    prefix = os.urandom(6).hex()
    counter = itertools.count()

    def uuid4() -> SimpleNamespace:
        return SimpleNamespace(hex=f"{prefix}{next(counter):012x}")

    middleware.uuid = SimpleNamespace(uuid4=uuid4)  # type: ignore[assignment]


def _patch_plain_route() -> None:
    from starlette.requests import Request as StarletteRequest
    from starlette.responses import Response
    from starlette.routing import Route

    import app.main as app_main
    from app.api import auth
    from app.api.routes import forecast

    takes_state = len(inspect.signature(forecast.forecast).parameters) > 1

    async def plain_forecast(request: StarletteRequest) -> Response:
        """The shipped handler, called without FastAPI's dependency machinery."""
        checked = auth.require_api_key(request)  # cheap and non-blocking: no thread pool
        if inspect.isawaitable(checked):
            await checked
        if takes_state:
            return await forecast.forecast(request, request.app.state.service)  # type: ignore[call-arg]
        return await forecast.forecast(request)

    original = app_main.create_app

    def create_app(settings=None, registry=None):  # type: ignore[no-untyped-def]
        application = original(settings, registry)
        application.router.routes.insert(
            0, Route("/v1/forecast", plain_forecast, methods=["POST"])
        )
        return application

    app_main.create_app = create_app


def _patch_yield_before_batch() -> None:
    import asyncio

    from app.runtime.batcher import Batcher

    original = Batcher._drain  # type: ignore[attr-defined]

    async def _drain(self: Batcher) -> None:
        await asyncio.sleep(0)
        await original(self)

    Batcher._drain = _drain  # type: ignore[attr-defined]


def _patch_gc_freeze() -> None:
    import gc

    import app.main  # noqa: F401 - imported for its side effect: the long-lived objects

    gc.collect()
    gc.freeze()


def applicable() -> dict[str, bool]:
    """Which patches still change something in the app/ of this checkout."""
    import app.api.auth as auth
    import app.api.middleware as middleware
    import app.api.state as state

    direct = "direct_routes" in inspect.signature(middleware.RequestMiddleware.__init__).parameters
    return {
        "async-deps": not (inspect.iscoroutinefunction(state.get_state)
                           and inspect.iscoroutinefunction(auth.require_api_key)),
        "fast-request-id": hasattr(middleware, "uuid"),
        "plain-route": not direct,
        "yield-before-batch": _has_loop_batcher(),
        "gc-freeze": True,
    }


def _has_loop_batcher() -> bool:
    from app.runtime.batcher import Batcher

    return inspect.iscoroutinefunction(getattr(Batcher, "_drain", None))


def main() -> int:
    """Apply the chosen patches, then hand the rest of the command line to rnncast."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--patch", action="append", choices=PATCHES, default=[])
    parser.add_argument("rnncast_args", nargs=argparse.REMAINDER)
    args = parser.parse_args()
    if "async-deps" in args.patch:
        _patch_async_deps()
    if "fast-request-id" in args.patch:
        _patch_fast_request_id()
    if "plain-route" in args.patch:
        _patch_plain_route()
    if "yield-before-batch" in args.patch:
        _patch_yield_before_batch()
    if "gc-freeze" in args.patch:
        _patch_gc_freeze()
    from app.cli import main as rnncast_main

    rest = [a for a in args.rnncast_args if a != "--"]
    return rnncast_main(rest)


if __name__ == "__main__":
    sys.exit(main())
