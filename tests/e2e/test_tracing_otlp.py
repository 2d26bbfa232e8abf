"""Tracing on the wire: a real ``rnncast serve`` turned on by the OTEL_* variables
exports its spans over OTLP/HTTP to a receiver on loopback (tests/otlp_receiver.py),
with one worker and, in the slow tier, with two (each process its own provider)."""

from __future__ import annotations

import time
from pathlib import Path

import httpx
import pytest

from tests.factories import make_series
from tests.otlp_receiver import ReceivedSpan, otlp_receiver
from tests.server import run_server

TRACE_ID = "0af7651916cd43dd8448eb211c80319c"
CALLER_SPAN = "b7ad6b7169203331"


def otel_env(endpoint: str) -> dict[str, str]:
    return {
        "OTEL_TRACES_EXPORTER": "otlp",
        "OTEL_EXPORTER_OTLP_ENDPOINT": endpoint,
        "OTEL_EXPORTER_OTLP_PROTOCOL": "http/protobuf",
        "OTEL_SERVICE_NAME": "rnncast-under-test",
        "OTEL_BSP_SCHEDULE_DELAY": "100",  # export within a tenth of a second
    }


def of_trace(spans: list[ReceivedSpan], trace_id: str) -> dict[str, ReceivedSpan]:
    return {s.span.name: s for s in spans if s.span.trace_id.hex() == trace_id}


def test_spans_arrive_over_otlp_http(model_dir: Path, tmp_path: Path) -> None:
    with otlp_receiver() as (endpoint, receiver), run_server(model_dir, tmp_path, env=otel_env(endpoint)) as server:
        response = httpx.post(f"{server.url}/v1/forecast", headers={"traceparent": f"00-{TRACE_ID}-{CALLER_SPAN}-01"},
                              json={"series": [{"values": make_series(100)}]})
        assert response.status_code == 200
        assert response.headers["traceresponse"].startswith(f"00-{TRACE_ID}-")
        expected = {"POST /v1/forecast", "parse", "queue wait", "batch", "forward pass", "serialise"}
        spans = of_trace(receiver.wait_for(lambda got: set(of_trace(got, TRACE_ID)) >= expected), TRACE_ID)
    server_span = spans["POST /v1/forecast"]
    assert server_span.span.parent_span_id.hex() == CALLER_SPAN
    assert server_span.span.kind == server_span.span.SPAN_KIND_SERVER
    assert server_span.attributes["http.response.status_code"] == 200
    assert server_span.resource["service.name"] == "rnncast-under-test"
    for child in ("parse", "queue wait", "batch", "serialise"):
        assert spans[child].span.parent_span_id == server_span.span.span_id, child
    assert spans["forward pass"].span.parent_span_id == spans["batch"].span.span_id
    assert [link.span_id for link in spans["batch"].span.links] == [server_span.span.span_id]


@pytest.mark.slow
def test_each_of_two_workers_exports_its_own_spans(model_dir: Path, tmp_path: Path) -> None:
    env = otel_env("")
    with otlp_receiver() as (endpoint, receiver), run_server(
        model_dir, tmp_path, env={**env, "OTEL_EXPORTER_OTLP_ENDPOINT": endpoint}, args=["--workers", "2"]
    ) as server:
        body = {"series": [{"values": make_series(100)}]}
        deadline = time.monotonic() + 60
        while len({s.resource["process.pid"] for s in receiver.spans if s.span.name == "batch"}) < 2:
            assert time.monotonic() < deadline, "spans never came from both workers"
            # a fresh connection each time, so the kernel spreads them over both workers
            httpx.post(f"{server.url}/v1/forecast", json=body)
            time.sleep(0.05)
        pids = {line for line in server.log().splitlines() if "Started server process" in line}
        assert len(pids) == 2
