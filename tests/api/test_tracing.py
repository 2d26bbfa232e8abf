"""Tracing in process, with the SDK's in-memory exporter: the span tree of each kind of
route (parent and child, attributes, links), the caller's traceparent continued, the
trace id echoed and logged, nothing recorded for an unsampled caller, and the
OTEL_* variables read as the specification says."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from fastapi.testclient import TestClient
from opentelemetry import trace
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import NonRecordingSpan, SpanContext, SpanKind, StatusCode, TraceFlags

from app.api import tracing
from app.config import Settings
from app.main import create_app
from app.runtime import trace_hook
from app.runtime.batcher import Batcher
from app.runtime.jobs import HeavyLane, Job, JobContext
from tests.api.test_models_health import ready_within
from tests.factories import make_series

TRACE_ID = "4bf92f3577b34da6a3ce929d0e0e4736"
CALLER_SPAN = "00f067aa0ba902b7"
SAMPLED = {"traceparent": f"00-{TRACE_ID}-{CALLER_SPAN}-01", "tracestate": "vendor=opaque"}


@pytest.fixture
def exporter() -> InMemorySpanExporter:
    return InMemorySpanExporter()


@pytest.fixture
def provider(exporter: InMemorySpanExporter) -> Iterator[TracerProvider]:
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    yield provider
    provider.shutdown()


def traced_client(model_dir: Path, provider: TracerProvider, **settings: Any) -> TestClient:
    """An in-process app tracing to ``provider``."""
    return TestClient(create_app(Settings(  # type: ignore[call-arg]
        model_dir=model_dir, device="cpu", drain_seconds=0, _env_file=None, **settings), tracer_provider=provider))


@pytest.fixture
def traced(model_dir: Path, provider: TracerProvider) -> Iterator[TestClient]:
    with traced_client(model_dir, provider) as client:
        ready_within(client)
        yield client


def one(spans: Sequence[ReadableSpan], name: str) -> ReadableSpan:
    found = [s for s in spans if s.name == name]
    assert len(found) == 1, [s.name for s in spans]
    return found[0]


def parent_of(span: ReadableSpan) -> int | None:
    return None if span.parent is None else span.parent.span_id


def request_spans(exporter: InMemorySpanExporter, route: str) -> tuple[ReadableSpan, list[ReadableSpan]]:
    """The server span of the one request to ``route``, and every span of its trace."""
    spans = exporter.get_finished_spans()
    server = one([s for s in spans if s.kind == SpanKind.SERVER], route)
    return server, [s for s in spans if s.context.trace_id == server.context.trace_id]


def children(spans: Sequence[ReadableSpan], parent: ReadableSpan) -> list[str]:
    return [s.name for s in spans if parent_of(s) == parent.context.span_id]


def test_a_forecast_continues_the_callers_trace(model_dir: Path, provider: TracerProvider,
                                                exporter: InMemorySpanExporter, tmp_path: Path) -> None:
    log = tmp_path / "forecasts.jsonl"
    with traced_client(model_dir, provider, forecast_log=str(log)) as client:
        ready_within(client)
        exporter.clear()  # the readiness probes
        response = client.post("/v1/forecast", headers=SAMPLED, json={
            "series": [{"id": "a", "values": make_series(120)}, {"values": make_series(100, 1)}],
        })
    assert response.status_code == 200
    server, spans = request_spans(exporter, "POST /v1/forecast")
    assert f"{server.context.trace_id:032x}" == TRACE_ID
    assert parent_of(server) == int(CALLER_SPAN, 16) and server.parent is not None and server.parent.is_remote
    assert server.context.trace_state.get("vendor") == "opaque"
    assert response.headers["traceresponse"] == f"00-{TRACE_ID}-{server.context.span_id:016x}-01"
    assert dict(server.attributes or {}) == {
        "http.request.method": "POST", "url.path": "/v1/forecast", "url.scheme": "http", "http.route": "/v1/forecast",
        "http.response.status_code": 200, "rnncast.request_id": response.headers["x-request-id"],
    }
    assert children(spans, server) == ["parse", "queue wait", "batch", "serialise"]
    batch, wait = one(spans, "batch"), one(spans, "queue wait")
    assert dict(batch.attributes or {}) == {"rnncast.model": "default", "rnncast.batch.rows": 2,
                                            "rnncast.batch.requests": 1}
    assert [link.context.span_id for link in batch.links] == [server.context.span_id]
    assert [link.context.span_id for link in wait.links] == [batch.context.span_id]
    forward = one(spans, "forward pass")
    assert parent_of(forward) == batch.context.span_id
    assert wait.end_time is not None and batch.start_time is not None and forward.start_time is not None
    assert wait.end_time <= batch.start_time <= forward.start_time
    assert batch.end_time is not None and server.end_time is not None and forward.end_time is not None
    assert forward.end_time <= batch.end_time <= server.end_time
    logged = [json.loads(line) for line in log.read_text().splitlines()]  # written out as the app stopped
    assert [line["trace_id"] for line in logged] == [TRACE_ID, TRACE_ID]


def test_a_rolling_forecast_traces_its_job_chunk_by_chunk(traced: TestClient, exporter: InMemorySpanExporter) -> None:
    exporter.clear()
    body = {"series": [{"values": make_series(110)}], "horizon": 5, "quantiles": [0.1, 0.9], "num_samples": 20}
    assert traced.post("/v1/forecast/rolling", json=body).status_code == 200
    server, spans = request_spans(exporter, "POST /v1/forecast/rolling")
    assert children(spans, server) == ["parse", "job", "serialise"]
    job = one(spans, "job")
    chunks = [s for s in spans if s.name == "chunk"]
    assert children(spans, job) == ["lane wait"] + ["chunk"] * len(chunks)
    assert [s.attributes["rnncast.chunk"] for s in chunks if s.attributes] == list(range(len(chunks)))
    assert job.attributes == {"rnncast.job.chunks": len(chunks)} and len(chunks) >= 5  # a pass per step at least


def test_frame_and_v2_routes_are_traced(traced: TestClient, exporter: InMemorySpanExporter) -> None:
    exporter.clear()
    values = make_series(160, seed=2)
    infer = {"inputs": [{"name": "input__0", "shape": [1, 100], "datatype": "FP32", "data": values[:100]}]}
    assert traced.post("/v2/models/default/infer", json=infer).status_code == 200
    assert traced.post("/v1/anomalies", json={"series": [{"id": "s", "values": values}], "level": 95,
                                                    "newest": 15}).status_code == 200
    rows = [{"unique_id": "s", "ds": i, "y": v} for i, v in enumerate(values)]
    assert traced.post("/v1/forecast/backtest", json={"rows": rows, "h": 3, "n_windows": 2}).status_code == 200
    server, spans = request_spans(exporter, "POST /v2/models/{name}/infer")
    assert children(spans, server) == ["parse", "queue wait", "batch", "serialise"]
    for route in ("POST /v1/anomalies", "POST /v1/forecast/backtest"):
        server, spans = request_spans(exporter, route)
        assert children(spans, server) == ["parse", "job", "serialise"], route


def test_a_refused_body_marks_its_parse_span(traced: TestClient, exporter: InMemorySpanExporter) -> None:
    exporter.clear()
    assert traced.post("/v1/forecast", json={"series": [{"values": "x"}]}).status_code == 422
    server, spans = request_spans(exporter, "POST /v1/forecast")
    assert server.attributes is not None and server.attributes["http.response.status_code"] == 422
    assert server.status.status_code == StatusCode.UNSET  # the caller's mistake, not the server's
    assert one(spans, "parse").status.status_code == StatusCode.ERROR


def test_an_unsampled_caller_is_answered_with_its_trace_and_records_nothing(
    traced: TestClient, exporter: InMemorySpanExporter
) -> None:
    exporter.clear()
    response = traced.post("/v1/forecast/rolling", headers={"traceparent": f"00-{TRACE_ID}-{CALLER_SPAN}-00"},
                           json={"series": [{"values": make_series(110)}], "horizon": 3})
    assert response.status_code == 200
    assert response.headers["traceresponse"].startswith(f"00-{TRACE_ID}-") and response.headers[
        "traceresponse"].endswith("-00")
    assert exporter.get_finished_spans() == ()


def test_without_tracing_nothing_is_installed_or_echoed(client: TestClient) -> None:
    response = client.post("/v1/forecast", headers=SAMPLED, json={"series": [{"values": make_series(100)}]})
    assert response.status_code == 200 and "traceresponse" not in response.headers
    assert trace_hook.current() is None


def test_a_batch_links_every_sampled_request_it_served(provider: TracerProvider,
                                                       exporter: InMemorySpanExporter) -> None:
    """Four requests queued together run as one batch (greedy batching: the queue is
    drained once every caller has enqueued), in the trace of the first; the fourth
    caller is not sampled, so it gets no span and no link."""
    tracer = provider.get_tracer("test")
    unsampled = NonRecordingSpan(SpanContext(int(TRACE_ID, 16), int(CALLER_SPAN, 16), False, TraceFlags(0)))

    async def four_callers() -> list[int]:
        batcher = Batcher(lambda rows: rows[:, -1].copy(), max_batch_rows=64, inline=True, name="m")

        async def call(index: int) -> int:
            span = unsampled if index == 3 else tracer.start_span(f"caller {index}")
            with trace.use_span(span, end_on_exit=True):
                _, batch_rows = await batcher.predict(np.full((index + 1, 4), index, np.float32))
                return batch_rows

        try:
            return list(await asyncio.gather(*(call(i) for i in range(4))))
        finally:
            batcher.stop()

    tracing.install(provider)
    try:
        assert asyncio.run(four_callers()) == [10, 10, 10, 10]
    finally:
        tracing.install(None)
    spans = exporter.get_finished_spans()
    callers = [one(spans, f"caller {i}") for i in range(3)]
    batch = one(spans, "batch")
    assert dict(batch.attributes or {}) == {"rnncast.model": "m", "rnncast.batch.rows": 10,
                                            "rnncast.batch.requests": 4}
    assert parent_of(batch) == callers[0].context.span_id
    assert [link.context.span_id for link in batch.links] == [c.context.span_id for c in callers]
    waits = [s for s in spans if s.name == "queue wait"]
    assert sorted(parent_of(w) or 0 for w in waits) == sorted(c.context.span_id for c in callers)
    assert {trace.format_trace_id(w.context.trace_id) for w in waits} == {
        trace.format_trace_id(c.context.trace_id) for c in callers
    }


def test_a_failing_job_ends_its_span_with_the_error(provider: TracerProvider, exporter: InMemorySpanExporter) -> None:
    tracer = provider.get_tracer("test")

    def job() -> Job[int]:
        yield
        raise ValueError("chunk 1 broke")

    async def run() -> int:
        lane = HeavyLane()
        try:
            with tracer.start_as_current_span("caller"):
                return await lane.run(job, JobContext())
        finally:
            lane.close()

    tracing.install(provider)
    try:
        with pytest.raises(ValueError, match="chunk 1 broke"):
            asyncio.run(run())
    finally:
        tracing.install(None)
    spans = exporter.get_finished_spans()
    job_span = one(spans, "job")
    assert parent_of(job_span) == one(spans, "caller").context.span_id
    assert job_span.status.status_code == StatusCode.ERROR and job_span.status.description == "chunk 1 broke"
    assert job_span.attributes == {"rnncast.job.chunks": 2}
    assert children(spans, job_span) == ["lane wait", "chunk", "chunk"]


@pytest.mark.parametrize("environ", [
    {},
    {"OTEL_TRACES_EXPORTER": "none", "OTEL_EXPORTER_OTLP_ENDPOINT": "http://127.0.0.1:4318"},
    {"OTEL_SDK_DISABLED": "true", "OTEL_TRACES_EXPORTER": "otlp"},
])
def test_tracing_is_off_unless_the_environment_asks(environ: dict[str, str]) -> None:
    assert tracing.provider_from_env(environ) is None


def test_an_otlp_endpoint_alone_turns_tracing_on(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("OTEL_SERVICE_NAME", raising=False)
    provider = tracing.provider_from_env({"OTEL_EXPORTER_OTLP_ENDPOINT": "http://127.0.0.1:9"})
    assert provider is not None
    try:
        assert provider.resource.attributes["service.name"] == "rnncast"
    finally:
        provider.shutdown()


@pytest.mark.parametrize(("environ", "message"), [
    ({"OTEL_TRACES_EXPORTER": "zipkin"},
     "OTEL_TRACES_EXPORTER: no installed package provides the span exporter 'zipkin'"),
    ({"OTEL_TRACES_EXPORTER": "otlp", "OTEL_EXPORTER_OTLP_PROTOCOL": "http/json"},
     "OTEL_EXPORTER_OTLP_PROTOCOL='http/json': rnncast exports OTLP as http/protobuf or grpc"),
])
def test_an_exporter_that_cannot_be_made_is_named(environ: dict[str, Any], message: str) -> None:
    with pytest.raises(RuntimeError) as refused:
        tracing.provider_from_env(environ)
    assert str(refused.value) == message
