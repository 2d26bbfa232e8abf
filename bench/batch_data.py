"""Synthetic long-format series for the batch benchmark, written as Parquet parts of
whole series (the layout ``rnncast batch`` streams).

Five shapes, a fifth of the series each: daily seasonality with a trend, weekly
seasonality that grows with the level, a random walk, intermittent demand (mostly
zeros), and a level shift. Lengths vary between 200 and 400 points per series; every
part is generated from its own seed, so any part can be rebuilt alone.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

SHAPES = ("seasonal_trend", "multiplicative", "random_walk", "intermittent", "level_shift")
MIN_POINTS, MAX_POINTS = 200, 400
START = np.datetime64("2025-01-01T00:00", "ns")
HOUR = np.timedelta64(1, "h")
ROW_GROUP = 1 << 17  # rows: a reader holds one row group of a column at a time


def _shapes(rng: np.random.Generator, count: int) -> np.ndarray:
    """(count, MAX_POINTS) values, shape by row position modulo the number of shapes."""
    t = np.arange(MAX_POINTS)[None, :]
    phase = rng.uniform(0, 2 * np.pi, (count, 1))
    noise = rng.normal(0, 1, (count, MAX_POINTS))
    level = rng.uniform(5, 50, (count, 1))
    kind = np.arange(count)[:, None] % len(SHAPES)
    seasonal_trend = level + 0.02 * t + 3 * np.sin(2 * np.pi * t / 24 + phase) + noise
    multiplicative = (level + 0.05 * t) * (1 + 0.3 * np.sin(2 * np.pi * t / 168 + phase)) + noise
    random_walk = level + np.cumsum(noise, axis=1)
    intermittent = np.where(rng.random((count, MAX_POINTS)) < 0.2, rng.poisson(4, (count, MAX_POINTS)), 0.0)
    level_shift = level + np.where(t > rng.integers(50, 150, (count, 1)), 10.0, 0.0) + noise
    stacked = np.stack([seasonal_trend, multiplicative, random_walk, intermittent, level_shift])
    chosen: np.ndarray = np.take_along_axis(stacked, kind[None, :, :], axis=0)[0]
    return chosen


def part(first: int, count: int, seed: int) -> pa.Table:
    """Series ``first .. first + count - 1`` (ids ``s0000000``...), rows grouped by series."""
    rng = np.random.default_rng(seed)
    lengths = rng.integers(MIN_POINTS, MAX_POINTS + 1, count)
    values = _shapes(rng, count)
    kept = np.arange(MAX_POINTS)[None, :] < lengths[:, None]
    names = np.array([f"s{first + i:07d}" for i in range(count)])
    ids = pa.DictionaryArray.from_arrays(pa.array(np.repeat(np.arange(count, dtype=np.int32), lengths)),
                                         pa.array(names))
    steps = np.broadcast_to(np.arange(MAX_POINTS), values.shape)[kept]
    return pa.table({"unique_id": ids, "ds": START + steps * HOUR, "y": values[kept].astype(np.float64)})


def generate(out: Path, series: int, per_part: int) -> list[Path]:
    """Write ``series`` series in parts of ``per_part`` (kept when already there)."""
    out.mkdir(parents=True, exist_ok=True)
    paths = []
    for index, first in enumerate(range(0, series, per_part)):
        path = out / f"part-{index:05d}.parquet"
        if not path.is_file():
            hidden = path.with_name(f".{path.name}.tmp")
            pq.write_table(part(first, min(per_part, series - first), seed=index), hidden, row_group_size=ROW_GROUP)
            hidden.rename(path)
        paths.append(path)
    return paths
