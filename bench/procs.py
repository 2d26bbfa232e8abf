"""Server processes for the benchmark: start pinned, wait until ready, measure, stop.

Each server runs in its own session (``start_new_session``), so the whole tree it
spawns (TorchServe's Java frontend and Python worker, LitServe's inference worker,
uvicorn's worker processes) can be found by session id, measured, and stopped as one
process group.
"""

from __future__ import annotations

import contextlib
import http.client
import os
import signal
import subprocess
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

HOST = "127.0.0.1"


@dataclass(frozen=True)
class ServerSpec:
    """How to start one server and how to tell that it is ready.

    ``check`` receives the body of the probe POST and says whether it is a correct
    forecast (so "ready" means "answers forecasts", not just "listens").
    """

    name: str
    command: list[str]
    port: int
    health_path: str
    forecast_path: str
    body: bytes
    check: Callable[[bytes], bool]
    env: dict[str, str] = field(default_factory=dict)
    cwd: Path | None = None
    cpus: str = "0"
    ready_timeout_s: float = 120.0


def request(
    port: int, method: str, path: str, body: bytes | None = None, timeout: float = 10.0
) -> tuple[int, bytes]:
    """One HTTP/1.1 request to 127.0.0.1; returns (status, body)."""
    conn = http.client.HTTPConnection(HOST, port, timeout=timeout)
    try:
        headers = {"Content-Type": "application/json"} if body is not None else {}
        conn.request(method, path, body=body, headers=headers)
        response = conn.getresponse()
        return response.status, response.read()
    finally:
        conn.close()


def _session_of(pid: int) -> int | None:
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    # Fields after the parenthesised command: state ppid pgrp session ...
    return int(stat.rsplit(")", 1)[1].split()[3])


def session_pids(sid: int) -> list[int]:
    """Every live process whose session id is ``sid``."""
    pids = []
    for entry in os.listdir("/proc"):
        if entry.isdigit() and _session_of(int(entry)) == sid:
            pids.append(int(entry))
    return pids


def status_kib(pid: int, field: str) -> int | None:
    """A size field of /proc/PID/status (VmRSS, VmHWM) in KiB; None if the process is gone."""
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith(field + ":"):
                return int(line.split()[1])
    except OSError:
        pass
    return None


def vm_hwm_kib(pid: int) -> int:
    """The process's peak resident set size (VmHWM) in KiB; 0 if it is gone."""
    return status_kib(pid, "VmHWM") or 0


class PeakRss:
    """Samples VmHWM of every process of a session until stopped.

    The reported peak is the sum over processes of each one's own VmHWM (its peak,
    which the kernel keeps, so sampling only has to see each process once while it
    lives). Summing per-process peaks can only over-state a tree's simultaneous peak.
    """

    def __init__(self, sid: int, interval_s: float = 0.25) -> None:
        self._sid = sid
        self._interval = interval_s
        self._peaks: dict[int, int] = {}
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while not self._stop.is_set():
            self.sample()
            self._stop.wait(self._interval)

    def sample(self) -> None:
        """Read every process of the session once."""
        for pid in session_pids(self._sid):
            self._peaks[pid] = max(self._peaks.get(pid, 0), vm_hwm_kib(pid))

    def stop(self) -> tuple[float, int]:
        """Stop sampling; return (peak MiB summed over processes, process count)."""
        self._stop.set()
        self._thread.join()
        self.sample()
        return sum(self._peaks.values()) / 1024, len(self._peaks)


@dataclass
class Running:
    """A started server process (a session leader) and its measurements."""

    spec: ServerSpec
    process: subprocess.Popen[bytes]
    started: float
    log_path: Path
    rss: PeakRss
    ready_s: float | None = None
    peak: tuple[float, int] | None = None

    def log_tail(self, lines: int = 30) -> str:
        """The last lines the server wrote (for error messages)."""
        try:
            return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return ""

    def wait_ready(self) -> float:
        """Seconds from process start until health is 200 and a forecast is correct."""
        spec, deadline = self.spec, self.started + self.spec.ready_timeout_s
        while time.perf_counter() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(
                    f"{spec.name} exited with code {self.process.returncode}:\n{self.log_tail()}"
                )
            with contextlib.suppress(OSError, http.client.HTTPException):
                if request(spec.port, "GET", spec.health_path, timeout=2)[0] == 200:
                    status, body = request(
                        spec.port, "POST", spec.forecast_path, spec.body, timeout=10
                    )
                    if status == 200 and spec.check(body):
                        self.ready_s = time.perf_counter() - self.started
                        return self.ready_s
            time.sleep(0.02)
        raise TimeoutError(f"{spec.name} not ready within {spec.ready_timeout_s}s:\n{self.log_tail()}")

    def stop(self) -> tuple[float, int]:
        """Measure peak RSS (MiB, processes), then SIGTERM the process group (SIGKILL
        after 15 s). Safe to call twice."""
        if self.peak is None:
            self.peak = self.rss.stop()
            _stop_group(self.process, 15.0)
        return self.peak


def _stop_group(process: subprocess.Popen[bytes], grace_s: float) -> None:
    pgid = process.pid  # a session leader's process group id is its pid
    with contextlib.suppress(ProcessLookupError):
        os.killpg(pgid, signal.SIGTERM)
    try:
        process.wait(grace_s)
    except subprocess.TimeoutExpired:
        pass
    # Children may outlive the leader (TorchServe's worker): kill what is left.
    with contextlib.suppress(ProcessLookupError):
        os.killpg(pgid, signal.SIGKILL)
    with contextlib.suppress(subprocess.TimeoutExpired):
        process.wait(5)


def start(spec: ServerSpec, log_dir: Path) -> Running:
    """Start ``spec`` pinned to ``spec.cpus`` with ``taskset``, in a new session."""
    log_dir.mkdir(parents=True, exist_ok=True)
    log_path = log_dir / f"{spec.name}.log"
    env = {**os.environ, "PYTHONUNBUFFERED": "1", **spec.env}
    with log_path.open("wb") as log:
        started = time.perf_counter()
        process = subprocess.Popen(
            ["taskset", "-c", spec.cpus, *spec.command],
            env=env, cwd=spec.cwd, stdout=log, stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL, start_new_session=True,
        )
    return Running(spec, process, started, log_path, PeakRss(process.pid))


@contextlib.contextmanager
def serving(spec: ServerSpec, log_dir: Path) -> Iterator[Running]:
    """Start, wait until ready, yield, and always stop the whole process group."""
    running = start(spec, log_dir)
    try:
        running.wait_ready()
        yield running
    finally:
        running.stop()
