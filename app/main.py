"""The FastAPI application factory and its lifespan.

Run with ``uvicorn --factory app.main:create_app`` or ``rnncast serve``; nothing
is created at import.
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
import logging
import signal
import threading
from collections.abc import AsyncIterator, Callable
from types import FrameType
from typing import TYPE_CHECKING, Any

from fastapi import FastAPI
from starlette.types import ASGIApp, Receive, Scope, Send

from app.api import metrics, tracing
from app.api.auth import require_api_key
from app.api.docs import ASSETS_URL, install_docs
from app.api.errors import add_error_handlers
from app.api.forecast_log import open_forecast_log
from app.api.middleware import RequestMiddleware
from app.api.openapi import install_openapi
from app.api.page import STATIC_URL, install_page
from app.api.routes import anomalies, backtest, forecast, health, limits, models, v2
from app.api.state import ServiceState, limits_from
from app.config import Settings, get_settings
from app.runtime.device import batches_on_loop, configure_threads
from app.runtime.registry import BatchSettings, ModelRegistry
from app.runtime.signing import verifier_for
from app.version import package_version

if TYPE_CHECKING:
    from opentelemetry.sdk.trace import TracerProvider

logger = logging.getLogger("rnncast")

DESCRIPTION = """Forecasts from small recurrent models exported as self-describing
TorchScript files. Errors are RFC 9457 problem details. The Open Inference
Protocol (KServe v2) is served beside v1 under `/v2`."""


class Rnncast(FastAPI):
    """FastAPI with the request middleware in front of all of FastAPI's own layers.

    Added with ``add_middleware`` it would sit inside FastAPI's error, telemetry and
    body-limit wrappers, which cost about a quarter of a one-step request (the
    telemetry check reads the environment on every request). In front of them, the
    forecast routes the middleware answers itself skip them; every other request
    still passes through them unchanged.
    """

    def __init__(self, *, front: Callable[[ASGIApp], ASGIApp], **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self._front = front(super().__call__)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        scope["app"] = self  # what Starlette would set: endpoints find app.state through it
        await self._front(scope, receive, send)


def build_registry(settings: Settings) -> ModelRegistry:
    """A registry for the configured model directory, wired to the metrics."""
    return ModelRegistry(
        settings.model_dir,
        device=settings.device,
        batching=BatchSettings(
            max_batch_rows=settings.max_batch_size,
            max_wait_s=settings.max_wait_ms / 1000,
            inline_on_cpu=batches_on_loop(settings.batch_on, settings.workers),
            queue_timeout_s=settings.queue_timeout_s,
            max_queue_rows=settings.max_queue_rows,
            max_heavy_jobs=settings.max_heavy_jobs,
        ),
        observer_for=metrics.batch_observer,
        on_loaded=metrics.model_loaded,
        verify=verifier_for(settings.trusted_keys, settings.trusted_certificates),
        on_reload=metrics.model_reloaded,
    )


def _install_drain(state: ServiceState, loop: asyncio.AbstractEventLoop) -> None:
    """On SIGTERM: report not-ready at once, keep serving ``drain_seconds``, then let
    uvicorn's own handler stop accepting and finish in-flight requests.

    Only possible on the main thread (a real server, not an in-process test client).
    """
    if threading.current_thread() is not threading.main_thread():
        return
    uvicorn_handler = signal.getsignal(signal.SIGTERM)
    if not callable(uvicorn_handler):
        return

    def on_sigterm(signum: int, frame: FrameType | None) -> None:
        if state.draining:  # a second SIGTERM: stop now
            uvicorn_handler(signum, frame)
            return
        state.draining = True
        logger.info("SIGTERM: draining", extra={"drain_seconds": state.settings.drain_seconds})
        loop.call_soon_threadsafe(
            loop.call_later, state.settings.drain_seconds, uvicorn_handler, signum, frame
        )

    signal.signal(signal.SIGTERM, on_sigterm)


async def _watch_models(registry: ModelRegistry, interval: float) -> None:
    """Hot-reload changed model files; a failed reload keeps the old model serving."""
    while True:
        await asyncio.sleep(interval)
        reloaded = await asyncio.to_thread(registry.reload_changed)
        if reloaded:
            logger.info("models reloaded", extra={"models": reloaded})


def create_app(
    settings: Settings | None = None,
    registry: ModelRegistry | None = None,
    tracer_provider: TracerProvider | None = None,
) -> Rnncast:
    """Build the app; the lifespan loads models (in the background) and starts batchers.
    Traces go to ``tracer_provider`` if given, else where the ``OTEL_*`` variables say."""
    settings = settings or get_settings()

    @contextlib.asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        configure_threads(settings.num_threads, settings.workers)
        # Per process: with several workers, each sets up its own exporter thread.
        provider = tracer_provider or tracing.provider_from_env()
        tracing.install(provider)
        models_ = registry or build_registry(settings)
        forecast_log = open_forecast_log(settings)
        state = ServiceState(settings, models_, limits_from(settings), forecast_log)
        app.state.service = state
        def load() -> None:
            models_.load_all()
            gc.collect()
            # Everything alive now (torch, the app, the models) lives as long as the
            # process: keep it out of the collector's full passes, which otherwise stall
            # the loop for tens of ms (p99 at 64 clients: 99 ms -> 21 ms, bench/RESULTS.md).
            gc.freeze()

        # Load in the background so /health/live answers while models load.
        loader = threading.Thread(target=load, name="model-loader", daemon=True)
        loader.start()
        if settings.workers > 1:
            # Workers share one socket: a worker must not accept connections (and answer
            # 503) while its siblings already serve, so each loads before it listens.
            await asyncio.to_thread(loader.join)
        _install_drain(state, asyncio.get_running_loop())
        watcher = None
        if settings.reload_interval_s > 0:
            watcher = asyncio.create_task(_watch_models(models_, settings.reload_interval_s))
        try:
            yield
        finally:
            state.draining = True
            if watcher is not None:
                watcher.cancel()
            await asyncio.to_thread(loader.join)
            models_.close()
            if forecast_log is not None:
                forecast_log.close()
            tracing.install(None)
            if provider is not None and tracer_provider is None:
                provider.shutdown()  # exports the spans still queued

    def front(app: ASGIApp) -> ASGIApp:
        return RequestMiddleware(
            app,
            max_body_bytes=settings.max_body_bytes,
            direct_routes=forecast.DIRECT_ROUTES,
            authorize=require_api_key if settings.api_keys else None,
            request_timeout_s=settings.request_timeout_s,
            mounts=(STATIC_URL, ASSETS_URL),
        )

    app = Rnncast(
        front=front,
        title="rnncast",
        version=package_version(),
        description=DESCRIPTION,
        lifespan=lifespan,
    )
    add_error_handlers(app)
    for router in (forecast.router, backtest.router, anomalies.router, limits.router, models.router, health.router,
                   v2.router):
        app.include_router(router)
    install_openapi(app)
    install_docs(app)
    install_page(app)
    return app

