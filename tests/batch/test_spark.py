"""Spark gives the batch engine's numbers to the bit, on ``local[2]``, whatever the
partitions and engine calls the rows are cut into; a model that does not verify, or
that changed after the driver pinned its sha256, forecasts nothing.

PySpark is imported inside the fixtures: the default tier, which collects this module
but deselects it, runs without the ``spark`` extra."""

from __future__ import annotations

import dataclasses
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
import pytest

from app.artifact import ArtifactError
from app.batch.engine import BatchForecaster, BatchSpec
from app.runtime.intervals import IntervalSpec
from tests.batch.rows import rows

pytestmark = [pytest.mark.distributed, pytest.mark.timeout(600)]

SORT = [("unique_id", "ascending"), ("ds", "ascending")]
SPEC = BatchSpec(Path("unset"), horizon=6, intervals=IntervalSpec("paths", (80.0, 95.0), (0.1, 0.9), 40), seed=7)


@pytest.fixture(scope="module")
def spark() -> Iterator[Any]:
    """A local[2] Spark session (Java 17) for this module."""
    from app.batch.on_spark import session

    spark = session("local[2]")
    spark.conf.set("spark.sql.shuffle.partitions", "2")
    yield spark
    spark.stop()


@pytest.fixture(scope="module")
def input_rows(tmp_path_factory: pytest.TempPathFactory) -> tuple[pa.Table, Path]:
    """300 series of uneven lengths, and the same rows as a Parquet file with times in
    nanoseconds, as pandas writes them (which Spark cannot read as timestamps)."""
    table = rows(300, length=120)
    path = tmp_path_factory.mktemp("spark") / "rows.parquet"
    pq.write_table(table.set_column(1, "ds", table["ds"].cast(pa.timestamp("ns"))), path)
    return table, path


def test_spark_equals_the_engine_to_the_bit(spark: Any, input_rows: tuple[pa.Table, Path],
                                           tiny_artifact: Path) -> None:
    from app.batch.on_spark import forecast_dataframe, read_rows

    table, path = input_rows
    spec = dataclasses.replace(SPEC, model=tiny_artifact)
    expected = BatchForecaster(spec)(table).sort_by(SORT)
    # Three partitions and engine calls of a few thousand rows: most calls end with a
    # series whose rest arrives in the next Arrow batch.
    answer = forecast_dataframe(read_rows(spark, [path], spec), spec, partitions=3, rows_per_call=4000)
    got = answer.toArrow().sort_by(SORT)
    assert got.num_rows == 300 * 6
    # Spark keeps microseconds: the same instants, cast; every number as it was.
    assert got.equals(expected.cast(got.schema))


def test_the_driver_refuses_a_model_with_another_checksum(spark: Any, input_rows: tuple[pa.Table, Path],
                                                         tiny_artifact: Path) -> None:
    from app.batch.on_spark import forecast_dataframe, read_rows

    spec = dataclasses.replace(SPEC, model=tiny_artifact, sha256="0" * 64)
    with pytest.raises(ArtifactError, match="is not the expected 0{64}"):
        forecast_dataframe(read_rows(spark, [input_rows[1]], spec), spec)


def test_spark_file_by_file_equals_the_engine_to_the_bit(spark: Any, input_rows: tuple[pa.Table, Path],
                                                         tiny_artifact: Path, tmp_path: Path) -> None:
    from app.batch.on_spark import forecast_files

    table, path = input_rows
    spec = dataclasses.replace(SPEC, model=tiny_artifact)
    second = tmp_path / "b.parquet"
    more = rows(3, length=130)
    pq.write_table(more.set_column(0, "unique_id", pc.replace_substring(more["unique_id"], "store-", "other-")), second)
    expected = pa.concat_tables([BatchForecaster(spec)(table), BatchForecaster(spec)(pq.read_table(second))])
    got = forecast_files(spark, [path, second], spec, chunk_series=50).toArrow().sort_by(SORT)
    assert got.num_rows == 303 * 6
    assert got.equals(expected.sort_by(SORT).cast(got.schema))


def test_a_model_changed_after_the_driver_pinned_it_forecasts_nothing(
    spark: Any, input_rows: tuple[pa.Table, Path], tiny_artifact: Path, tmp_path: Path
) -> None:
    """In local mode Spark itself notices first (its copy no longer matches the file);
    on a cluster the executor's check against the pinned sha256 is what refuses it.
    Last in the module: every later task of this session would fetch the changed file."""
    from app.batch.on_spark import forecast_dataframe, read_rows

    # Another file name: Spark ships by name and refuses a second, different model.pt.
    model = tmp_path / "default" / "tampered.pt"
    model.parent.mkdir()
    shutil.copyfile(tiny_artifact, model)
    shutil.copyfile(tiny_artifact.with_name(tiny_artifact.name + ".sha256"), model.with_name(model.name + ".sha256"))
    spec = dataclasses.replace(SPEC, model=model)
    answer = forecast_dataframe(read_rows(spark, [input_rows[1]], spec), spec)
    # Changed after the driver pinned its sha256, before an executor fetches it.
    with spec.model.open("ab") as handle:
        handle.write(b"\0")
    with pytest.raises(Exception, match="tampered.pt exists and does not match contents"):
        answer.collect()

