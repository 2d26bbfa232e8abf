"""Heavy, slow and hostile clients against a real ``rnncast serve`` on 127.0.0.1: the
HTTP limits, the heavy lane's admission, deadlines and cancellation. Every wait is
bounded; nothing here asserts a latency, only what was answered and in which order."""

from __future__ import annotations

import asyncio
import json
import socket
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.e2e.test_server import count, metric_samples
from tests.factories import make_series
from tests.server import ServerProcess, run_server

WINDOW = 100
# 4M model rows, within the default budget: seconds of compute for the test model.
HEAVY = {"series": [{"values": make_series(WINDOW, seed=i)} for i in range(1000)], "horizon": 4000}
SMALL = {"series": [{"values": make_series(WINDOW)}], "horizon": 2}
ENV = {
    "RNNCAST_MAX_HEADER_BYTES": "8192",
    "RNNCAST_HEADER_TIMEOUT_S": "0.5",
    "RNNCAST_MAX_CONNECTIONS": "20",
    "RNNCAST_MAX_HEAVY_JOBS": "1",
}


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory, model_dir: Path) -> Iterator[ServerProcess]:
    with run_server(model_dir, tmp_path_factory.mktemp("hostile"), env=ENV) as live:
        yield live


def raw(server: ServerProcess, data: bytes, timeout: float = 5.0) -> bytes:
    """Send ``data`` on a fresh connection; everything the server answers until it closes."""
    with socket.create_connection(("127.0.0.1", server.port), timeout=timeout) as sock:
        try:
            sock.sendall(data)
        except (BrokenPipeError, ConnectionResetError):
            pass  # the server answered and closed before taking it all
        chunks = []
        try:
            while chunk := sock.recv(65536):
                chunks.append(chunk)
        except ConnectionResetError:
            pass
        return b"".join(chunks)


def wait_lane_free(server: ServerProcess, within: float = 30.0) -> int:
    """Post SMALL until the heavy lane admits it; its status (200 once free)."""
    deadline = time.monotonic() + within
    status = 0
    while time.monotonic() < deadline:
        status = httpx.post(f"{server.url}/v1/forecast/rolling", json=SMALL, timeout=10).status_code
        if status == 200:
            break
        time.sleep(0.1)
    return status


def test_oversized_headers_get_431_at_once(server: ServerProcess) -> None:
    started = time.monotonic()
    answer = raw(server, b"GET /health/live HTTP/1.1\r\nHost: x\r\nX-Big: " + b"a" * (4 << 20) + b"\r\n\r\n")
    assert answer.startswith(b"HTTP/1.1 431 "), answer[:80]
    assert time.monotonic() - started < 5  # generous bound: the point is "not after the 4 MiB"
    assert httpx.get(f"{server.url}/health/live").status_code == 200


def test_a_connection_that_never_finishes_its_headers_is_closed(server: ServerProcess) -> None:
    answer = raw(server, b"GET /health/live HTTP/1.1\r\nHost: x\r\n")  # no blank line, ever
    assert answer.startswith(b"HTTP/1.1 408 ")
    assert b"no complete request headers within 0.5s" in answer


def test_connections_beyond_the_cap_get_503_and_are_closed(server: ServerProcess) -> None:
    socks = [socket.create_connection(("127.0.0.1", server.port), timeout=5) for _ in range(30)]
    try:
        answers = []
        for sock in socks:
            try:
                answers.append(sock.recv(4096)[:12])
            except ConnectionResetError:
                answers.append(b"")
        assert answers.count(b"HTTP/1.1 503") >= 10
        assert answers.count(b"HTTP/1.1 408") >= 1  # those within the cap timed out instead
    finally:
        for sock in socks:
            sock.close()


@pytest.mark.slow  # seconds of model compute per job
def test_one_step_requests_are_answered_while_a_heavy_job_runs_and_admission_is_bounded(server: ServerProcess) -> None:
    async def scenario() -> tuple[list[str], int, int, str | None]:
        order: list[str] = []
        async with httpx.AsyncClient(base_url=server.url, timeout=30) as client:
            async def heavy() -> int:
                r = await client.post("/v1/forecast/rolling", json=HEAVY)
                order.append("heavy")
                return r.status_code

            job = asyncio.create_task(heavy())
            await asyncio.sleep(0.5)  # the job is running
            refused = await client.post("/v1/forecast/rolling", json=SMALL)
            for _ in range(5):
                r = await client.post("/v1/forecast", json={"series": [{"values": make_series(WINDOW)}]})
                assert r.status_code == 200
                order.append("one-step")
            return order, await job, refused.status_code, refused.headers.get("retry-after")

    order, heavy_status, refused, retry_after = asyncio.run(scenario())
    assert heavy_status == 200
    assert order[:5] == ["one-step"] * 5  # none waited for the heavy job
    assert (refused, retry_after) == (503, "1")
    assert wait_lane_free(server) == 200


@pytest.mark.slow  # seconds of model compute per job
def test_the_deadline_answers_504_and_stops_the_job(model_dir: Path, tmp_path: Path) -> None:
    env = {**ENV, "RNNCAST_REQUEST_TIMEOUT_S": "0.3"}
    with run_server(model_dir, tmp_path, env=env) as short:
        r = httpx.post(f"{short.url}/v1/forecast/rolling", json=HEAVY, timeout=30)
        assert r.status_code == 504 and r.headers["content-type"] == "application/problem+json"
        assert r.json()["type"] == "urn:rnncast:problem:deadline-exceeded"
        # The job stopped at its next chunk, so the one admitted job's place frees up.
        assert wait_lane_free(short) == 200


@pytest.mark.slow  # seconds of model compute per job
def test_work_for_a_client_that_left_stops(server: ServerProcess) -> None:
    with pytest.raises(httpx.ReadTimeout):
        httpx.post(f"{server.url}/v1/forecast/rolling", json=HEAVY, timeout=0.5)
    assert wait_lane_free(server) == 200
    samples = metric_samples(server.url)
    # Stopped because the client left (499), not finished (200) nor timed out (504).
    assert count(samples, "rnncast_requests_total", route="/v1/forecast/rolling", status="499") == 1
    assert count(samples, "rnncast_requests_total", route="/v1/forecast/rolling", status="504") == 0


def test_a_v2_client_leaving_mid_body_is_a_499_without_a_traceback(server: ServerProcess) -> None:
    head = (b"POST /v2/models/default/infer HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
            b"Content-Length: 1000\r\n\r\n")
    with socket.create_connection(("127.0.0.1", server.port), timeout=5) as sock:
        sock.sendall(head + b'{"inputs": [')
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        if count(metric_samples(server.url), "rnncast_requests_total",
                 route="/v2/models/{name}/infer", status="499") == 1:
            break
        time.sleep(0.1)
    assert count(metric_samples(server.url), "rnncast_requests_total",
                 route="/v2/models/{name}/infer", status="499") == 1
    assert "Traceback" not in server.log()


def test_requests_cut_off_by_the_graceful_timeout_get_a_clean_503(model_dir: Path, tmp_path: Path) -> None:
    """Requests still running when the graceful timeout ends (here: still waiting for
    their bodies) are answered 503 and logged and counted as such, without a traceback;
    one route the middleware answers itself, one through the framework."""
    env = {**ENV, "RNNCAST_GRACEFUL_TIMEOUT_S": "1"}
    routes = ("/v1/forecast", "/v2/models/default/infer")
    with run_server(model_dir, tmp_path, env=env) as server:
        socks = [socket.create_connection(("127.0.0.1", server.port), timeout=15) for _ in routes]
        for sock, route in zip(socks, routes, strict=True):
            sock.sendall(f"POST {route} HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                         f"Content-Length: 1000\r\n\r\n{{".encode())
        time.sleep(0.5)  # both requests are running
        assert server.terminate() == 0
        answers = []
        for sock in socks:
            with sock:
                answers.append(sock.recv(65536))
    assert [a.split(b"\r\n", 1)[0] for a in answers] == [b"HTTP/1.1 503 Service Unavailable"] * 2
    assert b"urn:rnncast:problem:shutting-down" in answers[0]
    log = server.log()
    assert "Traceback" not in log and "Exception in ASGI application" not in log
    lines = [json.loads(line) for line in log.splitlines() if line.startswith("{")]
    logged = {line["path"]: line["status"] for line in lines if line["msg"] == "request" and line["path"] in routes}
    assert logged == dict.fromkeys(routes, 503)
