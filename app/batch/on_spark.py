"""Spark: a DataFrame of long-format rows in, a DataFrame of forecast rows out, with
the batch engine's numbers (so the server's, to the bit).

The engine needs every row of a series in one table. Two ways to give it that:

- :func:`forecast_files`, for files whose series are whole (the input contract of
  ``rnncast batch``): a task per file streams it in chunks of whole series
  (app.batch.chunks) through the engine. Nothing is shuffled.
- :func:`forecast_dataframe`, for rows in any order: rows are partitioned by series id
  and sorted by it within each partition, then ``mapInArrow`` streams each partition's
  Arrow batches through the engine: batches are gathered to ``ROWS_PER_CALL`` rows, cut
  at the last series boundary, and the series that straddles the cut waits for the next
  batch. Grouping by series with ``groupBy(id).applyInArrow`` gives the same rows but
  calls the engine once per series, which bench/BATCH.md measures to be several times
  slower. The Arrow forms of ``mapInPandas``/``applyInPandas`` are used because the
  engine takes Arrow tables: no pandas round trip that could change a type.

The driver ships the artifact and its checksum file to the executors
(``SparkContext.addFile``, as ``spark-submit --files`` does) and pins the sha256 it
computed; each executor's Python worker verifies its copy against it before it loads
the model, once per worker process.

PySpark is an optional extra (``.[spark]``): import this module only to use it.
"""

from __future__ import annotations

import dataclasses
import functools
import os
import shutil
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
from pyspark import SparkFiles
from pyspark.sql import DataFrame, SparkSession, functions
from pyspark.sql.pandas.types import from_arrow_schema, to_arrow_schema
from pyspark.sql.types import StructType

from app.artifact import ArtifactError, sha256_of
from app.batch.chunks import chunks, is_parquet
from app.batch.engine import BatchForecaster, BatchSpec

# Rows per engine call: thousands of series per forward pass, bounded worker memory.
ROWS_PER_CALL = 200_000


def session(master: str | None = None) -> SparkSession:
    """A Spark session for batch jobs: on ``master`` (None: what spark-submit or the
    Spark config says, else ``local[*]``), in UTC, with Python workers that run this
    very interpreter unless PYSPARK_PYTHON names another."""
    os.environ.setdefault("PYSPARK_PYTHON", sys.executable)
    builder = SparkSession.builder.appName("rnncast batch").config("spark.sql.session.timeZone", "UTC")
    if master is not None:
        builder = builder.master(master)
    return builder.getOrCreate()


def forecast_dataframe(
    rows: DataFrame, spec: BatchSpec, partitions: int | None = None, rows_per_call: int = ROWS_PER_CALL
) -> DataFrame:
    """Forecast rows for every series in ``rows``, in ``partitions`` partitions (None:
    Spark's default parallelism). ``spec.model`` is read on the driver only."""
    first = rows.select(spec.id_col).limit(1).collect()
    if not first:
        raise ValueError("no rows to forecast")
    pinned, schema = _ship(rows.sparkSession, spec, rows.where(rows[spec.id_col] == first[0][0]).toArrow())
    count = partitions or rows.sparkSession.sparkContext.defaultParallelism
    ordered = rows.repartition(count, spec.id_col).sortWithinPartitions(spec.id_col)
    # Spark keeps times in microseconds: the answer's nanosecond times are cast to its
    # schema (safely: a time that would lose digits fails loudly).
    forecast = functools.partial(_forecast_partition, pinned, to_arrow_schema(schema, timezone="UTC"), rows_per_call)
    return ordered.mapInArrow(forecast, schema)


def read_rows(spark: SparkSession, files: list[Path], spec: BatchSpec) -> DataFrame:
    """The rows of Parquet or CSV ``files`` (one format); CSV times stay text, which the
    engine parses as the server does, and CSV values become numbers."""
    paths = [str(path) for path in files]
    wanted = spec.columns.wanted
    if is_parquet(files[0]):
        return _parquet_rows(spark, paths, wanted, spec.time_col)
    rows = spark.read.csv(paths, header=True).select(*wanted)
    return rows.withColumn(spec.target_col, rows[spec.target_col].cast("double"))


def _parquet_rows(spark: SparkSession, paths: list[str], wanted: list[str], time_col: str) -> DataFrame:
    """Parquet rows. Spark refuses nanosecond timestamps (pandas' default), so those are
    read as integers and made microsecond timestamps again, zoned or not as written."""
    schema = pq.read_schema(paths[0])
    kind = schema.field(time_col).type if time_col in schema.names else None
    if kind is None or not pa.types.is_timestamp(kind) or kind.unit != "ns":
        return spark.read.parquet(*paths).select(*wanted)
    spark.conf.set("spark.sql.legacy.parquet.nanosAsLong", "true")
    rows = spark.read.parquet(*paths).select(*wanted)
    micros = functions.timestamp_micros(functions.expr(f"`{time_col}` div 1000"))
    return rows.withColumn(time_col, micros if kind.tz else micros.cast("timestamp_ntz"))


def run_job(spec: BatchSpec, files: list[Path], output: Path, master: str | None, regroup: bool = False,
            chunk_series: int = 1000) -> None:
    """Forecast ``files`` on Spark at ``master`` (see :func:`session`) into a directory
    of Parquet parts: file by file, or with ``regroup`` from rows in any order."""
    spark = session(master)
    try:
        if regroup:
            answer = forecast_dataframe(read_rows(spark, files, spec), spec)
        else:
            answer = forecast_files(spark, files, spec, chunk_series)
        answer.write.parquet(str(output))
    finally:
        spark.stop()


def _driver_sha256(spec: BatchSpec) -> str:
    """The artifact's sha256 as the driver sees it (and as ``spec`` expects, if it says)."""
    sha = sha256_of(spec.model)
    if spec.sha256 is not None and spec.sha256.lower() != sha:
        raise ArtifactError(f"{spec.model}: sha256 {sha} is not the expected {spec.sha256}")
    return sha


def _checksum_file(model: Path) -> Path:
    """The recorded checksum beside the artifact (app.artifact.verify_checksum reads it)."""
    return model.with_name(model.name + ".sha256")


def forecast_files(spark: SparkSession, files: list[Path], spec: BatchSpec, chunk_series: int = 1000) -> DataFrame:
    """Forecast rows for every series in ``files`` (each series whole in one file), a
    task per file; every executor must read the files at these paths."""
    first = next(chunks(files[:1], spec.columns, 1), None)
    if first is None:
        raise ValueError(f"{files[0]}: no rows to forecast")
    pinned, schema = _ship(spark, spec, first.rows)
    paths = spark.createDataFrame([(str(path),) for path in files], "path string").repartition(len(files))
    forecast = functools.partial(_forecast_files, pinned, to_arrow_schema(schema, timezone="UTC"), chunk_series)
    return paths.mapInArrow(forecast, schema)


def _ship(spark: SparkSession, spec: BatchSpec, one_series: pa.Table) -> tuple[BatchSpec, StructType]:
    """``spec`` pinned to the driver's sha256, with the artifact and its checksum shipped
    to the executors, and the forecast rows' schema: the engine's answer for one series."""
    pinned = dataclasses.replace(spec, sha256=_driver_sha256(spec))
    schema = from_arrow_schema(BatchForecaster(pinned)(one_series).schema)
    for path in (pinned.model, _checksum_file(pinned.model)):
        spark.sparkContext.addFile(str(path.resolve()))
    return pinned, schema


@functools.cache
def _engine(spec: BatchSpec) -> BatchForecaster:
    """This worker's engine on its copy of the artifact, verified against the driver's
    sha256 and loaded once (Spark reuses its Python workers across tasks)."""
    return BatchForecaster(dataclasses.replace(spec, model=_local_copy(spec.model)))


def _local_copy(model: Path) -> Path:
    """The shipped artifact and checksum in a folder named like the driver's, since the
    model is named after its folder. Written under a temporary name, then renamed, as
    several workers of one executor may do this at once."""
    folder = Path(SparkFiles.getRootDirectory()) / "rnncast-models" / model.parent.name
    folder.mkdir(parents=True, exist_ok=True)
    for name in (model.name, _checksum_file(model).name):
        staged = tempfile.NamedTemporaryFile(dir=folder, delete=False)
        staged.close()
        shutil.copyfile(SparkFiles.get(name), staged.name)
        os.replace(staged.name, folder / name)
    return folder / model.name


def _forecast_files(
    spec: BatchSpec, schema: pa.Schema, chunk_series: int, batches: Iterator[pa.RecordBatch]
) -> Iterator[pa.RecordBatch]:
    """Forecasts of the files a partition names, chunk by chunk, cast to ``schema``."""
    engine = _engine(spec)
    for batch in batches:
        for path in batch.column("path").to_pylist():
            for chunk in chunks([Path(path)], spec.columns, chunk_series):
                yield from engine(chunk.rows).cast(schema).to_batches()


def _forecast_partition(
    spec: BatchSpec, schema: pa.Schema, rows_per_call: int, batches: Iterator[pa.RecordBatch]
) -> Iterator[pa.RecordBatch]:
    """Forecasts of a partition's rows, sorted by series: engine calls of about
    ``rows_per_call`` rows, each ending at a series boundary, answers cast to ``schema``."""
    engine = _engine(spec)

    def forecast(rows: pa.Table) -> list[pa.RecordBatch]:
        answer: list[pa.RecordBatch] = engine(rows).cast(schema).to_batches()
        return answer

    pending: list[pa.RecordBatch] = []
    rows = 0
    for batch in batches:
        pending.append(batch)
        rows += batch.num_rows
        if rows < rows_per_call:
            continue
        table = pa.Table.from_batches(pending)
        ids = table[spec.id_col]
        cut = pc.index(ids, ids[-1]).as_py()  # where the last (maybe unfinished) series starts
        if cut > 0:
            yield from forecast(table.slice(0, cut))
            pending, rows = table.slice(cut).to_batches(), table.num_rows - cut
    if rows:
        yield from forecast(pa.Table.from_batches(pending))
