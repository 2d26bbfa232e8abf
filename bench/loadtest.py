"""Drive each server with wrk at each concurrency; measure ready time and peak RSS.

A "round" starts every server once, in turn (never two at a time), and measures it
at every concurrency after a discarded warm-up. Rounds alternate the server order, so
slow drift of a shared machine does not always favour the same server; ratios to the
ceiling are taken within a round, then the median over rounds is reported.
"""

from __future__ import annotations

import http.client
import re
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from bench.loadgen import LoadResult, run_wrk
from bench.procs import HOST, Running, ServerSpec, request, serving, session_pids
from bench.workers import cpu_seconds

_SERIES = ("rnncast_batch_size", "rnncast_inference_seconds", "rnncast_queue_wait_seconds")


@dataclass
class ServerRun:
    """One server measured once: startup, memory and one LoadResult per concurrency."""

    name: str
    round: int
    ready_s: float
    peak_rss_mib: float
    processes: int
    points: list[LoadResult] = field(default_factory=list)
    batching: dict[int, dict[str, float]] = field(default_factory=dict)
    # Server CPU µs (all its processes) per answered request, per concurrency: unlike
    # req/s, barely moved by other jobs taking the core away.
    cpu_us_per_request: dict[int, float] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        """Plain dict for the results JSON."""
        return {
            "name": self.name, "round": self.round, "ready_s": round(self.ready_s, 3),
            "peak_rss_mib": round(self.peak_rss_mib, 1), "processes": self.processes,
            "points": [p.to_dict() for p in self.points],
            "batching": self.batching, "cpu_us_per_request": self.cpu_us_per_request,
        }


@dataclass(frozen=True)
class LoadPlan:
    """How long and at which concurrencies to load each server."""

    concurrencies: tuple[int, ...] = (1, 16, 64)
    duration_s: float = 8.0
    warmup_s: float = 2.0
    wrk_cpus: str = "1"


def _log(message: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


def batch_totals(port: int) -> dict[str, float] | None:
    """Sums and counts of rnncast's one-step batch histograms (None for other servers)."""
    try:
        status, body = request(port, "GET", "/metrics", timeout=5)
    except (OSError, http.client.HTTPException):
        return None
    text = body.decode(errors="replace")
    if status != 200 or "rnncast_batch_size_count" not in text:
        return None
    totals: dict[str, float] = {}
    for name in _SERIES:
        for kind in ("sum", "count"):
            found = re.findall(rf"^{name}_{kind}\{{[^}}]*\}} (\S+)$", text, flags=re.MULTILINE)
            totals[f"{name}_{kind}"] = sum(float(v) for v in found)
    return totals


def batch_stats(before: dict[str, float], after: dict[str, float], requests: int) -> dict[str, float]:
    """Rows per forward pass, and wall ms per pass of compute and of queueing, in between.

    Compute is wall time on the model thread: on one shared core it includes the
    time the event loop ran meanwhile."""
    d = {k: after[k] - before[k] for k in after}
    batches = d["rnncast_batch_size_count"] or 1.0
    return {
        "batches": d["rnncast_batch_size_count"],
        "rows_per_batch": round(d["rnncast_batch_size_sum"] / batches, 2),
        "compute_ms_per_batch": round(1e3 * d["rnncast_inference_seconds_sum"] / batches, 3),
        "queue_ms_per_batch": round(1e3 * d["rnncast_queue_wait_seconds_sum"] / batches, 3),
        "compute_ms_per_request": round(1e3 * d["rnncast_inference_seconds_sum"] / max(requests, 1), 3),
    }


def server_cpu_s(running: Running) -> float:
    """CPU seconds used so far by every process of the server's session."""
    return sum(cpu_seconds(pid) for pid in session_pids(running.process.pid))


def measure(spec: ServerSpec, plan: LoadPlan, body_dir: Path, log_dir: Path, round_: int) -> ServerRun:
    """Start ``spec``, load it at every concurrency, stop it; return what was measured."""
    body_file = body_dir / f"{spec.name}.json"
    body_file.parent.mkdir(parents=True, exist_ok=True)
    body_file.write_bytes(spec.body)
    url = f"http://{HOST}:{spec.port}{spec.forecast_path}"
    with serving(spec, log_dir) as running:
        ready_s = running.ready_s or float("nan")
        _log(f"{spec.name}: ready in {ready_s:.2f}s")
        points, batching, cpu_us = [], {}, {}
        for concurrency in plan.concurrencies:
            if plan.warmup_s > 0:
                run_wrk(url, body_file, concurrency, plan.warmup_s, plan.wrk_cpus)
            before, cpu_before = batch_totals(spec.port), server_cpu_s(running)
            point = run_wrk(url, body_file, concurrency, plan.duration_s, plan.wrk_cpus)
            cpu_us[concurrency] = round(1e6 * (server_cpu_s(running) - cpu_before) / max(point.requests, 1), 1)
            after = batch_totals(spec.port) if before is not None else None
            if before is not None and after is not None:
                batching[concurrency] = batch_stats(before, after, point.requests)
            _log(
                f"{spec.name} c={concurrency}: {point.rps:.0f} req/s, p50 {point.p50_ms:.2f} ms, "
                f"p99 {point.p99_ms:.2f} ms, errors {point.errors}, non-2xx {point.non_2xx}"
            )
            points.append(point)
        peak_mib, processes = running.stop()
    return ServerRun(spec.name, round_, ready_s, peak_mib, processes, points, batching, cpu_us)


def run_rounds(
    make_specs: Sequence[Any],
    plan: LoadPlan,
    rounds: int,
    body_dir: Path,
    log_dir: Path,
) -> list[ServerRun]:
    """``make_specs``: callables returning a fresh ServerSpec (new port) per start.

    A server that fails to start is reported on stderr and skipped; the others go on.
    """
    runs: list[ServerRun] = []
    for round_ in range(1, rounds + 1):
        order = list(make_specs) if round_ % 2 else list(reversed(make_specs))
        for make in order:
            spec = make()
            try:
                runs.append(measure(spec, plan, body_dir, log_dir, round_))
            except (RuntimeError, TimeoutError, OSError) as exc:
                _log(f"{spec.name}: FAILED in round {round_}: {exc}")
    return runs
