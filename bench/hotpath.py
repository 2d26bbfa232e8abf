"""In-process costs of the pieces of rnncast's one-step request, each beside an alternative.

Run pinned to one core by the harness (``taskset -c 0 python -m bench.hotpath``); prints
one JSON object: microseconds per call, the median of several interleaved repeats. These
are the measurements behind the suggestions in bench/RESULTS.md; a shared machine makes
single numbers noisy, so read ratios between neighbours, not absolute values.
"""

from __future__ import annotations

import itertools
import json
import logging
import os
import statistics
import sys
import tempfile
import time
import uuid
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import numpy as np
import orjson
import torch

Timing = dict[str, float]


def per_call_us(fn: Callable[[], object], calls: int, repeats: int = 7) -> float:
    """Median over ``repeats`` of the mean time of ``calls`` calls, in microseconds."""
    samples = []
    for _ in range(repeats):
        started = time.perf_counter()
        for _ in range(calls):
            fn()
        samples.append((time.perf_counter() - started) / calls * 1e6)
    return round(statistics.median(samples), 2)


def per_await_us(make: Callable[[], Awaitable[object]], calls: int, repeats: int = 7) -> float:
    """Like :func:`per_call_us` for coroutines, awaited one after another on uvloop."""
    import uvloop

    async def batch() -> float:
        started = time.perf_counter()
        for _ in range(calls):
            await make()
        return (time.perf_counter() - started) / calls * 1e6

    async def run() -> list[float]:
        return [await batch() for _ in range(repeats)]

    return round(statistics.median(uvloop.run(run())), 2)


def body(values: int) -> bytes:
    """The benchmark body with ``values`` values in its one series."""
    return orjson.dumps({"series": [{"values": [1.0 + (i % 7) / 10 for i in range(values)]}]})


def parsing() -> Timing:
    """Body -> validated request -> float32 rows, for 32 and 10,000 values."""
    from app.api.schemas import ForecastRequest
    from app.runtime.service import to_array
    from bench.servers.ceiling import Body

    out: Timing = {}
    for n, calls in ((32, 3000), (10_000, 30)):
        raw = body(n)
        parsed = ForecastRequest.model_validate_json(raw)
        values = parsed.series[0].values
        out[f"pydantic ForecastRequest.model_validate_json, {n} values"] = per_call_us(
            lambda raw=raw: ForecastRequest.model_validate_json(raw), calls)
        out[f"pydantic ceiling Body.model_validate_json, {n} values"] = per_call_us(
            lambda raw=raw: Body.model_validate_json(raw), calls)
        out[f"orjson.loads + np.asarray(float32), {n} values"] = per_call_us(
            lambda raw=raw: np.asarray(orjson.loads(raw)["series"][0]["values"], np.float32), calls)
        out[f"service.to_array, {n} values"] = per_call_us(
            lambda values=values: to_array(values, 0), calls)
        out[f"np.array(float32) + isfinite, {n} values"] = per_call_us(
            lambda values=values: np.isfinite(np.array(values, np.float32)).all(), calls)
    return out


def responses() -> Timing:
    """Encoding the one-step answer: rnncast's orjson vs FastAPI's default path."""
    from fastapi.encoders import jsonable_encoder
    from starlette.responses import JSONResponse

    from app.api.routes.forecast import json_response

    answer = {"model": {"name": "m", "version": "1"},
              "forecasts": [{"id": None, "value": np.float32(1.25)}]}
    plain = {"model": {"name": "m", "version": "1"}, "forecasts": [{"id": None, "value": 1.25}]}
    return {
        "json_response (orjson, numpy)": per_call_us(lambda: json_response(answer), 5000),
        "JSONResponse(jsonable_encoder(...)) (FastAPI default)": per_call_us(
            lambda: JSONResponse(jsonable_encoder(plain)), 5000),
    }


def middleware() -> Timing:
    """Per-request extras of RequestMiddleware: request id, JSON log line, metrics."""
    from app.api import metrics
    from app.api.logs import JsonFormatter

    logger = logging.getLogger("bench.hotpath.request")
    logger.propagate = False
    with tempfile.NamedTemporaryFile("w", suffix=".log", delete=False) as sink:
        path = sink.name
    handler = logging.FileHandler(path)
    handler.setFormatter(JsonFormatter())
    logger.addHandler(handler)
    logger.setLevel(logging.INFO)
    extra = {"request_id": "x" * 32, "method": "POST", "route": "/v1/forecast",
             "path": "/v1/forecast", "status": 200, "duration_ms": 1.234, "batch_size": 1}
    prefix, counter = os.urandom(6).hex(), itertools.count()
    requests = metrics.REQUESTS.labels("/bench", "POST", "200")
    seconds = metrics.REQUEST_SECONDS.labels("/bench")
    out = {
        "uuid.uuid4().hex": per_call_us(lambda: uuid.uuid4().hex, 20000),
        "prefix + counter request id": per_call_us(lambda: f"{prefix}{next(counter):012x}", 20000),
        "request log line (JsonFormatter -> file)": per_call_us(
            lambda: logger.info("request", extra=extra), 5000),
        "prometheus counter.inc + histogram.observe": per_call_us(
            lambda: (requests.inc(), seconds.observe(0.001)), 20000),
    }
    handler.close()
    Path(path).unlink(missing_ok=True)
    return out


def handoffs() -> Timing:
    """Thread hand-offs per request: FastAPI's thread pool for a plain ``def`` dependency,
    and the batcher's worker thread (with a no-op model)."""
    from starlette.concurrency import run_in_threadpool

    from app.runtime.batcher import Batcher

    def noop() -> None:
        return None

    async def direct() -> None:
        return None

    out = {
        "await async def dependency (no hop)": per_await_us(direct, 5000),
        "await run_in_threadpool(def dependency)": per_await_us(
            lambda: run_in_threadpool(noop), 2000),
    }
    rows = np.zeros((1, 32), np.float32)
    batcher = Batcher(lambda x: x[:, 0].copy(), max_batch_rows=256, name="hotpath")
    start = getattr(batcher, "start", None)  # older Batchers own a thread to start
    if start is not None:
        start()
    out["await Batcher.predict (no-op model)"] = per_await_us(lambda: batcher.predict(rows), 2000)
    batcher.stop()
    return out


def _forward_us(module: Any, rows: int, calls: int, window: int) -> float:
    x = torch.rand(rows, window) + 0.5
    with torch.inference_mode():
        for _ in range(10):
            module(x)
        return per_call_us(lambda: module(x), calls)


def model(model_path: Path) -> Timing:
    """Forward cost per batch size; TorchScript freezing / optimize_for_inference; threads."""
    from app.artifact import read_metadata
    from app.runtime.forecaster import Forecaster

    window = read_metadata(model_path).window
    def load() -> Any:
        return torch.jit.load(str(model_path), map_location="cpu").eval()

    variants = {
        "torch.jit.load": load(),
        "torch.jit.freeze": torch.jit.freeze(load()),
        "torch.jit.optimize_for_inference": torch.jit.optimize_for_inference(load()),
    }
    out: Timing = {}
    for rows, calls in ((1, 1000), (16, 300), (64, 100), (256, 30)):
        for name, module in variants.items():
            out[f"forward b={rows}, {name}"] = _forward_us(module, rows, calls, window)
    forecaster = Forecaster.load(model_path, torch.device("cpu"), "hotpath")
    one = np.full((1, window), 1.0, np.float32)
    out["Forecaster.predict b=1 (numpy in/out)"] = per_call_us(lambda: forecaster.predict(one), 1000)
    for threads in (1, 2):
        torch.set_num_threads(threads)
        out[f"forward b=64, {threads} intra-op thread(s) on one core"] = _forward_us(
            variants["torch.jit.load"], 64, 100, window)
    torch.set_num_threads(1)
    return out


def batch_building() -> Timing:
    """Stacking 64 one-row requests into the batch tensor."""
    parts = [np.random.rand(1, 32).astype(np.float32) for _ in range(64)]
    lists = [p[0].tolist() for p in parts]
    return {
        "np.concatenate(64 arrays) + torch.from_numpy (rnncast)": per_call_us(
            lambda: torch.from_numpy(np.concatenate(parts)), 3000),
        "torch.tensor(64 Python lists) (TorchServe handler style)": per_call_us(
            lambda: torch.tensor(lists, dtype=torch.float32), 3000),
    }


def main() -> int:
    """Print every group as one JSON object."""
    torch.set_num_threads(1)
    model_path = Path(sys.argv[1]) if len(sys.argv) > 1 else Path("bench/out/models/bench32/model.pt")
    logging.disable(logging.NOTSET)
    results = {
        "parsing": parsing(),
        "responses": responses(),
        "middleware": middleware(),
        "handoffs": handoffs(),
        "batch_building": batch_building(),
        "model": model(model_path),
    }
    print(json.dumps(results))
    return 0


if __name__ == "__main__":
    sys.exit(main())
