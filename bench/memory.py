"""The worst accepted request's RSS growth, per request kind, with default settings
(issue 10: at most 512 MiB).

    .venv/bin/python -m bench.memory [--kinds one_step rolling_mean ...]

For each kind, a fresh ``rnncast serve`` (one worker, default settings) answers one
light request, its peak RSS (VmHWM) is reset to its current RSS (``clear_refs``),
then it answers one request sized to the default limits (8 MiB body, 10,000 series,
100,000 values a series, 5M rows of compute and output, 64 MiB answer): the growth is
the peak minus the RSS just before. Every request must be answered 200 (accepted).
Prints JSON.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import signal
import time
from pathlib import Path
from typing import Any

import httpx
import orjson

from bench.hostile import LIGHT, REPO, start
from bench.procs import status_kib


def _values(n: int, phase: int = 0) -> list[float]:
    # Two decimals keep the bodies small: the body limit, not the budget, bounds
    # the series-heavy kinds.
    return [round(math.sin(0.05 * t + phase) + 2, 2) for t in range(n)]


def _series(count: int, length: int, **extra: Any) -> list[dict[str, Any]]:
    return [{"id": f"s{i}", "values": _values(length, i), **extra} for i in range(count)]


# kind: (route, body); each as large as the default limits accept.
KINDS: dict[str, tuple[str, dict[str, Any]]] = {
    "one_step": ("/v1/forecast", {"series": _series(10_000, 140)}),
    "v2_infer": ("/v2/models/default/infer", {"inputs": [
        {"name": "input__0", "shape": [10_000, 128], "datatype": "FP32", "data": _values(10_000 * 128)}]}),
    "rolling_mean": ("/v1/forecast/rolling", {"series": _series(1000, 140), "horizon": 4000}),
    "rolling_quantiles": ("/v1/forecast/rolling", {"series": _series(400, 140), "horizon": 100, "num_samples": 1,
                                                   "quantiles": [round(0.01 * q, 2) for q in range(1, 100)]}),
    "rolling_paths": ("/v1/forecast/rolling", {"series": _series(10, 140), "horizon": 1000, "num_samples": 490,
                                               "level": [80, 95]}),
    "rolling_timestamps": ("/v1/forecast/rolling", {"series": _series(300, 140, start="2026-01-01", freq="h"),
                                                    "horizon": 4000}),
    "walk_forward": ("/v1/forecast/rolling", {"series": _series(16, 100_000), "horizon": 1, "walk_forward": True}),
    "backtest": ("/v1/forecast/backtest", {"series": _series(100, 2000), "h": 24, "n_windows": 19, "level": [80]}),
    "anomalies": ("/v1/anomalies", {"series": _series(3, 100_000)}),
}


def _status_kib(pid: int, field: str) -> int:
    kib = status_kib(pid, field)
    if kib is None:
        raise RuntimeError(f"the server ({pid}) is gone")
    return kib


def measure(kind: str) -> dict[str, Any]:
    route, body = KINDS[kind]
    payload = orjson.dumps(body)
    proc, url = start(REPO, "0,1")
    try:
        with httpx.Client(base_url=url, timeout=600) as client:
            client.post("/v1/forecast", json=LIGHT).raise_for_status()
            Path(f"/proc/{proc.pid}/clear_refs").write_text("5")  # VmHWM := VmRSS
            before = _status_kib(proc.pid, "VmRSS")
            started = time.perf_counter()
            response = client.post(route, content=payload, headers={"content-type": "application/json"})
            seconds = time.perf_counter() - started
            peak = _status_kib(proc.pid, "VmHWM")
        return {
            "route": route, "status": response.status_code, "body_mib": round(len(payload) / 2**20, 2),
            "answer_mib": round(len(response.content) / 2**20, 2), "seconds": round(seconds, 1),
            "rss_before_mib": round(before / 1024), "peak_mib": round(peak / 1024),
            "growth_mib": round((peak - before) / 1024),
            **({} if response.status_code == 200 else {"detail": response.text[:300]}),
        }
    finally:
        os.killpg(proc.pid, signal.SIGKILL)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--kinds", nargs="*", choices=sorted(KINDS), default=list(KINDS))
    args = parser.parse_args()
    print(json.dumps({kind: measure(kind) for kind in args.kinds}, indent=1))


if __name__ == "__main__":
    main()
