"""The soak of issue 10: ``rnncast serve --workers 2`` with default settings under 64
clients of mixed one-step, rolling and interval requests for ``--minutes``; one worker
is killed (SIGKILL) at half time and the model reloaded at three quarters.

    .venv/bin/python -m bench.soak [--minutes 10] [--clients 64] [--out bench/out/soak.json]

What it checks, and prints as JSON:

- wrong answers: every 200 is compared with the answer the same body got before the
  load started (a reload of the same file must not change it);
- 5xx and dropped connections, by time: the only ones allowed are the killed worker's
  requests in flight, which can only fail in the seconds after the kill;
- RSS of each worker process, sampled every 5 s: growth from the end of its warm-up
  (the first minute of its life) to the end;
- the server's ``rnncast_requests_total`` per route and status (aggregated over the
  workers, the killed one's file included) against the client's own counts.

Heavy clients (rolling and interval) are 4 of the clients: each holds at most one
request, so no worker ever has more than ``RNNCAST_MAX_HEAVY_JOBS`` (4) heavy jobs and
no 503 is expected from admission.
"""

from __future__ import annotations

import argparse
import http.client
import json
import math
import os
import random
import re
import signal
import threading
import time
from collections import Counter
from pathlib import Path
from typing import Any

from bench.hostile import free_port
from bench.procs import HOST, ServerSpec, request, serving, session_pids, status_kib

REPO = Path(__file__).resolve().parent.parent
WARMUP_S = 60.0
_COUNTER = re.compile(r'^rnncast_requests_total\{([^}]*)\}\s+([0-9.e+]+)$', re.MULTILINE)
_RELOADS = re.compile(r'^rnncast_model_reloads_total\{[^}]*result="success"[^}]*\}\s+(\S+)$', re.MULTILINE)


def _values(phase: float, length: int = 160) -> list[float]:
    return [round(math.sin(0.05 * t + phase) + 0.01 * t, 4) for t in range(length)]


# One body per request kind and variant: (kind, route, body).
BODIES: list[tuple[str, str, dict[str, Any]]] = [
    *(("one_step", "/v1/forecast", {"series": [{"values": _values(p + s)} for s in range(n)]})
      for p, n in ((0.0, 1), (0.7, 4), (1.9, 16))),
    *(("rolling", "/v1/forecast/rolling", {"series": [{"values": _values(p + s)} for s in range(4)], "horizon": 24})
      for p in (0.3, 2.2)),
    *(("interval", "/v1/forecast/rolling", {"series": [{"values": _values(p)}], "horizon": 24, "level": [80],
                                             "quantiles": [0.1, 0.9], "num_samples": 200, "seed": 7})
      for p in (0.5, 1.1)),
]
HEAVY_CLIENTS = {"rolling": 2, "interval": 2}


def _close(a: Any, b: Any) -> bool:
    """Same JSON, numbers equal to 1e-5 relative (batching may reorder float sums)."""
    if isinstance(a, dict):
        return isinstance(b, dict) and a.keys() == b.keys() and all(_close(a[k], b[k]) for k in a)
    if isinstance(a, list):
        return isinstance(b, list) and len(a) == len(b) and all(map(_close, a, b))
    if isinstance(a, float) or isinstance(b, float):
        return math.isclose(a, b, rel_tol=1e-5, abs_tol=1e-6)
    return bool(a == b)


class Tally:
    """What the clients saw, shared by their threads."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.by_route_status: Counter[tuple[str, str]] = Counter()
        self.by_kind: Counter[str] = Counter()
        self.wrong: list[str] = []
        self.failures: list[tuple[float, str, str]] = []  # (t answered, kind, status or error)
        self.latencies: dict[str, list[float]] = {}

    def record(self, t: float, kind: str, route: str, status: int | str, seconds: float) -> None:
        with self.lock:
            if isinstance(status, int):
                self.by_route_status[(route, str(status))] += 1
                self.latencies.setdefault(kind, []).append(seconds)
            if status != 200:
                self.failures.append((t, kind, str(status)))
            self.by_kind[kind] += 1


def _client(port: int, kinds: list[str], expected: dict[int, Any], tally: Tally, t0: float,
            stop: threading.Event, seed: int) -> None:
    """One client: a keep-alive connection, bodies of ``kinds`` in random order."""
    rng = random.Random(seed)
    choices = [i for i, (kind, _, _) in enumerate(BODIES) if kind in kinds]
    encoded = {i: json.dumps(BODIES[i][2]).encode() for i in choices}
    conn: http.client.HTTPConnection | None = None
    while not stop.is_set():
        i = rng.choice(choices)
        kind, route, _ = BODIES[i]
        started = time.perf_counter()
        try:
            if conn is None:
                conn = http.client.HTTPConnection(HOST, port, timeout=120)
            conn.request("POST", route, body=encoded[i], headers={"Content-Type": "application/json"})
            response = conn.getresponse()
            body = response.read()
            status: int | str = response.status
            if response.getheader("connection", "").lower() == "close":
                conn.close()
                conn = None
        except (OSError, http.client.HTTPException) as exc:
            status = type(exc).__name__
            if conn is not None:
                conn.close()
            conn = None
        ended = time.perf_counter()
        tally.record(ended - t0, kind, route, status, ended - started)
        if status == 200 and not _close(expected[i], json.loads(body)):
            with tally.lock:
                tally.wrong.append(f"{kind} body {i} at {started - t0:.1f}s")


def _workers(server_pid: int) -> list[int]:
    """uvicorn's worker processes: the session's processes whose parent is the server
    (multiprocessing's resource tracker excepted, which holds no model)."""
    found = []
    for pid in session_pids(server_pid):
        try:
            stat = Path(f"/proc/{pid}/stat").read_text()
            cmdline = Path(f"/proc/{pid}/cmdline").read_bytes()
        except OSError:
            continue
        if int(stat.rsplit(")", 1)[1].split()[1]) == server_pid and b"resource_tracker" not in cmdline:
            found.append(pid)
    return sorted(found)


def _server_counts(port: int) -> Counter[tuple[str, str]]:
    status, body = request(port, "GET", "/metrics", timeout=30)
    if status != 200:
        raise RuntimeError(f"/metrics answered {status}")
    counts: Counter[tuple[str, str]] = Counter()
    for labels, value in _COUNTER.findall(body.decode()):
        fields = dict(re.findall(r'(\w+)="([^"]*)"', labels))
        if fields["method"] == "POST" and fields["route"].startswith("/v1/forecast"):
            counts[(fields["route"], fields["status"])] += int(float(value))
    return counts


def soak(minutes: float, clients: int, log_dir: Path) -> dict[str, Any]:
    duration = minutes * 60
    port = free_port()
    one_step = json.dumps(BODIES[0][2]).encode()
    spec = ServerSpec(
        name="soak", command=[str(REPO / ".venv/bin/rnncast"), "serve", "--workers", "2"], port=port,
        health_path="/health/ready", forecast_path="/v1/forecast", body=one_step,
        check=lambda body: "forecasts" in json.loads(body), cwd=REPO, cpus="0,1",
        env={"RNNCAST_PORT": str(port), "RNNCAST_HOST": HOST, "RNNCAST_MODEL_DIR": str(REPO / "models")},
    )
    tally = Tally()
    with serving(spec, log_dir) as running:
        server_pid = running.process.pid
        time.sleep(2)  # the second worker loads before it listens
        expected = {}
        for i, (kind, route, body) in enumerate(BODIES):
            status, answer = request(port, "POST", route, json.dumps(body).encode(), timeout=60)
            tally.record(0.0, kind, route, status, 0.0)
            if status != 200:
                raise RuntimeError(f"reference {kind} answered {status}: {answer[:300]!r}")
            expected[i] = json.loads(answer)
        plan = ([["one_step"]] * (clients - sum(HEAVY_CLIENTS.values()))
                + [[k] for k, n in HEAVY_CLIENTS.items() for _ in range(n)])
        stop, t0 = threading.Event(), time.perf_counter()
        threads = [threading.Thread(target=_client, args=(port, kinds, expected, tally, t0, stop, n), daemon=True)
                   for n, kinds in enumerate(plan)]
        for thread in threads:
            thread.start()
        rss: dict[int, list[tuple[float, float]]] = {}
        events: dict[str, Any] = {}
        first_workers = _workers(server_pid)
        while (now := time.perf_counter() - t0) < duration:
            for pid in _workers(server_pid):
                if (kib := status_kib(pid, "VmRSS")) is not None:
                    rss.setdefault(pid, []).append((now, kib / 1024))
            if "killed" not in events and now >= duration / 2:
                victim = first_workers[0]
                os.kill(victim, signal.SIGKILL)
                events["killed"] = {"pid": victim, "at_s": round(now, 1)}
            if "reloaded" not in events and now >= duration * 3 / 4:
                status, answer = request(port, "POST", "/v1/models/default/reload", timeout=60)
                events["reloaded"] = {"status": status, "at_s": round(now, 1)}
            time.sleep(5 - (time.perf_counter() - t0) % 5)
        stop.set()
        for thread in threads:
            thread.join(130)
        elapsed = time.perf_counter() - t0
        scrapes = [_server_counts(port) for _ in range(4)]
        reloads = request(port, "GET", "/metrics")[1].decode()
        events["workers_after"] = _workers(server_pid)
    return _report(tally, rss, scrapes, events, elapsed, reloads)


def _report(tally: Tally, rss: dict[int, list[tuple[float, float]]], scrapes: list[Counter[tuple[str, str]]],
            events: dict[str, Any], elapsed: float, exposition: str) -> dict[str, Any]:
    killed_at = events["killed"]["at_s"]
    near_kill = [f for f in tally.failures if killed_at <= f[0] <= killed_at + 10]
    elsewhere = [f for f in tally.failures if f not in near_kill]
    growth = {}
    for pid, samples in rss.items():
        born = samples[0][0]
        warm = [mib for t, mib in samples if t >= born + WARMUP_S]
        if len(warm) >= 2:
            growth[str(pid)] = {"after_warmup_mib": round(warm[0], 1), "end_mib": round(warm[-1], 1),
                                "max_mib": round(max(warm), 1), "growth_pct": round(100 * (warm[-1] / warm[0] - 1), 2)}
    client = {f"{r} {s}": n for (r, s), n in sorted(tally.by_route_status.items())}
    server = [{f"{r} {s}": n for (r, s), n in sorted(c.items())} for c in scrapes]
    latency = {k: {"requests": len(v), "p50_ms": round(1000 * sorted(v)[len(v) // 2], 1),
                   "p99_ms": round(1000 * sorted(v)[int(len(v) * 0.99)], 1)} for k, v in tally.latencies.items()}
    return {
        "elapsed_s": round(elapsed, 1),
        "requests": dict(tally.by_kind),
        "latency": latency,
        "wrong_answers": len(tally.wrong),
        "wrong_examples": tally.wrong[:5],
        "failures_within_10s_of_kill": Counter(f[2] for f in near_kill),
        "failures_elsewhere": Counter(f[2] for f in elsewhere),
        "failures_elsewhere_examples": elsewhere[:10],
        "events": events,
        "reload_successes": _RELOADS.findall(exposition),
        "rss": growth,
        "client_counts": client,
        "server_counts": server,
        "server_minus_client": [{k: n - client.get(k, 0) for k, n in s.items() if n != client.get(k, 0)}
                                for s in server],
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--minutes", type=float, default=10.0)
    parser.add_argument("--clients", type=int, default=64)
    parser.add_argument("--out", type=Path, default=REPO / "bench" / "out" / "soak.json")
    args = parser.parse_args()
    result = soak(args.minutes, args.clients, args.out.parent / "soak-logs")
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=1))
    print(json.dumps(result, indent=1))


if __name__ == "__main__":
    main()
