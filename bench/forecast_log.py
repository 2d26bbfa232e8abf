"""What the forecast log costs: ``python -m bench.forecast_log`` writes bench/FORECAST_LOG.md.

Two ``rnncast serve`` processes with the shipped default model run at the same time,
both pinned to core 0: one with the forecast log off, one with it on (a file, every
forecast kept). Two wrk processes (core 1) load them at once with one-step requests,
so whatever else the machine runs disturbs both alike. Sharing core 0, each server
gets about half of it; the figure is each server's CPU time per answered request
(user + system of its processes, from /proc) in the same window, on / off, per round
and as the median over rounds. After the rounds the log-on server's /metrics says how
many lines it wrote and dropped.

The log's own work is also measured in process, as CPU time (best of several
repeats): ``record()`` as a route calls it for a one-step request, on the event
loop, and the writer thread's formatting and writing per line.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import statistics
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from app.artifact import read_metadata
from bench import targets
from bench.loadgen import LoadResult, run_wrk
from bench.loadtest import server_cpu_s
from bench.paths import BENCH, Paths, default_paths
from bench.procs import HOST, Running, ServerSpec, request, serving
from bench.report import machine_description

RESULTS = BENCH / "FORECAST_LOG.md"
VARIANTS = ("log-off", "log-on")
_COUNTERS = ("rnncast_forecast_log_lines_total", 'rnncast_forecast_log_dropped_total{reason="buffer_full"}')


@dataclass(frozen=True)
class Point:
    """One server in one round."""

    variant: str
    round: int
    load: LoadResult
    cpu_us_per_request: float


def _counter(port: int, sample: str) -> float:
    body = request(port, "GET", "/metrics")[1].decode()
    found = [line.rsplit(" ", 1)[1] for line in body.splitlines() if line.startswith(sample + " ")]
    return float(found[0]) if found else 0.0


def _window(paths: Paths) -> int:
    return read_metadata(paths.default_model).window  # the shipped model's own window


def _spec(paths: Paths, variant: str, log_file: Path) -> ServerSpec:
    env = {"RNNCAST_FORECAST_LOG": str(log_file)} if variant == "log-on" else {}
    return targets.rnncast(paths, model_dir=paths.default_models, model_path=paths.default_model,
                           window=_window(paths), name=f"rnncast-{variant}", env=env)


def _load_both(servers: dict[str, Running], body: Path, concurrency: int, seconds: float) -> dict[str, LoadResult]:
    """wrk on every server at once."""
    with ThreadPoolExecutor(len(servers)) as pool:
        futures = {
            variant: pool.submit(run_wrk, f"http://{HOST}:{r.spec.port}{r.spec.forecast_path}", body,
                                 concurrency, seconds)
            for variant, r in servers.items()
        }
        return {variant: future.result() for variant, future in futures.items()}


def measure(paths: Paths, args: argparse.Namespace) -> tuple[list[Point], dict[str, float]]:
    """Rounds of simultaneous load on both servers; the log-on server's counters and file size."""
    log_file = paths.out / "forecast-log" / "forecasts.jsonl"
    log_file.parent.mkdir(parents=True, exist_ok=True)
    for stale in log_file.parent.glob(f"{log_file.name}*"):
        stale.unlink()
    body = paths.out / "bodies" / f"w{_window(paths)}.json"
    body.parent.mkdir(parents=True, exist_ok=True)
    body.write_bytes(targets.body_for(_window(paths)))
    points = []
    with contextlib.ExitStack() as stack:
        servers = {v: stack.enter_context(serving(_spec(paths, v, log_file), paths.logs)) for v in VARIANTS}
        _load_both(servers, body, args.concurrency, 2.0)  # warm-up, discarded
        for round_ in range(1, args.rounds + 1):
            before = {v: server_cpu_s(r) for v, r in servers.items()}
            loads = _load_both(servers, body, args.concurrency, args.duration)
            for v, r in servers.items():
                cpu_us = 1e6 * (server_cpu_s(r) - before[v]) / max(loads[v].requests, 1)
                points.append(Point(v, round_, loads[v], cpu_us))
                print(f"round {round_} {v}: {loads[v].rps:.0f} req/s, {cpu_us:.0f} CPU µs/request", file=sys.stderr)
        time.sleep(0.5)  # more than one flush interval: queued lines reach the file
        port = servers["log-on"].spec.port
        lines, dropped = (_counter(port, name) for name in _COUNTERS)
    size = sum(p.stat().st_size for p in log_file.parent.glob(f"{log_file.name}*") if not p.name.endswith(".lock"))
    return points, {"lines": lines, "dropped": dropped, "bytes": size}


def in_process_costs(paths: Paths, requests: int = 2000, repeats: int = 7) -> tuple[float, float]:
    """(CPU µs on the event loop per one-step request, CPU µs in the writer thread per
    line), each the best of ``repeats``, with the shipped model and a real file. CPU
    time, not wall time: other jobs on the machine do not add to it."""
    import numpy as np
    import torch

    from app.api.forecast_log import ForecastLog, LoggedForecast
    from app.api.log_sinks import RotatingFileSink
    from app.runtime.forecaster import Forecaster

    forecaster = Forecaster.load(paths.default_model, torch.device("cpu"), "default")
    values = targets.series_values(forecaster.window)
    prediction = np.ones(1, dtype=np.float32)
    folder = paths.out / "forecast-log"
    folder.mkdir(parents=True, exist_ok=True)
    # The writer thread stays idle (an hour between flushes): flush() below is timed alone.
    sink = RotatingFileSink(folder / "in-process.jsonl", 1 << 30, 1)
    log = ForecastLog(sink, buffer_bytes=1 << 30, flush_seconds=3600)
    loop, writer = [], []
    for _ in range(repeats):
        started = time.process_time()
        for i in range(requests):
            log.record(f"r{i}", forecaster, "one_step", (LoggedForecast(f"s{i}", values, prediction) for _ in (0,)))
        loop.append((time.process_time() - started) / requests)
        started = time.process_time()
        log.flush()
        writer.append((time.process_time() - started) / requests)
    log.close()
    return 1e6 * min(loop), 1e6 * min(writer)


def report(points: list[Point], written: dict[str, float], costs: tuple[float, float], args: argparse.Namespace,
           started: str, elapsed_s: float) -> str:
    """The results page."""
    by_round = {(p.round, p.variant): p for p in points}
    rounds = range(1, args.rounds + 1)
    cpu_ratios = [by_round[r, "log-on"].cpu_us_per_request / by_round[r, "log-off"].cpu_us_per_request for r in rounds]
    rps_ratios = [by_round[r, "log-on"].load.rps / by_round[r, "log-off"].load.rps for r in rounds]
    cpu_off = statistics.median(p.cpu_us_per_request for p in points if p.variant == "log-off")
    loop_us, writer_us = costs
    m = machine_description()
    window = _window(default_paths())
    lines = [
        "# The forecast log's cost",
        "",
        f"- Command: `.venv/bin/python -m bench.forecast_log --rounds {args.rounds} --concurrency "
        f"{args.concurrency} --duration {args.duration:g}`, {started}, {elapsed_s:.0f} s.",
        f"- Machine: {m['cpu']}, {m['cores']} cores, {m['memory_gib']} GiB, load average at start "
        f"{[round(x, 2) for x in m['load_average_at_start']]} (shared with other jobs).",
        f"- Two `rnncast serve` at once, shipped default model (window {window}), one worker each, both pinned "
        "to core 0, `RNNCAST_NUM_THREADS=1`: log off, and log on (`RNNCAST_FORECAST_LOG` a file, sample "
        "rate 1: a line per forecast). Two wrk `-t1` on core 1 load both at the same time with a one-step "
        f"body of {window} values, c={args.concurrency} each; 2 s warm-up discarded, then {args.rounds} rounds "
        f"of {args.duration:g} s.",
        "",
        f"**Server CPU time per answered request, log on / off: {statistics.median(cpu_ratios):.3f}× "
        f"(median over rounds; per round: {', '.join(f'{r:.3f}' for r in cpu_ratios)}).** "
        f"Throughput on / off while sharing the core: {statistics.median(rps_ratios):.3f}×.",
        "",
        f"In process (CPU time, best of 7 × 2000): `record()` on the event loop {loop_us:.1f} µs per one-step "
        f"request; the writer thread {writer_us:.1f} µs per line (naive_mae, formatting, write); together "
        f"{100 * (loop_us + writer_us) / cpu_off:.1f}% of the {cpu_off:.0f} µs a request cost the log-off "
        "server in this run.",
        "",
        f"The log-on server wrote {written['lines']:.0f} lines ({written['bytes'] / 1e6:.1f} MB) and dropped "
        f"{written['dropped']:.0f}.",
        "",
        "| round | variant | req/s | CPU µs / request | p50 ms | p99 ms |",
        "|---|---|---|---|---|---|",
    ]
    lines += [
        f"| {p.round} | {p.variant} | {p.load.rps:.0f} | {p.cpu_us_per_request:.0f} | {p.load.p50_ms:.2f} | "
        f"{p.load.p99_ms:.2f} |"
        for p in points
    ]
    return "\n".join(lines) + "\n"


def main() -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.forecast_log", description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=7)
    parser.add_argument("--concurrency", type=int, default=64)
    parser.add_argument("--duration", type=float, default=5.0, help="measured seconds per round")
    args = parser.parse_args()
    if len(os.sched_getaffinity(0)) < 2:
        sys.exit("the benchmark needs two cores: one for the servers, one for wrk")
    os.sched_setaffinity(0, {1})
    paths, started, clock = default_paths(), datetime.now().astimezone().isoformat(timespec="seconds"), time.time()
    costs = in_process_costs(paths)
    print(f"in process: {costs[0]:.1f} µs on the loop, {costs[1]:.1f} µs in the writer", file=sys.stderr)
    points, written = measure(paths, args)
    RESULTS.write_text(report(points, written, costs, args, started, time.time() - clock))
    print(f"wrote {RESULTS}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
