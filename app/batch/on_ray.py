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

import numpy as np
import pandas as pd
import pyarrow as pa
import ray.data

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
