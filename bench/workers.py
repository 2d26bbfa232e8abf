"""``rnncast serve --workers 2``: correct answers, aggregated metrics, and its scaling.

Correctness: N forecasts, each on a fresh connection (so the kernel spreads them over
both workers' accepts), every answer checked against the in-process value; then
``/metrics`` is scraped several times (each scrape may land on either worker) and
``rnncast_requests_total`` for POST /v1/forecast must have grown by exactly N every time.
Both workers must have burnt CPU (from /proc), or the spread did not happen.

Scaling (informative): req/s at one concurrency with 1 and 2 workers, pinned to core 0
alone and to cores 0-1 (where wrk shares core 1 with a worker).
"""

from __future__ import annotations

import os
import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

from bench.loadgen import run_wrk
from bench.procs import HOST, ServerSpec, request, serving, session_pids

_COUNTER = re.compile(
    r'^rnncast_requests_total\{(?=[^}]*route="/v1/forecast")(?=[^}]*method="POST")'
    r'(?=[^}]*status="200")[^}]*\}\s+([0-9.e+]+)$',
    re.MULTILINE,
)


def forecast_count(port: int) -> float:
    """The POST /v1/forecast 200 counter as one scrape of /metrics reports it."""
    status, body = request(port, "GET", "/metrics")
    if status != 200:
        raise RuntimeError(f"/metrics answered {status}")
    return sum(float(v) for v in _COUNTER.findall(body.decode()))


def cpu_seconds(pid: int) -> float:
    """User + system CPU seconds of a process so far (0 once it is gone)."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def check_correctness(spec: ServerSpec, log_dir: Path, requests: int = 300, scrapes: int = 8) -> dict[str, Any]:
    """Answers and aggregated counters of a multi-worker server (see the module doc)."""
    with serving(spec, log_dir) as running:
        before = forecast_count(spec.port)
        workers = [pid for pid in session_pids(running.process.pid) if pid != running.process.pid]
        cpu_before = {pid: cpu_seconds(pid) for pid in workers}
        wrong = 0
        for _ in range(requests):
            status, body = request(spec.port, "POST", spec.forecast_path, spec.body)
            wrong += status != 200 or not spec.check(body)
        counts = [forecast_count(spec.port) - before for _ in range(scrapes)]
        cpu = {pid: round(cpu_seconds(pid) - cpu_before[pid], 2) for pid in workers}
        running.stop()
    busy = sum(1 for seconds in cpu.values() if seconds > 0.05)
    return {
        "requests": requests,
        "wrong_answers": wrong,
        "counter_deltas": counts,
        "metrics_aggregated": all(c == requests for c in counts),
        "worker_processes": len(workers),
        "workers_that_served": busy,
        "worker_cpu_s": list(cpu.values()),
        "ok": wrong == 0 and all(c == requests for c in counts) and busy >= 2,
    }


def measure_scaling(
    make_spec: Callable[[int, str], ServerSpec],
    body_dir: Path,
    log_dir: Path,
    concurrency: int = 64,
    duration_s: float = 8.0,
    warmup_s: float = 2.0,
) -> list[dict[str, Any]]:
    """req/s and latency for workers in (1, 2) x cpus in ("0", "0,1")."""
    rows = []
    for cpus in ("0", "0,1"):
        for workers in (1, 2):
            spec = make_spec(workers, cpus)
            body_file = body_dir / f"{spec.name}.json"
            body_file.parent.mkdir(parents=True, exist_ok=True)
            body_file.write_bytes(spec.body)
            url = f"http://{HOST}:{spec.port}{spec.forecast_path}"
            with serving(spec, log_dir) as running:
                run_wrk(url, body_file, concurrency, warmup_s)
                point = run_wrk(url, body_file, concurrency, duration_s)
                peak, processes = running.stop()
            rows.append({
                "workers": workers, "server_cpus": cpus, "wrk_cpus": "1",
                "ready_s": running.ready_s, "peak_rss_mib": round(peak, 1),
                "processes": processes, **point.to_dict(),
            })
    return rows
