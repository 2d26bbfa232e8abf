"""A 100,000-series frame through the Python client, beside the same work offline; and
what reading CSV or Parquet costs the server process (pyarrow, imported on first use).

``python -m bench.client_frames [--series 100000] [--values 140] [--model-dir models]``
starts ``rnncast serve`` on loopback with the default limits and prints Markdown.
"""

from __future__ import annotations

import argparse
import io
import time
from pathlib import Path

import httpx
import numpy as np
import pandas as pd
import pyarrow as pa
import torch

from app.client import Client
from app.runtime.forecaster import Forecaster
from app.runtime.frame_forecast import RowsSpec, build_panel, forecast_ahead
from app.runtime.frames.arrow import frame_from_arrow
from app.runtime.intervals import IntervalSpec
from app.runtime.service import Limits
from tests.server import run_server


def frame(series: int, values: int) -> pd.DataFrame:
    """Synthetic daily series of the tutorial's process, shifted phases."""
    rng = np.random.default_rng(0)
    phase = rng.integers(0, 300, (series, 1))
    y = np.sin(0.02 * (np.arange(values)[None, :] + phase)) + 2 * rng.random((series, values))
    return pd.DataFrame({
        "unique_id": np.repeat([f"s{i}" for i in range(series)], values),
        "ds": np.tile(pd.date_range("2025-01-01", periods=values, freq="D").to_numpy(), series),
        "y": y.reshape(-1),
    })


def rss_mib(pid: int) -> float:
    """Resident memory of a process."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def offline_seconds(model: Path, df: pd.DataFrame, horizon: int) -> float:
    """The same forecasts in this process: frames + Forecaster."""
    started = time.perf_counter()
    forecaster = Forecaster.load(model, torch.device("cpu"), "default")
    panel = build_panel(frame_from_arrow(pa.Table.from_pandas(df), "unique_id", "ds", "y"), RowsSpec(),
                        forecaster.window, Limits(max_series=10**7))
    forecast_ahead(forecaster, panel, horizon, IntervalSpec(), 0)
    return time.perf_counter() - started


class Counting(httpx.HTTPTransport):
    """The real transport, counting posts."""

    posts = 0

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        self.posts += request.method == "POST"
        return super().handle_request(request)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--series", type=int, default=100_000)
    parser.add_argument("--values", type=int, default=140, help="per series; at least the model's window")
    parser.add_argument("--model-dir", type=Path, default=Path("models"))
    args = parser.parse_args()
    df = frame(args.series, args.values)
    lines = [f"{args.series:,} series x {args.values} values ({len(df):,} rows), shipped model, default limits.",
             "", "| what | seconds | requests | series/s |", "|---|---|---|---|"]
    work = Path("bench/out/client_frames")
    work.mkdir(parents=True, exist_ok=True)
    with run_server(args.model_dir, work) as server:
        pid = server.process.pid
        before = rss_mib(pid)
        sample = io.StringIO()
        df.iloc[: 20 * args.values].to_csv(sample, index=False)  # 20 whole series
        httpx.post(f"{server.url}/v1/forecast", content=sample.getvalue(), headers={"Content-Type": "text/csv"},
                   timeout=60).raise_for_status()
        after = rss_mib(pid)
        for horizon, options in ((1, {}), (24, {})):
            transport = Counting()
            with Client(server.url, transport=transport, timeout=3600) as client:
                started = time.perf_counter()
                client.forecast(df, horizon, **options)
                seconds = time.perf_counter() - started
            lines.append(f"| client.forecast(h={horizon}) | {seconds:.1f} | {transport.posts} | "
                         f"{args.series / seconds:,.0f} |")
    for horizon in (1, 24):
        seconds = offline_seconds(args.model_dir / "default" / "model.pt", df, horizon)
        lines.append(f"| offline, one process (h={horizon}) | {seconds:.1f} | 0 | {args.series / seconds:,.0f} |")
    lines += ["", f"Server RSS: {before:.0f} MiB ready, {after:.0f} MiB after its first CSV body "
              f"(pyarrow loaded on first use: +{after - before:.0f} MiB)."]
    print("\n".join(lines))


if __name__ == "__main__":
    main()
