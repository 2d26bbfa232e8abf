"""The default intra-op thread count (RNNCAST_NUM_THREADS) under load, per CPUs per
worker (issue 10).

    .venv/bin/python -m bench.threads [--threads 1 2 4] [--seconds 10] [--rounds 3]

For each CPU set (one worker pinned with ``taskset`` to core 0, then to cores 0-1),
one server per thread count is started, all pinned alike; then, in ``--rounds``
rounds taking the servers in turn (so a busy spell of the shared machine hits them
all alike): wrk (one thread, 64 connections, on core 1, which it shares with the
server on the 2-CPU runs) POSTs one-step requests for ``--seconds``, then one rolling
job of 1M rows (250 series x horizon 4,000) runs alone, where intra-op threads could
help. With ``--mixed`` such jobs are posted back to back during the one-step load
instead (job_s is then their mean time). Medians over the rounds. A machine with two cores cannot give a worker 4 CPUs:
4 threads there only show oversubscription. Prints JSON.
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import statistics
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

import httpx

from bench.hostile import LIGHT, REPO, VALUES, start
from bench.loadgen import run_wrk

JOB = {"series": [{"values": VALUES}] * 250, "horizon": 4000}


def one_round(url: str, seconds: float, body_file: Path, mixed: bool) -> dict[str, float]:
    """wrk's one-step load, then one rolling job alone; with ``mixed``, rolling jobs
    back to back during the load instead."""
    stop, job_times = threading.Event(), []

    def post_jobs() -> None:  # at least one; more until ``stop``
        with httpx.Client(base_url=url, timeout=600) as client:
            while True:
                started = time.perf_counter()
                client.post("/v1/forecast/rolling", json=JOB).raise_for_status()
                job_times.append(time.perf_counter() - started)
                if stop.is_set():
                    return

    poster = threading.Thread(target=post_jobs)
    if mixed:
        poster.start()
    load = run_wrk(f"{url}/v1/forecast", body_file, concurrency=64, duration_s=seconds, cpus="1")
    stop.set()
    if not mixed:
        poster.start()
    poster.join()
    return {"rps": load.rps, "p50_ms": load.p50_ms, "p99_ms": load.p99_ms,
            "errors": load.errors + load.non_2xx, "job_s": statistics.mean(job_times)}


def compare(cpus: str, threads: list[int], seconds: float, rounds: int, body_file: Path,
            mixed: bool) -> dict[str, Any]:
    servers = {}
    try:
        for count in threads:
            servers[count] = start(REPO, cpus, {"RNNCAST_NUM_THREADS": str(count)})
        runs: dict[int, list[dict[str, float]]] = {count: [] for count in threads}
        for _ in range(rounds):
            for count, (_, url) in servers.items():
                runs[count].append(one_round(url, seconds, body_file, mixed))
        return {f"{count} threads": {key: round(statistics.median(r[key] for r in results), 2)
                                     for key in results[0]}
                for count, results in runs.items()}
    finally:
        for proc, _ in servers.values():
            os.killpg(proc.pid, signal.SIGKILL)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--threads", type=int, nargs="*", default=[1, 2, 4])
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--cpus", nargs="*", default=["0", "0,1"], help="CPU sets (taskset lists) per worker")
    parser.add_argument("--mixed", action="store_true", help="rolling jobs back to back during the one-step load")
    args = parser.parse_args()
    with tempfile.NamedTemporaryFile("w", suffix=".json") as body:
        json.dump(LIGHT, body)
        body.flush()
        result = {f"{len(cpus.split(','))} CPU": compare(cpus, args.threads, args.seconds, args.rounds, Path(body.name),
                                                                  args.mixed)
                  for cpus in args.cpus}
    print(json.dumps(result, indent=1))


if __name__ == "__main__":
    main()
