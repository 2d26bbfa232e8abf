"""DataFrames on the wire: split a long-format frame into requests that fit the
server's limits, write each as Parquet, read the Parquet answers back and join them.

Knows only the wire format (the documented routes, options, limits and budget).
"""

from __future__ import annotations

import io
import json
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

PARQUET = "application/vnd.apache.parquet"
# Parquet compresses unevenly; aim below the body limit and halve a chunk that still misses.
_BODY_SHARE = 0.7
_SAMPLE_ROWS = 20_000


@dataclass(frozen=True)
class ServerLimits:
    """What one request may hold (``GET /v1/limits``)."""

    max_body_bytes: int
    max_series: int
    max_compute_rows: int


@dataclass(frozen=True)
class Chunk:
    """Series ``first .. last - 1`` of a frame sorted by series."""

    frame: pd.DataFrame
    bounds: np.ndarray[Any, np.dtype[np.int64]]
    first: int
    last: int

    @property
    def rows(self) -> pd.DataFrame:
        """The chunk's rows."""
        return self.frame.iloc[int(self.bounds[self.first]) : int(self.bounds[self.last])]

    @property
    def series(self) -> int:
        """Series in the chunk."""
        return self.last - self.first

    def halves(self) -> tuple[Chunk, Chunk]:
        """The chunk split into two by series."""
        middle = (self.first + self.last) // 2
        return Chunk(self.frame, self.bounds, self.first, middle), Chunk(self.frame, self.bounds, middle, self.last)


@dataclass(frozen=True)
class Part:
    """One request's answer: its rows and the metadata beside them."""

    rows: pd.DataFrame
    meta: dict[str, Any]


def by_series(frame: pd.DataFrame, id_col: str) -> tuple[pd.DataFrame, np.ndarray[Any, np.dtype[np.int64]]]:
    """The frame with each series' rows together (series in order of first appearance,
    rows in their order), and where each series starts."""
    if id_col not in frame.columns:
        raise KeyError(f"the frame has no column {id_col!r}")
    codes, _ = pd.factorize(frame[id_col], sort=False)
    order = np.argsort(codes, kind="stable")
    counts = np.bincount(codes)
    return frame.iloc[order], np.concatenate([[0], np.cumsum(counts)]).astype(np.int64)


def to_parquet(rows: pd.DataFrame) -> bytes:
    """A request body."""
    sink = io.BytesIO()
    pq.write_table(pa.Table.from_pandas(rows, preserve_index=False), sink)
    return sink.getvalue()


def plan(frame: pd.DataFrame, bounds: np.ndarray[Any, np.dtype[np.int64]], limits: ServerLimits,
         cost_per_series: int) -> list[Chunk]:
    """Consecutive groups of whole series, each within the series limit, the compute
    budget (``cost_per_series`` model rows each) and, by a sampled estimate, the body limit."""
    sample = frame.iloc[:_SAMPLE_ROWS]
    bytes_per_row = max(len(to_parquet(sample)) / max(len(sample), 1), 1.0)
    max_rows = int(limits.max_body_bytes * _BODY_SHARE / bytes_per_row)
    max_series = max(1, min(limits.max_series, limits.max_compute_rows // max(cost_per_series, 1)))
    chunks, first = [], 0
    count = len(bounds) - 1
    while first < count:
        last = min(count, first + max_series)
        # as many whole series as fit the rows allowance (at least one)
        fit = int(np.searchsorted(bounds, bounds[first] + max_rows, side="right")) - 1
        last = max(first + 1, min(last, fit))
        chunks.append(Chunk(frame, bounds, first, last))
        first = last
    return chunks


def from_parquet(content: bytes) -> Part:
    """An answer: its rows, and the metadata the server put in the file."""
    table = pq.read_table(io.BytesIO(content))
    meta = json.loads((table.schema.metadata or {}).get(b"rnncast", b"{}"))
    return Part(table.to_pandas(), meta)


def join(parts: Sequence[Part]) -> Part:
    """The answers of a split frame as one: rows in order, metadata merged."""
    rows = pd.concat([part.rows for part in parts], ignore_index=True)
    meta = dict(parts[0].meta)
    meta["filled"] = [item for part in parts for item in part.meta.get("filled", [])]
    meta["freq"] = sorted({freq for part in parts for freq in part.meta.get("freq", [])})
    if "anomalies" in meta:
        meta["anomalies"] = sum(part.meta["anomalies"] for part in parts)
    if "metrics" in meta:
        meta["metrics"] = join_metrics([part.meta["metrics"]["series"] for part in parts])
    return Part(rows, meta)


def join_metrics(series_parts: Sequence[list[dict[str, Any]]]) -> dict[str, Any]:
    """Per-series backtest scores of all parts, and the overall scores they add up to:
    point-weighted means (RMSE through its square), MASE averaged over series."""
    table = pd.DataFrame([row for part in series_parts for row in part])
    weights = table["points"].to_numpy(float)
    overall: dict[str, float | None] = {"points": float(weights.sum())}
    for name in table.columns.drop(["unique_id", "points"]):
        values = table[name].to_numpy(float)
        usable = np.isfinite(values) & (weights > 0)
        if name == "mase":
            overall[name] = float(values[usable].mean()) if usable.any() else None
        elif usable.any():
            squared = name == "rmse"
            mean = np.average(values[usable] ** (2 if squared else 1), weights=weights[usable])
            overall[name] = float(np.sqrt(mean) if squared else mean)
        else:
            overall[name] = None
    return {"series": table, "overall": overall}
