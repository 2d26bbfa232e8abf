"""A real ``rnncast serve`` process on 127.0.0.1 for end-to-end tests."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import httpx


def free_port() -> int:
    """A TCP port nothing listens on right now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass
class ServerProcess:
    """A running server: its base URL, process and captured log lines."""

    url: str
    process: subprocess.Popen[str]
    log_path: Path
    port: int
    env: dict[str, str] = field(default_factory=dict)

    def log(self) -> str:
        """Everything the server wrote to standard error so far."""
        return self.log_path.read_text()

    def terminate(self, timeout: float = 30.0) -> int:
        """SIGTERM and wait; returns the exit code."""
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
        return self.process.wait(timeout)


def wait_until(url: str, expect: int = 200, timeout: float = 60.0, process: subprocess.Popen[str] | None = None) -> None:
    """Poll ``url`` until it answers ``expect``."""
    deadline = time.monotonic() + timeout
    last: object = None
    while time.monotonic() < deadline:
        if process is not None and process.poll() is not None:
            raise RuntimeError(f"server exited early with code {process.returncode}")
        try:
            last = httpx.get(url, timeout=2).status_code
            if last == expect:
                return
        except httpx.TransportError as exc:
            last = exc
        time.sleep(0.1)
    raise TimeoutError(f"{url} did not answer {expect} within {timeout}s (last: {last})")


@contextmanager
def run_server(
    model_dir: Path,
    tmp_path: Path,
    *,
    env: dict[str, str] | None = None,
    args: list[str] | None = None,
    ready: bool = True,
) -> Iterator[ServerProcess]:
    """Start ``rnncast serve`` and stop it (SIGTERM, then SIGKILL) afterwards."""
    port = free_port()
    full_env = {
        **os.environ,
        "RNNCAST_MODEL_DIR": str(model_dir),
        "RNNCAST_PORT": str(port),
        "RNNCAST_HOST": "127.0.0.1",
        "RNNCAST_DRAIN_SECONDS": "0",
        "PYTHONUNBUFFERED": "1",
        **(env or {}),
    }
    full_env.pop("PROMETHEUS_MULTIPROC_DIR", None)
    log_path = tmp_path / f"server-{port}.log"
    with log_path.open("w") as log:
        process = subprocess.Popen(
            [sys.executable, "-m", "app.cli", "serve", *(args or [])],
            env=full_env, stdout=log, stderr=subprocess.STDOUT, text=True,
        )
    server = ServerProcess(f"http://127.0.0.1:{port}", process, log_path, port, full_env)
    try:
        wait_until(f"{server.url}/health/{'ready' if ready else 'live'}", process=process)
        yield server
    finally:
        if process.poll() is None:
            process.send_signal(signal.SIGTERM)
            try:
                process.wait(30)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
