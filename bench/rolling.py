"""Long requests: end-to-end HTTP time against the raw compute of the same work.

- rolling: horizon 1000 for 1000 series in one POST /v1/forecast/rolling;
- walk-forward: one 10,000-point series with ``walk_forward: true`` (horizon 1).

The raw compute runs in a separate process pinned to the server's core with one
thread: ``torch.jit.load`` of the same file and the same recursion (step k feeds the
last ``window`` values of history + forecasts so far), written here independently of
``app.runtime``. The HTTP side runs on the harness's core against a live ``rnncast
serve``; its answers are compared with the raw ones.

    python -m bench.rolling compute --model M --inputs DIR   # the raw side (internal)
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt
import orjson

from bench.procs import HOST, ServerSpec, serving

Array = npt.NDArray[np.float32]


@dataclass(frozen=True)
class LongWork:
    """Sizes of the two long requests."""

    series: int = 1000
    horizon: int = 1000
    points: int = 10_000
    rolling_repeats: int = 2  # samples per side; one rolling request is ~15-40 s here
    walk_repeats: int = 3
    seed: int = 0


def make_inputs(work: LongWork, window: int, directory: Path) -> tuple[Array, Array]:
    """Seeded histories (series, window) and one long series (points,), saved as .npy."""
    rng = np.random.default_rng(work.seed)
    t = np.arange(work.points + window)
    phase = rng.uniform(0, 100, size=(work.series, 1))
    histories = np.sin(0.02 * (t[:window] + phase)) + 2 * rng.random((work.series, window))
    long_series = np.sin(0.02 * t[: work.points]) + 2 * rng.random(work.points)
    directory.mkdir(parents=True, exist_ok=True)
    np.save(directory / "histories.npy", histories.astype(np.float32))
    np.save(directory / "long_series.npy", long_series.astype(np.float32))
    return histories.astype(np.float32), long_series.astype(np.float32)


def raw_rolling(module: Any, histories: Array, horizon: int) -> Array:
    """Recursive forecasts with a plain TorchScript module: (rows, window) -> (rows, horizon)."""
    import torch

    rows, window = histories.shape
    buffer = torch.empty(rows, window + horizon)
    buffer[:, :window] = torch.from_numpy(histories)
    with torch.inference_mode():
        for step in range(horizon):
            buffer[:, window + step] = module(buffer[:, step : step + window]).reshape(-1)
    return buffer[:, window:].numpy()  # type: ignore[no-any-return]


def raw_walk_forward(module: Any, values: Array, window: int) -> Array:
    """One-step forecasts of values[window:], each from the actual values before it."""
    import torch

    with torch.inference_mode():
        windows = torch.from_numpy(values[:-1]).unfold(0, window, 1)
        return module(windows).reshape(-1).numpy()  # type: ignore[no-any-return]


def _best_of(repeats: int, fn: Any) -> tuple[float, Any]:
    best, result = float("inf"), None
    for _ in range(repeats):
        started = time.perf_counter()
        result = fn()
        best = min(best, time.perf_counter() - started)
    return best, result


def compute_main(argv: Sequence[str]) -> int:
    """The raw side, run pinned by the harness: prints timings as JSON, saves results."""
    import torch

    parser = argparse.ArgumentParser()
    parser.add_argument("--model", type=Path, required=True)
    parser.add_argument("--inputs", type=Path, required=True)
    parser.add_argument("--horizon", type=int, required=True)
    parser.add_argument("--rolling-repeats", type=int, default=1)
    parser.add_argument("--walk-repeats", type=int, default=3)
    args = parser.parse_args(argv)
    torch.set_num_threads(1)
    extra = {"metadata.json": ""}
    module = torch.jit.load(str(args.model), map_location="cpu", _extra_files=extra).eval()
    window = int(json.loads(extra["metadata.json"])["window"])
    histories = np.load(args.inputs / "histories.npy")
    long_series = np.load(args.inputs / "long_series.npy")
    for rows in (1, 2, 8, 1, 64, 1):  # the same warm-up the server does
        raw_rolling(module, np.zeros((rows, window), np.float32), 1)
    rolling_s, rolling = _best_of(
        args.rolling_repeats, lambda: raw_rolling(module, histories, args.horizon)
    )

    def walk() -> Array:
        # The same work as the HTTP request: walk-forward plus its one-step forecast.
        raw_rolling(module, long_series[None, -window:], 1)
        return raw_walk_forward(module, long_series, window)

    walk_s, walked = _best_of(args.walk_repeats, walk)
    np.save(args.inputs / "raw_rolling.npy", rolling)
    np.save(args.inputs / "raw_walk.npy", walked)
    print(json.dumps({"rolling_s": rolling_s, "walk_forward_s": walk_s}))
    return 0


def _post(port: int, path: str, payload: bytes, timeout: float) -> tuple[float, dict[str, Any]]:
    """POST and read the whole answer; returns (seconds until the last byte, parsed JSON)."""
    import http.client

    conn = http.client.HTTPConnection(HOST, port, timeout=timeout)
    try:
        started = time.perf_counter()
        conn.request("POST", path, body=payload, headers={"Content-Type": "application/json"})
        response = conn.getresponse()
        body = response.read()
        elapsed = time.perf_counter() - started
    finally:
        conn.close()
    if response.status != 200:
        raise RuntimeError(f"{path} answered {response.status}: {body[:300]!r}")
    return elapsed, orjson.loads(body)


def _http_side(spec: ServerSpec, histories: Array, long_series: Array, work: LongWork, log_dir: Path) -> dict[str, Any]:
    rolling_body = orjson.dumps({
        "series": [{"values": row} for row in histories.tolist()], "horizon": work.horizon,
    })
    walk_body = orjson.dumps({
        "series": [{"values": long_series.tolist()}], "horizon": 1, "walk_forward": True,
    })
    out: dict[str, Any] = {}
    with serving(spec, log_dir) as running:
        for key, body, repeats in (
            ("rolling", rolling_body, work.rolling_repeats),
            ("walk_forward", walk_body, work.walk_repeats),
        ):
            times, answer = [], None
            for _ in range(repeats):
                seconds, answer = _post(spec.port, "/v1/forecast/rolling", body, timeout=900)
                times.append(seconds)
            out[f"{key}_s"] = min(times)
            out[f"{key}_first_s"] = times[0]
            out[f"{key}_answer"] = answer
            out[f"{key}_request_bytes"] = len(body)
        running.stop()
    return out


def run(spec: ServerSpec, model: Path, python: Path, work: LongWork, directory: Path, log_dir: Path) -> dict[str, Any]:
    """Raw compute (pinned subprocess) then HTTP against ``spec``; ratios and agreement."""
    window = len(json.loads(spec.body)["series"][0]["values"])
    histories, long_series = make_inputs(work, window, directory)

    def raw_side() -> dict[str, float]:
        done = subprocess.run(
            ["taskset", "-c", spec.cpus, str(python), "-m", "bench.rolling", "compute",
             "--model", str(model), "--inputs", str(directory), "--horizon", str(work.horizon),
             # Half the samples before the HTTP side, half after it.
             "--rolling-repeats", str(max(1, work.rolling_repeats // 2)),
             "--walk-repeats", str(work.walk_repeats)],
            capture_output=True, text=True, check=True, timeout=1800,
            cwd=Path(__file__).parent.parent,
        )
        return dict(json.loads(done.stdout.strip().splitlines()[-1]))

    # Raw compute before and after the HTTP side, so drift on a shared machine hits both.
    first = raw_side()
    http = _http_side(spec, histories, long_series, work, log_dir)
    second = raw_side()
    raw = {key: min(first[key], second[key]) for key in first}
    mean = np.array([f["mean"] for f in http["rolling_answer"]["forecasts"]], dtype=np.float32)
    walked = np.array(http["walk_forward_answer"]["forecasts"][0]["walk_forward"]["predictions"],
                      dtype=np.float32)
    raw_mean, raw_walk = np.load(directory / "raw_rolling.npy"), np.load(directory / "raw_walk.npy")

    def compared(kind: str, answer: np.ndarray, raw_answer: np.ndarray) -> dict[str, float]:
        return {
            "raw_s": raw[f"{kind}_s"], "http_s": http[f"{kind}_s"],
            "http_first_s": http[f"{kind}_first_s"],
            "ratio": http[f"{kind}_s"] / raw[f"{kind}_s"],
            "request_bytes": http[f"{kind}_request_bytes"],
            "max_abs_diff": float(np.abs(answer - raw_answer).max()),
        }

    return {
        "work": vars(work) | {"window": window},
        "rolling": compared("rolling", mean, raw_mean),
        "walk_forward": compared("walk_forward", walked, raw_walk),
    }


if __name__ == "__main__":
    if len(sys.argv) > 1 and sys.argv[1] == "compute":
        sys.exit(compute_main(sys.argv[2:]))
    sys.exit("usage: python -m bench.rolling compute ... (the harness runs the rest)")
