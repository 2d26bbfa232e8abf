"""A real ``rnncast serve`` process on 127.0.0.1, driven over HTTP."""

from __future__ import annotations

import asyncio
import json
import signal
import socket
import time
from pathlib import Path

import httpx
import numpy as np
import pytest
import torch
from prometheus_client.parser import text_string_to_metric_families

from tests.factories import make_series
from tests.server import ServerProcess, run_server, wait_until

WINDOW = 100


def metric_samples(url: str) -> dict[str, list[tuple[dict[str, str], float]]]:
    text = httpx.get(f"{url}/metrics").text
    samples: dict[str, list[tuple[dict[str, str], float]]] = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            samples.setdefault(sample.name, []).append((sample.labels, sample.value))
    return samples


def count(samples: dict[str, list[tuple[dict[str, str], float]]], name: str, **labels: str) -> float:
    return sum(v for lab, v in samples.get(name, []) if all(lab.get(k) == x for k, x in labels.items()))


def test_every_v1_endpoint_answers(live_server: ServerProcess, tiny_artifact: Path) -> None:
    url = live_server.url
    assert httpx.get(f"{url}/health/live").json() == {"status": "live", "reasons": []}
    assert httpx.get(f"{url}/health/ready").json() == {"status": "ready", "reasons": []}
    models = httpx.get(f"{url}/v1/models").json()["models"]
    assert models[0]["name"] == "default" and models[0]["device"] == "cpu"
    assert httpx.get(f"{url}/v1/models/default").json()["sha256"] == models[0]["sha256"]

    rng = np.random.default_rng(5)
    series = rng.normal(1.0, 0.6, (8, WINDOW + 3)).round(5)
    r = httpx.post(f"{url}/v1/forecast", json={"series": [{"values": s.tolist()} for s in series]})
    raw = torch.jit.load(str(tiny_artifact))
    with torch.inference_mode():
        expected = raw(torch.tensor(series[:, -WINDOW:], dtype=torch.float32)).numpy()
    got = np.array([f["value"] for f in r.json()["forecasts"]], dtype=np.float32)
    # The server's process runs its own thread settings: float32 rounding apart on some CPUs.
    np.testing.assert_allclose(got, expected, rtol=2e-6, atol=1e-6)

    rolling = httpx.post(f"{url}/v1/forecast/rolling", json={
        "series": [{"values": series[0].tolist(), "start": "2026-01-31", "freq": "ME"}],
        "horizon": 3, "quantiles": [0.05, 0.95], "num_samples": 100, "walk_forward": True}).json()
    one = rolling["forecasts"][0]
    assert one["timestamps"] == ["2034-08-31T00:00:00", "2034-09-30T00:00:00", "2034-10-31T00:00:00"]
    assert len(one["walk_forward"]["predictions"]) == 3

    samples = metric_samples(url)
    for family in ("rnncast_requests_total", "rnncast_request_duration_seconds_bucket",
                   "rnncast_inference_seconds_bucket", "rnncast_batch_size_bucket",
                   "rnncast_queue_wait_seconds_bucket", "rnncast_series_forecast_total",
                   "rnncast_points_forecast_total", "rnncast_model_info"):
        assert family in samples, family
    assert count(samples, "rnncast_requests_total", route="/v1/forecast", status="200") >= 1
    assert count(samples, "rnncast_points_forecast_total", kind="rolling") >= 3
    (info,) = samples["rnncast_model_info"]
    assert info[0]["model"] == "default" and info[0]["device"] == "cpu" and info[1] == 1.0


@pytest.mark.parametrize(
    ("content", "headers", "status", "slug"),
    [
        (b'{"series": [', {}, 400, "malformed-json"),
        (b"[1, 2]", {}, 422, "validation"),
        (b'{"series": [{"values": [1, NaN]}]}', {}, 422, "validation"),
        (b'{"series": [{"values": "abc"}]}', {}, 422, "validation"),
        (b"\xff\xfe", {}, 400, "malformed-json"),
        (b"", {}, 400, "malformed-json"),
    ],
)
def test_bad_bodies_get_4xx_problems(live_server: ServerProcess, content: bytes, headers: dict[str, str], status: int, slug: str) -> None:
    r = httpx.post(f"{live_server.url}/v1/forecast", content=content, headers=headers)
    assert r.status_code == status, r.text
    assert r.headers["content-type"] == "application/problem+json"
    assert r.json()["type"] == f"urn:rnncast:problem:{slug}"


def test_oversized_bodies_get_413_with_or_without_content_length(live_server: ServerProcess) -> None:
    big = b'{"series": [{"values": [' + b"1.0," * 3_000_000 + b"1.0]}]}"
    r = httpx.post(f"{live_server.url}/v1/forecast", content=big)
    assert r.status_code == 413

    def chunks():  # no Content-Length: chunked transfer encoding
        for i in range(0, len(big), 1 << 20):
            yield big[i : i + (1 << 20)]

    r = httpx.post(f"{live_server.url}/v1/forecast", content=chunks())
    assert r.status_code == 413
    assert httpx.get(f"{live_server.url}/health/live").status_code == 200


def test_garbage_on_the_socket_does_not_hurt_the_server(live_server: ServerProcess) -> None:
    with socket.create_connection(("127.0.0.1", live_server.port), timeout=5) as sock:
        sock.sendall(b"NOT HTTP AT ALL\r\n\r\n")
        sock.recv(1024)
    assert httpx.get(f"{live_server.url}/health/live").status_code == 200


def test_made_up_methods_share_one_metric_label(live_server: ServerProcess) -> None:
    """Unusual methods must not grow the exposition (uvicorn refuses made-up ones itself)."""
    for method in ("PROPFIND", "MKCOL", "PURGE"):
        assert httpx.request(method, f"{live_server.url}/v1/forecast").status_code == 405
    samples = metric_samples(live_server.url)
    methods = {labels["method"] for labels, _ in samples["rnncast_requests_total"]}
    assert methods <= {"GET", "POST", "other"}
    assert count(samples, "rnncast_requests_total", method="other", status="405") == 3


def _burst_equals_alone(url: str) -> None:
    """200 concurrent requests get exactly the answers they get one at a time, and some
    of them shared a forward pass."""
    bodies = [{"series": [{"id": str(i), "values": make_series(WINDOW + i % 5, seed=i)}]} for i in range(200)]
    alone = [httpx.post(f"{url}/v1/forecast", json=b).json() for b in bodies]

    async def burst() -> list[dict[str, object]]:
        limits = httpx.Limits(max_connections=200)
        async with httpx.AsyncClient(base_url=url, limits=limits, timeout=60) as client:
            responses = await asyncio.gather(*(client.post("/v1/forecast", json=b) for b in bodies))
        assert all(r.status_code == 200 for r in responses)
        return [r.json() for r in responses]

    together = asyncio.run(burst())
    assert together == alone
    sizes = metric_samples(url)["rnncast_batch_size_bucket"]
    merged = count({"b": sizes}, "b", le="1.0")
    total = count({"b": sizes}, "b", le="+Inf")
    assert total - merged > 0, "no forward pass ever held more than one row"


@pytest.mark.slow
def test_200_concurrent_requests_equal_their_answers_alone(live_server: ServerProcess) -> None:
    _burst_equals_alone(live_server.url)


@pytest.mark.slow
@pytest.mark.parametrize("batch_on", ["loop", "thread"])
def test_both_places_for_batches_answer_alike(model_dir: Path, tmp_path: Path, batch_on: str) -> None:
    with run_server(model_dir, tmp_path, env={"RNNCAST_BATCH_ON": batch_on}) as server:
        _burst_equals_alone(server.url)


def test_a_client_leaving_mid_body_is_counted_not_an_error(live_server: ServerProcess) -> None:
    with socket.create_connection(("127.0.0.1", live_server.port), timeout=5) as sock:
        sock.sendall(b"POST /v1/forecast HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                     b"Content-Length: 1000\r\n\r\n{\"series\": [")
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline and not count(
        metric_samples(live_server.url), "rnncast_requests_total", route="/v1/forecast", status="499"
    ):
        time.sleep(0.05)
    assert count(metric_samples(live_server.url), "rnncast_requests_total", route="/v1/forecast", status="499") == 1
    assert "unhandled error" not in live_server.log()
    assert httpx.get(f"{live_server.url}/health/ready").status_code == 200


def test_logs_are_json_lines_with_the_request_id(live_server: ServerProcess) -> None:
    r = httpx.get(f"{live_server.url}/v1/models", headers={"X-Request-ID": "trace-42"})
    assert r.headers["x-request-id"] == "trace-42"
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        lines = [json.loads(line) for line in live_server.log().splitlines() if line.startswith("{")]
        hits = [x for x in lines if x.get("request_id") == "trace-42"]
        if hits:
            break
        time.sleep(0.05)
    (entry,) = hits
    assert entry["method"] == "GET" and entry["route"] == "/v1/models" and entry["status"] == 200
    assert entry["duration_ms"] >= 0 and entry["msg"] == "request"
    non_json = [line for line in live_server.log().splitlines() if line.strip() and not line.startswith("{")]
    assert non_json == []


@pytest.mark.slow
def test_api_keys_on_a_real_server(model_dir: Path, tmp_path: Path) -> None:
    with run_server(model_dir, tmp_path, env={"RNNCAST_API_KEYS": "alpha, beta"}) as server:
        body = {"series": [{"values": make_series(WINDOW)}]}
        assert httpx.post(f"{server.url}/v1/forecast", json=body).status_code == 401
        ok = httpx.post(f"{server.url}/v1/forecast", json=body, headers={"Authorization": "Bearer beta"})
        assert ok.status_code == 200
        assert httpx.get(f"{server.url}/metrics").status_code == 200
        assert httpx.get(f"{server.url}/health/ready").status_code == 200


# One real-server case in the default tier (in-process tests cover the others' logic).
@pytest.mark.parametrize("damage", ["corrupt", *(pytest.param(d, marks=pytest.mark.slow)
                                                 for d in ("missing", "tampered", "no-cuda"))])
def test_broken_artifacts_leave_the_process_live_and_not_ready(model_copy: Path, tmp_path: Path, damage: str) -> None:
    path = model_copy / "default" / "model.pt"
    env = {}
    if damage == "missing":
        path.unlink()
        (model_copy / "default" / "model.pt.sha256").unlink()
        expected = "no models found in the model directory"
    elif damage == "corrupt":
        path.write_bytes(b"\x00" * 100)
        expected = "does not match model.pt.sha256"
    elif damage == "tampered":
        (model_copy / "default" / "model.pt.sha256").write_text("0" * 64 + "  model.pt\n")
        expected = "does not match model.pt.sha256"
    else:
        if torch.cuda.is_available():
            pytest.skip("CUDA is present here; this case needs a machine without it")
        env["RNNCAST_DEVICE"] = "cuda"
        expected = "RNNCAST_DEVICE=cuda but CUDA is not available"
    with run_server(model_copy, tmp_path, env=env, ready=False) as server:
        deadline = time.monotonic() + 30
        while "loading" in httpx.get(f"{server.url}/health/ready").text:
            assert time.monotonic() < deadline
            time.sleep(0.05)
        r = httpx.get(f"{server.url}/health/ready")
        assert r.status_code == 503 and expected in r.json()["reasons"][0]
        assert httpx.get(f"{server.url}/health/live").status_code == 200
        time.sleep(0.5)  # the process must stay up, not crash-loop
        assert server.process.poll() is None
        if damage != "missing":
            failures = [line for line in server.log().splitlines() if "model failed to load" in line]
            assert len(failures) == 1 and expected in failures[0]


@pytest.mark.slow
def test_sigterm_drains_without_dropping_requests(model_dir: Path, tmp_path: Path) -> None:
    # Admit all 40 long jobs: this is about draining, not the admission bound.
    env = {"RNNCAST_DRAIN_SECONDS": "1.5", "RNNCAST_MAX_HEAVY_JOBS": "40"}
    with run_server(model_dir, tmp_path, env=env) as server:
        body = {"series": [{"values": make_series(WINDOW)}], "horizon": 300}
        results: list[int] = []
        readiness: list[int] = []

        async def burst() -> None:
            async with httpx.AsyncClient(base_url=server.url, timeout=60) as client:
                async def one() -> None:
                    r = await client.post("/v1/forecast/rolling", json=body)
                    results.append(r.status_code)

                tasks = [asyncio.create_task(one()) for _ in range(40)]
                await asyncio.sleep(0.2)  # requests are in flight
                server.process.send_signal(signal.SIGTERM)
                await asyncio.sleep(0.3)
                readiness.append((await client.get("/health/ready")).status_code)
                await asyncio.gather(*tasks)

        asyncio.run(burst())
        assert results == [200] * 40
        assert readiness == [503]
        assert server.process.wait(30) == 0
        assert "SIGTERM: draining" in server.log()


@pytest.mark.slow
def test_two_workers_serve_and_aggregate_metrics(model_dir: Path, tmp_path: Path) -> None:
    with run_server(model_dir, tmp_path, args=["--workers", "2"]) as server:
        body = {"series": [{"values": make_series(WINDOW)}]}
        # Each worker loads the model itself: wait until fresh connections, which the
        # kernel spreads over both workers, all find a ready one.
        deadline = time.monotonic() + 60
        streak = 0
        while streak < 20:
            assert time.monotonic() < deadline, "the workers never all became ready"
            streak = streak + 1 if httpx.get(f"{server.url}/health/ready").status_code == 200 else 0
        answers = set()
        seen = []
        for _ in range(40):
            # a fresh connection each time, so both workers get traffic
            r = httpx.post(f"{server.url}/v1/forecast", json=body)
            answers.add(r.json()["forecasts"][0]["value"])
            # counted before the answer went out: a scrape right after it sees it
            seen.append(count(metric_samples(server.url), "rnncast_requests_total",
                              route="/v1/forecast", status="200"))
        assert len(answers) == 1
        assert seen == [float(n) for n in range(1, 41)]
        totals = {count(metric_samples(server.url), "rnncast_requests_total",
                        route="/v1/forecast", status="200") for _ in range(6)}
        assert totals == {40.0}, "every scrape, whichever worker answers, must see all 40"
        pids = {line for line in server.log().splitlines() if "Started server process" in line}
        assert len(pids) == 2


def test_readiness_waits_for_loading(model_dir: Path, tmp_path: Path) -> None:
    """Before the model is loaded, ready is 503 'loading' while live is 200."""
    with run_server(model_dir, tmp_path, ready=False) as server:
        seen = set()
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            r = httpx.get(f"{server.url}/health/ready")
            seen.add((r.status_code, "loading" in r.text))
            if r.status_code == 200:
                break
        assert (200, False) in seen
        assert seen <= {(503, True), (200, False)}
        wait_until(f"{server.url}/health/ready")
