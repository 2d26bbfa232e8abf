"""Ray Data gives the batch engine's numbers to the bit, on a local Ray of 2 CPUs,
whatever blocks the rows arrive in; its workers refuse a model that does not verify.

Ray is imported inside the fixtures: the default tier, which collects this module but
deselects it, runs without the ``ray`` extra."""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from app.batch.engine import BatchForecaster, BatchSpec
from app.runtime.intervals import IntervalSpec
from tests.batch.rows import rows

pytestmark = [pytest.mark.distributed, pytest.mark.timeout(600)]

SORT = [("unique_id", "ascending"), ("ds", "ascending")]
SPEC = BatchSpec(Path("unset"), horizon=6, intervals=IntervalSpec("paths", (80.0, 95.0), (0.1, 0.9), 40), seed=7)


@pytest.fixture(scope="module")
def local_ray() -> Iterator[Any]:
    """Ray in local mode on 2 CPUs, no dashboard, for this module."""
    import ray

    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False)
    yield ray
    ray.shutdown()


def _blocks(table: pa.Table, count: int) -> list[pa.Table]:
    """``table`` cut into ``count`` slices of equal rows: most cuts fall inside a series."""
    size = -(-table.num_rows // count)
    return [table.slice(start, size) for start in range(0, table.num_rows, size)]


def test_ray_equals_the_engine_to_the_bit(local_ray: Any, tiny_artifact: Path) -> None:
    from app.batch.on_ray import forecast_dataset

    table = rows(300, length=120)
    spec = dataclasses.replace(SPEC, model=tiny_artifact)
    expected = BatchForecaster(spec)(table).sort_by(SORT)
    dataset = local_ray.data.from_arrow(_blocks(table, 7))
    # Small groups, so that several groups, and so both workers, are used.
    answer = forecast_dataset(dataset, spec, workers=2, rows_per_group=table.num_rows // 5)
    got = pa.concat_tables(local_ray.get(answer.to_arrow_refs())).sort_by(SORT)
    assert got.num_rows == 300 * 6
    assert got.equals(expected)


def test_ray_workers_refuse_a_model_with_another_checksum(local_ray: Any, tiny_artifact: Path) -> None:
    from app.batch.on_ray import forecast_dataset

    spec = dataclasses.replace(SPEC, model=tiny_artifact, sha256="0" * 64)
    dataset = local_ray.data.from_arrow(rows(3))
    with pytest.raises(Exception, match="is not the expected 0{64}"):
        forecast_dataset(dataset, spec, workers=1).materialize()


def test_ray_file_by_file_equals_the_engine_to_the_bit(local_ray: Any, tiny_artifact: Path, tmp_path: Path) -> None:
    from app.batch.on_ray import forecast_files

    table = rows(30, length=120)
    spec = dataclasses.replace(SPEC, model=tiny_artifact)
    ids = table["unique_id"].to_pylist()
    cut = ids.index("store-15")  # the first file holds 15 whole series, the second 15
    files = [tmp_path / "a.parquet", tmp_path / "b.parquet"]
    pq.write_table(table.slice(0, cut), files[0])
    pq.write_table(table.slice(cut), files[1])
    answer = forecast_files(files, spec, workers=2, chunk_series=4)
    got = pa.concat_tables(local_ray.get(answer.to_arrow_refs())).sort_by(SORT)
    assert got.num_rows == 30 * 6
    assert got.equals(BatchForecaster(spec)(table).sort_by(SORT))
