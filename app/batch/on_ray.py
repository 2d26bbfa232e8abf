"""Ray Data: a Dataset of long-format rows in, a Dataset of forecast rows out, with
the batch engine's numbers (so the server's, to the bit).

The engine needs every row of a series in one table. Rows are hashed by series id
into groups of many whole series, and ``groupby(group).map_groups`` hands each group
to an actor that loaded and verified the model once, with one torch thread. Grouping
by the id itself would call the engine once per series: one forward pass of one
series each, several times slower than passes over thousands (bench/BATCH.md).

Ray is an optional extra (``.[ray]``): import this module only to use it.
"""

from __future__ import annotations

import functools
import math
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.csv as pa_csv
import ray
import ray.data

from app.batch.chunks import is_parquet
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
    wanted = [name for name in (spec.id_col, spec.time_col, spec.target_col) if name]
    if is_parquet(files[0]):
        return ray.data.read_parquet(paths, columns=wanted)
    types = {spec.id_col: pa.string(), spec.target_col: pa.float64()}
    options = pa_csv.ConvertOptions(column_types=types, include_columns=wanted)
    return ray.data.read_csv(paths, convert_options=options)


def run_job(spec: BatchSpec, files: list[Path], output: Path, workers: int | None, address: str | None) -> None:
    """Forecast ``files`` on the Ray cluster at ``address`` (None: RAY_ADDRESS, else a
    local Ray) with ``workers`` actors (None: one per CPU of the cluster) into a
    directory of Parquet parts."""
    ray.init(address=address, include_dashboard=False)
    try:
        count = workers or max(1, int(ray.cluster_resources().get("CPU", 1)))
        forecast_dataset(read_rows(files, spec), spec, count).write_parquet(str(output))
    finally:
        ray.shutdown()
