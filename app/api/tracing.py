"""OpenTelemetry tracing: on when the standard ``OTEL_*`` variables ask for it, free when off.

The span tree of a request (README, "Tracing")::

    POST /v1/forecast            server span; continues the caller's W3C traceparent
      parse                      the body read into the request model
      queue wait                 in the model's batcher, until its batch left the queue
      batch                      (in the trace of the first sampled request it served;
        forward pass              links to each sampled one; rows and requests counted)
      job                        a heavy job (rolling, backtest, anomalies) on its lane
        lane wait                 waiting for the lane
        chunk                     each bounded chunk of the job (the first MAX_CHUNK_SPANS)
      serialise                  the answer encoded

The request span is started by the request middleware, so the forecast routes it
answers itself are traced like every other route. The runtime reports its timings
through app.runtime.trace_hook; the spans for them are made here afterwards with
those times. The SDK and the exporter are imported only when tracing is on; this
module's own tracer and provider are used, never OpenTelemetry's global ones (so
FastAPI's own telemetry stays off and tests can hold providers of their own).
"""

from __future__ import annotations

import os
import time
from collections.abc import Mapping, Sequence
from contextlib import AbstractContextManager, nullcontext
from importlib.metadata import entry_points
from typing import TYPE_CHECKING, TypeGuard

from opentelemetry import context, propagate, trace
from opentelemetry.propagators.textmap import Getter
from opentelemetry.trace import Link, NonRecordingSpan, SpanContext, SpanKind, Status, StatusCode
from starlette.types import Scope

from app.runtime import trace_hook
from app.version import package_version

if TYPE_CHECKING:
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import SpanExporter

# A job yields after every forward pass: a long horizon makes thousands of chunks.
# The first ones show the pattern; the job span counts them all.
MAX_CHUNK_SPANS = 64
TRACE_HEADER = b"traceresponse"  # W3C Trace Context Level 2: the trace the answer belongs to

# OTEL_EXPORTER_OTLP_PROTOCOL -> the exporter's entry point (the `otlp` name is ours to map).
_OTLP_EXPORTERS = {"http/protobuf": "otlp_proto_http", "grpc": "otlp_proto_grpc"}
_OFF = nullcontext()
_tracer: trace.Tracer | None = None


def _exporter_names(environ: Mapping[str, str]) -> list[str]:
    """The span exporters the environment asks for; none means tracing is off. An OTLP
    endpoint alone asks for OTLP (the variable's default in the specification)."""
    if environ.get("OTEL_SDK_DISABLED", "").strip().lower() == "true":
        return []
    named = environ.get("OTEL_TRACES_EXPORTER")
    if named is None:
        endpoint = environ.get("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT") or environ.get("OTEL_EXPORTER_OTLP_ENDPOINT")
        return ["otlp"] if endpoint else []
    names = [name.strip().lower() for name in named.split(",") if name.strip()]
    return [] if "none" in names else names


def _exporter(name: str, environ: Mapping[str, str]) -> SpanExporter:
    """The exporter an OTEL_TRACES_EXPORTER name stands for; it reads its own variables
    (endpoint, headers, timeout). RuntimeError naming the variable when none fits."""
    if name == "otlp":
        protocol = (environ.get("OTEL_EXPORTER_OTLP_TRACES_PROTOCOL") or environ.get("OTEL_EXPORTER_OTLP_PROTOCOL")
                    or "http/protobuf")
        if protocol not in _OTLP_EXPORTERS:
            raise RuntimeError(f"OTEL_EXPORTER_OTLP_PROTOCOL={protocol!r}: rnncast exports OTLP as "
                               f"{' or '.join(_OTLP_EXPORTERS)}")
        name = _OTLP_EXPORTERS[protocol]
    found = entry_points(group="opentelemetry_traces_exporter", name=name)
    if not found:
        hint = " (pip install opentelemetry-exporter-otlp-proto-grpc)" if name == "otlp_proto_grpc" else ""
        raise RuntimeError(f"OTEL_TRACES_EXPORTER: no installed package provides the span exporter {name!r}{hint}")
    exporter: SpanExporter = next(iter(found)).load()()
    return exporter


def provider_from_env(environ: Mapping[str, str] = os.environ) -> TracerProvider | None:
    """A tracer provider exporting as the ``OTEL_*`` variables say, or None when they ask
    for no tracing. Sampling (OTEL_TRACES_SAMPLER/_ARG), batching (OTEL_BSP_*) and the
    resource (OTEL_SERVICE_NAME, OTEL_RESOURCE_ATTRIBUTES) are read by the SDK."""
    names = _exporter_names(environ)
    if not names:
        return None
    from opentelemetry.sdk.resources import Resource
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import BatchSpanProcessor

    resource = Resource.create({"process.pid": os.getpid()})
    if str(resource.attributes.get("service.name", "")).startswith("unknown_service"):
        resource = resource.merge(Resource({"service.name": "rnncast"}))
    provider = TracerProvider(resource=resource)
    for name in names:
        provider.add_span_processor(BatchSpanProcessor(_exporter(name, environ)))
    return provider


def install(provider: TracerProvider | None) -> None:
    """Trace with ``provider`` from now on, in the API and in the runtime (None: off)."""
    global _tracer
    _tracer = None if provider is None else provider.get_tracer("rnncast", package_version())
    trace_hook.install(None if _tracer is None else _RuntimeSpans(_tracer))


def span(name: str) -> AbstractContextManager[object]:
    """A child span of the current one around a step of a request; nothing when off or
    when the request is not sampled (its children would be dropped anyway)."""
    if _tracer is None or not trace.get_current_span().is_recording():
        return _OFF
    return _tracer.start_as_current_span(name)


class _HeadersGetter(Getter[list[tuple[bytes, bytes]]]):
    """Reads the ASGI header list in place: a propagator asks for two or three
    headers, so decoding them all first would cost more than the lookups."""

    def get(self, carrier: list[tuple[bytes, bytes]], key: str) -> list[str] | None:
        name = key.lower().encode("latin-1")  # ASGI header names are lower case
        return [value.decode("latin-1") for header, value in carrier if header == name] or None

    def keys(self, carrier: list[tuple[bytes, bytes]]) -> list[str]:
        return [header.decode("latin-1") for header, _ in carrier]


_HEADERS = _HeadersGetter()


class RequestSpan:
    """The server span of one HTTP request, current while the request runs."""

    def __init__(self, tracer: trace.Tracer, scope: Scope) -> None:
        parent = propagate.extract(scope["headers"], getter=_HEADERS)
        self.method = scope["method"]
        self._span = tracer.start_span(self.method, parent, SpanKind.SERVER, {
            "http.request.method": self.method,
            "url.path": scope["path"],
            "url.scheme": scope.get("scheme", "http"),
        })
        self._token = context.attach(trace.set_span_in_context(self._span, parent))
        ids = self._span.get_span_context()
        self.trace_id = f"{ids.trace_id:032x}"
        self.header = (TRACE_HEADER, f"00-{self.trace_id}-{ids.span_id:016x}-{ids.trace_flags:02x}".encode())

    def end(self, status: int, route: str, request_id: str) -> None:
        """Name the span by its route (known only once routed) and end it."""
        if self._span.is_recording():
            self._span.update_name(f"{self.method} {route}")
            self._span.set_attributes({
                "http.route": route, "http.response.status_code": status, "rnncast.request_id": request_id,
            })
            if status >= 500:
                self._span.set_status(Status(StatusCode.ERROR))
        self._span.end()

    def detach(self) -> None:
        """Stop being the current span (in the task that started it)."""
        context.detach(self._token)


def start_request(scope: Scope) -> RequestSpan | None:
    """The request's server span, made current; None when tracing is off."""
    return None if _tracer is None else RequestSpan(_tracer, scope)


def _sampled(caller: object) -> TypeGuard[SpanContext]:
    """Whether a captured caller context belongs to a sampled (exported) span."""
    return isinstance(caller, SpanContext) and caller.trace_flags.sampled


def _under(caller: SpanContext) -> context.Context:
    """A context whose current span is ``caller`` (to start its children in)."""
    return trace.set_span_in_context(NonRecordingSpan(caller))


class _JobSpans:
    """A heavy job's span and its chunks' (see app.runtime.trace_hook.JobTrace)."""

    def __init__(self, tracer: trace.Tracer, job: trace.Span, ns: _Clock) -> None:
        self._tracer, self._job, self._ns = tracer, job, ns
        self._chunks = 0

    def chunk(self, index: int, started: float, ended: float) -> None:
        self._chunks += 1
        if index < MAX_CHUNK_SPANS:
            chunk = self._tracer.start_span("chunk", trace.set_span_in_context(self._job),
                                            attributes={"rnncast.chunk": index}, start_time=self._ns(started))
            chunk.end(self._ns(ended))

    def end(self, ended: float, error: BaseException | None) -> None:
        self._job.set_attribute("rnncast.job.chunks", self._chunks)
        _fail(self._job, error)
        self._job.end(self._ns(ended))


class _NoJob:
    """A job whose caller is not sampled: nothing is recorded."""

    def chunk(self, index: int, started: float, ended: float) -> None:
        pass

    def end(self, ended: float, error: BaseException | None) -> None:
        pass


def _fail(span: trace.Span, error: BaseException | None) -> None:
    if error is not None:
        span.record_exception(error)
        span.set_status(Status(StatusCode.ERROR, str(error)))


class _Clock:
    """Monotonic seconds (the runtime's clock) as the epoch nanoseconds spans take."""

    def __init__(self) -> None:
        self._offset = time.time_ns() - time.monotonic_ns()

    def __call__(self, monotonic: float) -> int:
        return self._offset + round(monotonic * 1e9)


class _RuntimeSpans:
    """The runtime's reports as spans (see app.runtime.trace_hook.RuntimeTracer)."""

    def __init__(self, tracer: trace.Tracer) -> None:
        self._tracer = tracer
        self._ns = _Clock()

    def capture(self) -> object:
        return trace.get_current_span().get_span_context()

    def _interval(self, name: str, parent: context.Context, started: float, ended: float,
                  links: Sequence[Link] = ()) -> trace.Span:
        span = self._tracer.start_span(name, parent, links=links, start_time=self._ns(started))
        span.end(self._ns(ended))
        return span

    def batch(self, model: str, waits: Sequence[tuple[object, float]], taken: float,
              computed: tuple[float, float], ended: float, rows: int, error: BaseException | None) -> None:
        # Only sampled requests get spans and links: the others' are never exported.
        sampled = [(caller, enqueued) for caller, enqueued in waits if _sampled(caller)]
        if not sampled:
            return
        batch = self._tracer.start_span(
            "batch", _under(sampled[0][0]), links=[Link(caller) for caller, _ in sampled], start_time=self._ns(taken),
            attributes={"rnncast.model": model, "rnncast.batch.rows": rows, "rnncast.batch.requests": len(waits)},
        )
        for caller, enqueued in sampled:
            self._interval("queue wait", _under(caller), enqueued, taken, [Link(batch.get_span_context())])
        self._interval("forward pass", trace.set_span_in_context(batch), *computed)
        _fail(batch, error)
        batch.end(self._ns(ended))

    def job(self, caller: object, queued: float, started: float) -> trace_hook.JobTrace:
        if not _sampled(caller):
            return _NoJob()
        job = self._tracer.start_span("job", _under(caller), start_time=self._ns(queued))
        self._interval("lane wait", trace.set_span_in_context(job), queued, started)
        return _JobSpans(self._tracer, job, self._ns)
