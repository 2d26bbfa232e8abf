"""Prometheus metric families and their exposition.

With several worker processes (``rnncast serve --workers N``) the CLI points
``PROMETHEUS_MULTIPROC_DIR`` at a fresh directory before any worker starts; each
worker then writes its samples there and a scrape of any worker aggregates all.
"""

from __future__ import annotations

import functools
import glob
import os
from collections.abc import Iterable, Iterator

from prometheus_client import (
    CONTENT_TYPE_LATEST,
    REGISTRY,
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    generate_latest,
    multiprocess,
)
from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from app.runtime.batcher import BatchObserver
from app.runtime.forecaster import Forecaster

MULTIPROC_ENV = "PROMETHEUS_MULTIPROC_DIR"
_LATENCY_BUCKETS = (0.0005, 0.001, 0.002, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10)
_BATCH_BUCKETS = (1, 2, 4, 8, 16, 32, 64, 128, 256, 512, 1024, 4096, 16384)

REQUESTS = Counter(
    "rnncast_requests", "HTTP requests answered, by route, method and status.",
    ["route", "method", "status"],
)
REQUEST_SECONDS = Histogram(
    "rnncast_request_duration_seconds", "Time from request start to response end.",
    ["route"], buckets=_LATENCY_BUCKETS,
)
IN_FLIGHT = Gauge(
    "rnncast_requests_in_flight", "Requests being answered now.", multiprocess_mode="livesum"
)
INFERENCE_SECONDS = Histogram(
    "rnncast_inference_seconds", "Model compute time per forward batch or job.",
    ["model", "kind"], buckets=_LATENCY_BUCKETS,
)
BATCH_SIZE = Histogram(
    "rnncast_batch_size", "Series rows per one-step forward pass.", ["model"], buckets=_BATCH_BUCKETS
)
BATCH_REQUESTS = Histogram(
    "rnncast_batch_requests", "Requests merged into one forward pass.", ["model"],
    buckets=_BATCH_BUCKETS,
)
QUEUE_WAIT_SECONDS = Histogram(
    "rnncast_queue_wait_seconds", "Time the oldest request of a batch waited for the model.",
    ["model"], buckets=_LATENCY_BUCKETS,
)
SERIES = Counter("rnncast_series_forecast", "Series forecast.", ["model", "kind"])
POINTS = Counter("rnncast_points_forecast", "Forecast points returned.", ["model", "kind"])
MODEL_INFO = Gauge(
    "rnncast_model_info", "1 for each loaded model version, with its device and sha256.",
    ["model", "version", "device", "sha256"], multiprocess_mode="max",
)
RELOADS = Counter(
    "rnncast_model_reloads", "Loads of a model after its first, by result: success or failure "
    "(a failed reload keeps the previous version serving).", ["model", "result"],
)
FORECAST_LOG_LINES = Counter("rnncast_forecast_log_lines", "Forecast log lines written.")
FORECAST_LOG_DROPPED = Counter(
    "rnncast_forecast_log_dropped", "Forecast log lines dropped, by reason: buffer_full (the "
    "disk fell behind) or write_error.", ["reason"],
)
_READY_HELP = "1 when this worker's /health/ready answers 200 (every model loaded, not draining)."


# Methods outside this set are counted as "other": a label value per made-up method
# would let any client grow the exposition (and the cache below) without bound.
_METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})


@functools.cache
def _request_series(route: str, method: str, status: int) -> tuple[Counter, Histogram]:
    # labels() hashes and validates its arguments on every call: a few microseconds a
    # request, so each (route, method, status) child is looked up once.
    return REQUESTS.labels(route, method, str(status)), REQUEST_SECONDS.labels(route)


def observe_request(route: str, method: str, status: int, seconds: float) -> None:
    """Count one answered request and its duration."""
    count, duration = _request_series(route, method if method in _METHODS else "other", status)
    count.inc()
    duration.observe(seconds)


def batch_observer(model: str) -> BatchObserver:
    """Records each one-step forward pass of ``model``."""
    size, merged = BATCH_SIZE.labels(model), BATCH_REQUESTS.labels(model)
    wait, compute = QUEUE_WAIT_SECONDS.labels(model), INFERENCE_SECONDS.labels(model, "one_step")

    def observe(rows: int, requests: int, queue_wait_s: float, compute_s: float) -> None:
        size.observe(rows)
        merged.observe(requests)
        wait.observe(queue_wait_s)
        compute.observe(compute_s)

    return observe


def _info_labels(forecaster: Forecaster) -> tuple[str, str, str, str]:
    return forecaster.name, forecaster.metadata.version, str(forecaster.device), forecaster.sha256


def model_loaded(forecaster: Forecaster, replaced: Forecaster | None = None) -> None:
    """Publish a newly loaded model's identity; the version it replaced drops to 0
    (in multi-process mode a sample file cannot be removed) or, alone, disappears."""
    if replaced is not None and _info_labels(replaced) != _info_labels(forecaster):
        MODEL_INFO.labels(*_info_labels(replaced)).set(0)
        if MULTIPROC_ENV not in os.environ:
            MODEL_INFO.remove(*_info_labels(replaced))
    MODEL_INFO.labels(*_info_labels(forecaster)).set(1)
    for result in ("success", "failure"):  # present at 0 from the start: increase() sees the first
        RELOADS.labels(forecaster.name, result)


def model_reloaded(model: str, succeeded: bool) -> None:
    """Count one reload attempt of ``model``."""
    RELOADS.labels(model, "success" if succeeded else "failure").inc()


@functools.cache
def _forecast_series(model: str, kind: str) -> tuple[Counter, Counter]:
    return SERIES.labels(model, kind), POINTS.labels(model, kind)


def count_forecast(model: str, kind: str, series: int, points: int) -> None:
    """Count the series and points a request was answered with."""
    series_count, points_count = _forecast_series(model, kind)
    series_count.inc(series)
    points_count.inc(points)


class _Readiness(Collector):
    def __init__(self, ready: bool) -> None:
        self.ready = ready

    def collect(self) -> Iterator[Metric]:
        yield GaugeMetricFamily("rnncast_ready", _READY_HELP, value=int(self.ready))


@functools.cache
def _readiness(ready: bool) -> bytes:
    registry = CollectorRegistry(auto_describe=False)
    registry.register(_Readiness(ready))
    return generate_latest(registry)


class _WorkerFiles(multiprocess.MultiProcessCollector):
    """prometheus_client's collector, reading only the sample files it can trust.

    A worker creates its file and sizes it in two steps, so a scrape can find it at
    0 bytes and fail with a 500 (prometheus/client_python#1199); a worker killed in
    that window leaves it empty for good. Such a file holds no samples yet: skip it
    (files never shrink, so one seen non-empty stays readable). A dead worker's
    ``live*`` gauges (requests in flight) would keep its last value forever: skip them
    too, as the library's ``mark_process_dead`` would, without deleting anything.
    """

    def collect(self) -> Iterable[Metric]:
        paths = glob.glob(os.path.join(self._path, "*.db"))
        merged: Iterable[Metric] = self.merge(  # type: ignore[no-untyped-call]
            [p for p in paths if _holds_samples(p)], accumulate=True)
        return merged


def _holds_samples(path: str) -> bool:
    name = os.path.basename(path)
    if name.startswith("gauge_live") and not _alive(int(name.rsplit("_", 1)[1].removesuffix(".db"))):
        return False
    try:
        return os.path.getsize(path) > 0
    except FileNotFoundError:  # removed since the directory was listed
        return False


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # alive, owned by someone else
        return True
    return True


def render(ready: bool) -> tuple[bytes, str]:
    """The exposition text, aggregated over worker processes when there are several,
    and ``rnncast_ready``: the readiness of the worker answering this scrape, as its
    /health/ready would answer a probe that lands on it."""
    if MULTIPROC_ENV in os.environ:
        registry = CollectorRegistry()
        _WorkerFiles(registry)  # type: ignore[no-untyped-call]
    else:
        registry = REGISTRY
    return generate_latest(registry) + _readiness(ready), CONTENT_TYPE_LATEST
