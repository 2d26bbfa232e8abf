"""Heavy, slow and hostile clients against ``rnncast serve`` with default settings
(issue 10): light-client p99 idle vs while budget-sized rolling jobs run, on 1 and 2
CPUs; a huge header; stalled connections. Run ``python -m bench.hostile [--app DIR]``
(``--app`` serves another checkout, e.g. the code before the change); prints JSON."""

from __future__ import annotations

import argparse
import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import TypeVar

import httpx
import numpy as np

T = TypeVar("T")
REPO = Path(__file__).resolve().parent.parent
VALUES = [round(float(np.sin(0.02 * t) + 1), 4) for t in range(160)]  # the model's window is 128
LIGHT = {"series": [{"values": VALUES}]}
# 1,000 series x horizon 4,000: 4M rows, within the default budget.
HEAVY = {"series": [{"values": VALUES}] * 1000, "horizon": 4000}


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def start(app_dir: Path, cpus: str, settings: dict[str, str] | None = None) -> tuple[subprocess.Popen[bytes], str]:
    """``rnncast serve`` from ``app_dir`` pinned to ``cpus``, default settings unless
    ``settings`` (RNNCAST_* variables) says otherwise; returns it once ready."""
    port = free_port()
    env = {**os.environ, "RNNCAST_PORT": str(port), "RNNCAST_MODEL_DIR": str(REPO / "models"),
           "PYTHONPATH": str(app_dir), **(settings or {})}
    proc = subprocess.Popen(["taskset", "-c", cpus, sys.executable, "-m", "app.cli", "serve"], cwd=app_dir, env=env,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
    url = f"http://127.0.0.1:{port}"
    for _ in range(600):
        try:
            if httpx.get(f"{url}/health/ready", timeout=2).status_code == 200:
                return proc, url
        except httpx.TransportError:
            pass
        time.sleep(0.1)
    raise RuntimeError("server not ready")


def light_latencies_ms(client: httpx.Client, n: int) -> list[float]:
    """``n`` light one-step requests one after the other: each one's latency in ms."""
    times = []
    for _ in range(n):
        started = time.perf_counter()
        client.post("/v1/forecast", json=LIGHT).raise_for_status()
        times.append((time.perf_counter() - started) * 1000)
    return times


def light_p99(url: str, n: int) -> float:
    with httpx.Client(base_url=url, timeout=300) as client:
        return float(np.percentile(light_latencies_ms(client, n), 99))


def beside(
    url: str, post: Callable[[httpx.Client], int], measure: Callable[[], T], timeout: float
) -> tuple[T, list[int]]:
    """``measure()`` while another client repeats ``post`` back to back (after a second
    to get going); the result and the statuses ``post`` returned."""
    stop, statuses = threading.Event(), []

    def repeat() -> None:
        with httpx.Client(base_url=url, timeout=timeout) as client:
            while not stop.is_set():
                statuses.append(post(client))

    worker = threading.Thread(target=repeat)
    worker.start()
    try:
        time.sleep(1.0)
        return measure(), statuses
    finally:
        stop.set()
        worker.join()


def lanes(app_dir: Path, cpus: str, n: int) -> dict[str, float]:
    """Light p99 idle, then while heavy jobs run back to back."""
    proc, url = start(app_dir, cpus)
    try:
        idle = light_p99(url, n)
        busy, statuses = beside(url, lambda c: c.post("/v1/forecast/rolling", json=HEAVY).status_code,
                                lambda: light_p99(url, n), timeout=600)
        return {"idle_p99_ms": idle, "heavy_p99_ms": busy, "ratio": busy / idle, "heavy_statuses": len(statuses)}
    finally:
        os.killpg(proc.pid, signal.SIGKILL)


def header_and_stall(app_dir: Path) -> dict[str, object]:
    proc, url = start(app_dir, "0,1")
    try:
        out: dict[str, object] = {}
        started = time.perf_counter()
        with socket.create_connection(("127.0.0.1", int(url.rsplit(":", 1)[1])), timeout=60) as sock:
            try:
                sock.sendall(b"GET /health/live HTTP/1.1\r\nHost: x\r\nX-Big: " + b"a" * (32 << 20) + b"\r\n\r\n")
            except OSError:
                pass
            answer = sock.recv(64)
        out["header_32MiB"] = {"answer": answer[:12].decode(errors="replace"), "seconds": time.perf_counter() - started}
        socks = [socket.create_connection(("127.0.0.1", int(url.rsplit(":", 1)[1])), timeout=120) for _ in range(100)]
        for s in socks:
            s.sendall(b"GET / HTTP/1.1\r\nHost: x\r\n")
        started = time.perf_counter()
        closed = []
        for s in socks:
            try:
                s.recv(4096)
            except OSError:
                pass
            closed.append(time.perf_counter() - started)
            s.close()
        out["stalled_100_closed_after_s"] = max(closed)
        return out
    finally:
        os.killpg(proc.pid, signal.SIGKILL)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--app", type=Path, default=REPO, help="checkout whose app/ to serve")
    parser.add_argument("--requests", type=int, default=300)
    args = parser.parse_args()
    result = {cpus: lanes(args.app, cpus, args.requests) for cpus in ("0", "0,1")}
    result["http"] = header_and_stall(args.app)
    print(json.dumps(result, indent=1))


if __name__ == "__main__":
    main()
