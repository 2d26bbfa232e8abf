"""``rnncast batch`` on one machine: chunks of whole series forecast by worker
processes (one torch thread each), each chunk written as its own Parquet part.

- Memory stays bounded: the input is streamed (app.batch.chunks), at most two
  chunks per worker are in flight, and a worker writes its part itself.
- Workers are forks of this process: torch's libraries are loaded once, shared.
- Resumable: a part is written to a hidden file and renamed when complete, so a
  part that exists is finished; a rerun skips it. A manifest (``_batch.json``)
  records what the parts were made from, and a rerun with other options or another
  model is refused rather than mixed in.
- The model is verified (checksum and signature) before any input is read.

Output: a directory of parts, or one ``.parquet``/``.csv`` file assembled from the
parts (kept in ``FILE.parts/`` until then) at the end.
"""

from __future__ import annotations

import json
import multiprocessing
import os
import shutil
from collections.abc import Callable, Iterator
from concurrent.futures import FIRST_COMPLETED, Future, ProcessPoolExecutor, wait
from dataclasses import asdict, dataclass
from pathlib import Path

import pyarrow as pa
import pyarrow.csv as pa_csv
import pyarrow.parquet as pq

from app.artifact import verify_checksum
from app.batch.chunks import Chunk, chunks, input_files
from app.batch.engine import BatchForecaster, BatchSpec, verify_model
from app.runtime.errors import ForecastError
from app.runtime.frames.times import format_times

MANIFEST = "_batch.json"
OUTPUT_FILES = (".parquet", ".csv")


class BatchError(Exception):
    """The job cannot go on: bad input in a part, or an output made by another job."""


@dataclass(frozen=True)
class LocalJob:
    """One batch job: what to forecast (``spec``), from where, to where, on how many processes."""

    spec: BatchSpec
    input: Path
    output: Path
    workers: int = 1
    chunk_series: int = 1000


@dataclass(frozen=True)
class Summary:
    """What a run did: series forecast now, parts written now, parts already done."""

    series: int
    written: int
    skipped: int


def default_workers() -> int:
    """The cores this process may run on."""
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1


def parts_dir(output: Path) -> Path:
    """Where the parts go: ``output`` itself, or ``output.parts`` beside an output file."""
    return output.with_name(output.name + ".parts") if output.suffix.lower() in OUTPUT_FILES else output


def run(job: LocalJob, on_part: Callable[[int], None] = lambda series: None) -> Summary:
    """Forecast every series of ``job.input`` into ``job.output``; ``on_part(series)`` after each part.

    Raises ArtifactError/SignatureError (the model), InputError (the input path) or
    BatchError (a part's rows, or an output of another job) before or while running.
    """
    verify_model(job.spec)
    sha256 = verify_checksum(job.spec.model)
    files = input_files(job.input)
    parts = parts_dir(job.output)
    _claim(parts, _manifest(job, files, sha256))
    todo = _Todo(chunks(files, job.spec.columns, job.chunk_series), parts)
    written = _forecast(job, todo, parts, on_part)
    if written.parts + todo.skipped == 0:
        raise BatchError(f"{job.input}: holds no rows; nothing to forecast")
    if parts != job.output:
        _assemble(parts, job.output)
    return Summary(written.series, written.parts, todo.skipped)


@dataclass
class _Count:
    parts: int = 0
    series: int = 0


def _manifest(job: LocalJob, files: list[Path], sha256: str) -> dict[str, object]:
    """What the parts depend on: the model's content, the options, the input files' names."""
    spec = asdict(job.spec)
    for local in ("model", "sha256", "trusted_keys", "trusted_certificates", "threads"):
        spec.pop(local)
    inputs = [{"name": f.name, "bytes": f.stat().st_size} for f in files]
    return {"model_sha256": sha256, "spec": spec, "inputs": inputs,
            "chunk_series": job.chunk_series}


def _claim(parts: Path, manifest: dict[str, object]) -> None:
    """Start ``parts`` with ``manifest``, or check that its parts were made the same way."""
    text = json.dumps(manifest, indent=2, sort_keys=True, default=str)
    record = parts / MANIFEST
    if record.is_file():
        if record.read_text() != text:
            raise BatchError(f"{parts} holds parts of a job with other options, model or inputs; "
                             "give another --output or delete it to start again")
        return
    if parts.exists() and any(parts.iterdir()):
        raise BatchError(f"{parts} exists and is not the output of rnncast batch; give another --output")
    parts.mkdir(parents=True, exist_ok=True)
    record.write_text(text)


class _Todo:
    """Chunks whose parts are not written yet; counts the ones skipped."""

    def __init__(self, all_chunks: Iterator[Chunk], parts: Path) -> None:
        self.all_chunks, self.parts, self.skipped = all_chunks, parts, 0

    def __iter__(self) -> Iterator[Chunk]:
        for chunk in self.all_chunks:
            if _part_path(self.parts, chunk.name).is_file():
                self.skipped += 1
            else:
                yield chunk


def _part_path(parts: Path, name: str) -> Path:
    return parts / f"{name}.parquet"


def _write_part(engine: BatchForecaster, chunk: Chunk, parts: Path) -> int:
    """Forecast ``chunk`` and write its part atomically; returns its series count."""
    try:
        answer = engine(chunk.rows)
    except (ForecastError, pa.ArrowException) as exc:  # re-raised as a plain message: it must cross processes
        raise BatchError(f"part {chunk.name}: {exc}") from None
    final = _part_path(parts, chunk.name)
    hidden = final.with_name(f".{final.name}.tmp")
    pq.write_table(answer, hidden)
    os.replace(hidden, final)
    return chunk.series


_ENGINE: BatchForecaster | None = None  # a worker process's engine, loaded once by _start_worker


def _start_worker(spec: BatchSpec) -> None:
    global _ENGINE
    _ENGINE = BatchForecaster(spec)


def _write_part_in_worker(chunk: Chunk, parts: Path) -> int:
    assert _ENGINE is not None, "the pool's initializer loads the engine"
    return _write_part(_ENGINE, chunk, parts)


def _forecast(job: LocalJob, todo: _Todo, parts: Path, on_part: Callable[[int], None]) -> _Count:
    """Every chunk of ``todo`` forecast in this process (1 worker) or a pool of them."""
    done = _Count()

    def finished(series: int) -> None:
        done.parts += 1
        done.series += series
        on_part(series)

    if job.workers == 1:
        engine = BatchForecaster(job.spec)
        for chunk in todo:
            finished(_write_part(engine, chunk, parts))
        return done
    # fork: the workers share this process's loaded libraries (torch's are most of a
    # worker's memory) instead of importing their own copies. Safe here because this
    # process never runs a torch operation, so torch has started no threads to lose.
    context = multiprocessing.get_context("fork")
    with ProcessPoolExecutor(job.workers, context, initializer=_start_worker, initargs=(job.spec,)) as pool:
        running: set[Future[int]] = set()
        try:
            for chunk in todo:
                if len(running) >= 2 * job.workers:  # backpressure: bounded chunks in memory
                    ready, running = wait(running, return_when=FIRST_COMPLETED)
                    for future in ready:
                        finished(future.result())
                running.add(pool.submit(_write_part_in_worker, chunk, parts))
            for future in wait(running).done:
                finished(future.result())
        except BaseException:
            pool.shutdown(cancel_futures=True)
            raise
    return done


def _assemble(parts: Path, output: Path) -> None:
    """Join the parts, in order, into ``output`` (written aside, then renamed), and drop them."""
    names = sorted(p for p in parts.glob("*.parquet"))
    hidden = output.with_name(f".{output.name}.tmp")
    csv = output.suffix.lower() == ".csv"
    writer: pq.ParquetWriter | pa_csv.CSVWriter | None = None
    for name in names:
        table = pq.read_table(name)
        table = _as_text_times(table) if csv else table
        if writer is None:
            writer = pa_csv.CSVWriter(hidden, table.schema) if csv else pq.ParquetWriter(hidden, table.schema)
        writer.write_table(table)
    assert writer is not None, "run() refuses an input without rows before assembling"
    writer.close()
    os.replace(hidden, output)
    shutil.rmtree(parts)


def _as_text_times(table: pa.Table) -> pa.Table:
    """Timestamp columns as ISO 8601 text, as the server's CSV answers write them."""
    for i, column in enumerate(table.schema):
        if pa.types.is_timestamp(column.type):
            stamps = table.column(i).cast(pa.int64()).to_numpy()
            text = pa.array(format_times(stamps, column.type.tz is not None), pa.string())
            table = table.set_column(i, column.name, text)
    return table
