"""What big request bodies cost other clients (issue 10: at most 100 ms).

    .venv/bin/python -m bench.bodies [--repeat 5] [--light 200]

In process: the longest stretch the event loop is held (a ticker sleeping 1 ms notes
the longest gap, in wall and in CPU time) while one body is parsed, sliced (``app.api.bodies.parse_body``, as
the server does) and whole (one ``model_validate_json`` call on the loop, as before),
for several body shapes; the median and the worst of ``--repeat`` runs.

Against ``rnncast serve`` (default settings, 1 CPU): a light client's one-step
latency idle, then while another client posts the 8 MiB integer body back to back
(its last value is invalid, so every post is parsed whole and answered 422: the
figure is the parsing's, not a forecast's). Prints JSON.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import signal
import statistics
import time
from collections.abc import Callable
from typing import Any

import httpx
import numpy as np
import orjson
from pydantic import BaseModel

from app.api.bodies import parse_body
from app.api.schemas import RollingRequest, TimedSeriesIn
from bench.hostile import REPO, beside, light_latencies_ms, start


def _shapes() -> dict[str, bytes]:
    rng = random.Random(0)

    def body(series: list[dict[str, Any]]) -> bytes:
        return orjson.dumps({"horizon": 1, "series": series})

    return {
        "10,000 series x 140 integers (8 MiB)":
            body([{"values": [rng.randrange(100_000) for _ in range(140)]} for _ in range(10_000)]),
        "10,000 series x 100 floats":
            body([{"values": [round(rng.gauss(50, 10), 6) for _ in range(100)]} for _ in range(10_000)]),
        "10 series x 90,000 floats": body([{"values": [rng.random() for _ in range(90_000)]} for _ in range(10)]),
    }


async def _held(parse: Callable[[], Any]) -> tuple[float, float]:
    """Longest gap (ms) a 1 ms ticker sees while ``parse()`` is awaited: in wall time,
    and in the loop thread's CPU time (which leaves out the time the OS gave other
    processes: on a shared machine that is most of the wall figure)."""
    worst, worst_cpu, done = 0.0, 0.0, False

    async def ticker() -> None:
        nonlocal worst, worst_cpu
        last, last_cpu = time.perf_counter(), time.thread_time()
        while not done:
            await asyncio.sleep(0.001)
            now, now_cpu = time.perf_counter(), time.thread_time()
            worst, last = max(worst, now - last), now
            worst_cpu, last_cpu = max(worst_cpu, now_cpu - last_cpu), now_cpu

    task = asyncio.create_task(ticker())
    await asyncio.sleep(0.01)
    try:
        await parse()
    except Exception:  # noqa: BLE001,S110 - a refusal is a parse's outcome too
        pass
    done = True
    await task
    return worst * 1000, worst_cpu * 1000


def in_process(repeat: int) -> dict[str, dict[str, float]]:
    """Loop held (ms) per body shape and way of parsing: median and worst of ``repeat``."""
    async def sliced(body: bytes) -> BaseModel:
        return await parse_body(RollingRequest, body, key="series", item=TimedSeriesIn,
                                max_items=10_000, max_values=100_000)

    async def whole(body: bytes) -> BaseModel:
        return RollingRequest.model_validate_json(body)

    out = {}
    for name, body in _shapes().items():
        for way, parse in (("sliced", sliced), ("whole", whole)):
            held = [asyncio.run(_held(lambda: parse(body))) for _ in range(repeat)]  # noqa: B023
            wall, cpu = [h[0] for h in held], [h[1] for h in held]
            out[f"{name}, {way}"] = {"median_ms": round(statistics.median(wall), 1), "max_ms": round(max(wall), 1),
                                     "cpu_median_ms": round(statistics.median(cpu), 1),
                                     "cpu_max_ms": round(max(cpu), 1)}
    return out


def served(light: int) -> dict[str, Any]:
    shape = _shapes()["10,000 series x 140 integers (8 MiB)"]
    end = shape.rindex(b"]}]}")  # the end of the last series' values
    big = shape[:end] + b',"x"' + shape[end:]  # one invalid value, last
    proc, url = start(REPO, "0")
    try:
        headers = {"content-type": "application/json"}
        with httpx.Client(base_url=url, timeout=120) as client:
            idle = light_latencies_ms(client, light)
            busy, statuses = beside(
                url, lambda poster: poster.post("/v1/forecast/rolling", content=big, headers=headers).status_code,
                lambda: light_latencies_ms(client, light), timeout=120,
            )
        return {
            "big_body_mib": round(len(big) / 2**20, 2),
            "big_posts": len(statuses), "big_statuses": sorted(set(statuses)),
            "idle_p50_ms": round(float(np.median(idle)), 1), "idle_max_ms": round(max(idle), 1),
            "busy_p50_ms": round(float(np.median(busy)), 1), "busy_p99_ms": round(float(np.percentile(busy, 99)), 1),
            "busy_max_ms": round(max(busy), 1),
            "worst_extra_ms": round(max(busy) - float(np.median(idle)), 1),
        }
    finally:
        os.killpg(proc.pid, signal.SIGKILL)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--light", type=int, default=200, help="light requests idle and while big bodies flow")
    args = parser.parse_args()
    print(json.dumps({"in_process": in_process(args.repeat), "served": served(args.light)}, indent=1))


if __name__ == "__main__":
    main()
