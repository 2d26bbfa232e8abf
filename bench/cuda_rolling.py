"""Rolling forecasts on CUDA against the CPU: 10,000 series x horizon 1000 by default.

Times both the bare recursion on a ``torch.jit.load``-ed module and rnncast's own
``Forecaster.rolling`` (what the server runs), checks CUDA and CPU agree, prints JSON.
Without CUDA it says so and exits 0; ``--cpu-only`` then still runs the CPU side (use
small sizes: the CPU needs ~20 us per row here).

    python -m bench.cuda_rolling                                  # on a GPU machine
    python -m bench.cuda_rolling --cpu-only --series 200 --horizon 50
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch

DEFAULT_MODEL = Path(__file__).parent / "out" / "models" / "bench32" / "model.pt"


def recursive(module: Any, start: torch.Tensor, horizon: int) -> torch.Tensor:
    """Step k feeds the last ``window`` values of history + forecasts so far."""
    rows, window = start.shape
    buffer = torch.empty(rows, window + horizon, device=start.device)
    buffer[:, :window] = start
    with torch.inference_mode():
        for step in range(horizon):
            buffer[:, window + step] = module(buffer[:, step : step + window]).reshape(-1)
    return buffer[:, window:]


def _timed(fn: Callable[[], Any], device: torch.device) -> tuple[float, Any]:
    if device.type == "cuda":
        torch.cuda.synchronize(device)
    started = time.perf_counter()
    result = fn()
    if device.type == "cuda":
        torch.cuda.synchronize(device)
    return time.perf_counter() - started, result


def measure(model: Path, device: torch.device, histories: np.ndarray, horizon: int) -> dict[str, Any]:
    """Bare recursion and Forecaster.rolling on ``device``; seconds and rows per second."""
    from app.runtime.forecaster import Forecaster

    module = torch.jit.load(str(model), map_location=device).eval()
    start = torch.from_numpy(histories).to(device)
    recursive(module, start, 3)  # warm-up at the real shape: the profiling executor specialises
    bare_s, bare = _timed(lambda: recursive(module, start, horizon), device)
    forecaster = Forecaster.load(model, device, "cuda-bench")
    runtime_s, runtime = _timed(lambda: forecaster.rolling(histories, horizon), device)
    rows = len(histories) * horizon
    return {
        "device": str(device),
        "bare_s": round(bare_s, 3),
        "bare_rows_per_s": round(rows / bare_s),
        "forecaster_s": round(runtime_s, 3),
        "forecaster_rows_per_s": round(rows / runtime_s),
        "bare_vs_forecaster_max_abs_diff": float(np.abs(bare.cpu().numpy() - runtime).max()),
        "_result": runtime,
    }


def main(argv: Sequence[str] | None = None) -> int:
    """Parse flags, run CUDA (if present) and CPU, print one JSON object."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", type=Path, default=DEFAULT_MODEL)
    parser.add_argument("--series", type=int, default=10_000)
    parser.add_argument("--horizon", type=int, default=1000)
    parser.add_argument("--cpu-series", type=int, help="series for the CPU side (default: --series)")
    parser.add_argument("--threads", type=int, default=0, help="CPU intra-op threads (0: torch's)")
    parser.add_argument("--cpu-only", action="store_true", help="without CUDA, still time the CPU")
    args = parser.parse_args(argv)
    if not args.model.is_file():
        sys.exit(f"{args.model} is missing: run `python -m bench.export_model` first")
    has_cuda = torch.cuda.is_available()
    if not has_cuda and not args.cpu_only:
        print(json.dumps({"skipped": "CUDA is not available on this machine"}))
        return 0
    if args.threads:
        torch.set_num_threads(args.threads)
    window = int(json.loads(_metadata(args.model))["window"])
    rng = np.random.default_rng(0)
    histories = (1 + rng.random((args.series, window))).astype(np.float32)
    report: dict[str, Any] = {"series": args.series, "horizon": args.horizon, "window": window}
    cuda = None
    if has_cuda:
        cuda = measure(args.model, torch.device("cuda"), histories, args.horizon)
        report["cuda"] = cuda
    cpu_rows = args.cpu_series or args.series
    cpu = measure(args.model, torch.device("cpu"), histories[:cpu_rows], args.horizon)
    report["cpu"] = cpu | {"series": cpu_rows, "threads": torch.get_num_threads()}
    if cuda is not None:
        gap = np.abs(cuda["_result"][:cpu_rows] - cpu["_result"]).max()
        report["cuda_vs_cpu_max_abs_diff"] = float(gap)
        report["speedup_rows_per_s"] = round(cuda["forecaster_rows_per_s"] / cpu["forecaster_rows_per_s"], 1)
    else:
        report["cuda"] = {"skipped": "CUDA is not available on this machine"}
    for side in ("cuda", "cpu"):
        report[side].pop("_result", None)
    print(json.dumps(report, indent=1))
    return 0


def _metadata(model: Path) -> str:
    extra = {"metadata.json": ""}
    torch.jit.load(str(model), map_location="cpu", _extra_files=extra)
    return extra["metadata.json"]


if __name__ == "__main__":
    sys.exit(main())
