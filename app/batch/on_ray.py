"""Ray Data: a Dataset of long-format rows in, a Dataset of forecast rows out, with
the batch engine's numbers (so the server's, to the bit).

The engine needs every row of a series in one table. Two ways to give it that:

- :func:`forecast_files`, for files whose series are whole (the input contract of
  ``rnncast batch``): each file goes to an actor that streams it in chunks of whole
  series (app.batch.chunks) through its engine. Nothing is shuffled; memory is bounded
  by the chunk, as on one machine.
- :func:`forecast_dataset`, for rows in any order: rows are hashed by series id into
  groups of many whole series, and ``groupby(group).map_groups`` hands each group to an
  engine. Grouping by the id itself would call the engine once per series: one forward
  pass of one series each, several times slower than passes over thousands
  (bench/BATCH.md). The shuffle moves every row once: at a million series it queued
  gigabytes of blocks (bench/BATCH.md).

Each actor loads and verifies the model once and runs one torch thread.
Ray is an optional extra (``.[ray]``): import this module only to use it.
"""

from __future__ import annotations

import functools
import math
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import ray
import ray.data

from app.batch.chunks import chunks, is_parquet
from app.batch.engine import BatchForecaster, BatchSpec

GROUP = "__rnncast_group"
# Rows per engine call: thousands of series per forward pass, and a group's rows and
# its forecasts stay well under a worker's memory.
ROWS_PER_GROUP = 500_000


def group_of(ids: pa.ChunkedArray | pa.Array, groups: int) -> pa.Array:
    """A group number for each row, from a hash of its series id that every process
    computes alike (pandas' hash has a fixed key; Python's ``hash`` of text does not)."""
    text = ids.cast(pa.string()).to_numpy(zero_copy_only=False)
    return pa.array(pd.util.hash_array(text) % np.uint64(groups), pa.int64())


def _with_group(rows: pa.Table, id_col: str, groups: int) -> pa.Table:
    return rows.append_column(GROUP, group_of(rows[id_col], groups))


class _Engine:
    """What each Ray actor holds: the engine, its model verified and loaded once."""

    def __init__(self, spec: BatchSpec) -> None:
        self.engine = BatchForecaster(spec)

    def __call__(self, rows: pa.Table) -> pa.Table:
        return self.engine(rows.drop_columns([GROUP]))


class _FileEngine:
    """What each actor of :func:`forecast_files` holds: the engine, and how to cut files."""

    def __init__(self, spec: BatchSpec, chunk_series: int) -> None:
        self.engine = BatchForecaster(spec)
        self.columns = spec.columns
        self.chunk_series = chunk_series

    def __call__(self, batch: dict[str, np.ndarray]) -> Iterator[pa.Table]:
        for path in batch["path"]:
            for chunk in chunks([Path(str(path))], self.columns, self.chunk_series):
                yield self.engine(chunk.rows)


def forecast_files(files: list[Path], spec: BatchSpec, workers: int, chunk_series: int = 1000) -> ray.data.Dataset:
    """Forecast rows for every series in ``files`` (each series whole in one file), a
    file per task on ``workers`` actors of one CPU each; every node must read the
    files and ``spec.model`` at these paths."""
    paths = ray.data.from_items([{"path": str(path)} for path in files], override_num_blocks=len(files))
    # All actors from the start: nothing upstream needs a CPU here, and a pool that
    # grows from one stayed at one for a whole run (bench/BATCH.md).
    actors = ray.data.ActorPoolStrategy(min_size=1, max_size=workers, initial_size=min(workers, len(files)))
    return paths.map_batches(_FileEngine, batch_size=1, batch_format="numpy", fn_constructor_args=(spec, chunk_series),
                             compute=actors, num_cpus=1)


def forecast_dataset(
    rows: ray.data.Dataset, spec: BatchSpec, workers: int, rows_per_group: int = ROWS_PER_GROUP
) -> ray.data.Dataset:
    """Forecast rows for every series in ``rows``, on ``workers`` actors of one CPU each.

    ``spec.model`` must be readable at that path on every node (a shared volume, or the
    image): each actor verifies it against ``spec.sha256`` and its recorded checksum.
    """
    groups = max(workers, math.ceil(rows.count() / rows_per_group))
    keyed = rows.map_batches(functools.partial(_with_group, id_col=spec.id_col, groups=groups), batch_format="pyarrow")
    # From one actor up: actors started at once would hold every CPU while the
    # grouping upstream waits for one (a deadlock on a 2-CPU machine).
    actors = ray.data.ActorPoolStrategy(min_size=1, max_size=workers)
    return keyed.groupby(GROUP, num_partitions=groups).map_groups(
        _Engine, batch_format="pyarrow", fn_constructor_args=(spec,), compute=actors, num_cpus=1
    )


def read_rows(files: list[Path], spec: BatchSpec) -> ray.data.Dataset:
    """The rows of Parquet or CSV ``files`` (one format), ids as text and CSV values as numbers."""
    paths = [str(path) for path in files]
    if is_parquet(files[0]):
        return ray.data.read_parquet(paths, columns=spec.columns.wanted)
    return ray.data.read_csv(paths, convert_options=spec.columns.csv_options())


def run_job(spec: BatchSpec, files: list[Path], output: Path, workers: int | None, address: str | None,
            regroup: bool = False, chunk_series: int = 1000) -> None:
    """Forecast ``files`` on the Ray cluster at ``address`` (None: RAY_ADDRESS, else a
    local Ray) with ``workers`` actors (None: one per CPU of the cluster) into a
    directory of Parquet parts: file by file, or with ``regroup`` from rows in any order."""
    ray.init(address=address, include_dashboard=False)
    try:
        count = workers or max(1, int(ray.cluster_resources().get("CPU", 1)))
        if regroup:
            answer = forecast_dataset(read_rows(files, spec), spec, count)
        else:
            answer = forecast_files(files, spec, count, chunk_series)
        # Writing is I/O: a write task that waited for a CPU would wait for an actor to end.
        answer.write_parquet(str(output), ray_remote_args={"num_cpus": 0})
    finally:
        ray.shutdown()
