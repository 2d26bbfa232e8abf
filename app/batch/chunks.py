"""Input rows, streamed from CSV or Parquet files, cut into tables of whole series.

The input is one file or a directory of part files (all ``.parquet`` or all ``.csv``),
read in batches so memory stays bounded whatever its size. Every series' rows must
be together: contiguous in one file (sorted or grouped by id; the order inside a
series does not matter). Rows of a series met again after another series, or in
another file, are refused, since a forecast made from part of a series would be
silently wrong. Input sorted by id is checked in constant memory; other input keeps
the ids it has met (see :class:`_Taken`).
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pa_csv
import pyarrow.parquet as pq

from app.runtime.errors import InvalidSeriesError

PARQUET_SUFFIXES = (".parquet", ".pq")
BATCH_ROWS = 1 << 16


class InputError(Exception):
    """The input path is unusable as a whole: missing, empty, or of mixed formats."""


@dataclass(frozen=True)
class Columns:
    """The input's column names; ``time`` empty means rows are in time order."""

    id: str = "unique_id"
    time: str = "ds"
    target: str = "y"

    @property
    def wanted(self) -> list[str]:
        """The columns to read, in this order (no time column when ``time`` is empty)."""
        return [name for name in (self.id, self.time, self.target) if name]

    def csv_options(self) -> pa_csv.ConvertOptions:
        """How CSV is read: only the wanted columns, ids as text, values as numbers."""
        types = {self.id: pa.string(), self.target: pa.float64()}
        return pa_csv.ConvertOptions(column_types=types, include_columns=self.wanted)


@dataclass(frozen=True)
class Chunk:
    """Whole series to forecast together; ``name`` is stable across runs (file and index)."""

    name: str
    rows: pa.Table
    series: int


def is_parquet(path: Path) -> bool:
    """Whether a file is Parquet (else CSV), by its suffix."""
    return path.suffix.lower() in PARQUET_SUFFIXES


def input_files(path: Path) -> list[Path]:
    """The files of ``path``: itself, or a directory's ``.parquet``/``.csv`` parts in name order."""
    if path.is_file():
        return [path]
    if not path.is_dir():
        raise InputError(f"{path}: no such file or directory")
    parts = sorted(p for p in path.iterdir() if p.is_file() and p.suffix.lower() in (*PARQUET_SUFFIXES, ".csv"))
    if not parts:
        raise InputError(f"{path}: no .parquet or .csv files in this directory")
    if len({is_parquet(p) for p in parts}) > 1:
        raise InputError(f"{path}: holds both .parquet and .csv files; keep one format per input directory")
    return parts


def read_batches(path: Path, columns: Columns) -> Iterator[pa.Table]:
    """``path``'s rows, BATCH_ROWS at a time, with ids as text and CSV values as numbers."""
    wanted = columns.wanted
    if is_parquet(path):
        parquet = pq.ParquetFile(path)
        missing = [c for c in wanted if c not in parquet.schema_arrow.names]
        if missing:
            raise InvalidSeriesError(
                f"{path.name}: no column {missing[0]!r}; the columns are {', '.join(parquet.schema_arrow.names)}",
                field=missing[0],
            )
        for batch in parquet.iter_batches(batch_size=BATCH_ROWS, columns=wanted):
            yield pa.Table.from_batches([batch])
        return
    with pa_csv.open_csv(path, convert_options=columns.csv_options()) as reader:
        for batch in reader:
            yield pa.Table.from_batches([batch])


class _Taken:
    """The ids of the series cut so far, to refuse a series met again.

    While the ids come in ascending order (input sorted by id), the last one is
    enough: a greater id is new. The first id out of order recalls every id before
    its rows, re-reading the input's id column once; from then on all ids are kept
    in a set (memory that grows with the number of series, for unsorted input only).
    """

    def __init__(self) -> None:
        self.last: str | None = None
        self.all: set[str] | None = None

    def take(self, name: str, before: Callable[[], Iterable[str]]) -> bool:
        """Record ``name``; False if it was taken already. ``before()`` gives the ids of
        every row before this series' first row."""
        if self.all is None:
            if self.last is None or name > self.last:
                self.last = name
                return True
            self.all = set(before())
        if name in self.all:
            return False
        self.all.add(name)
        return True


def _ids_before(files: list[Path], index: int, rows: int, columns: Columns) -> Iterator[str]:
    """The ids of every file before ``files[index]`` and of that file's first ``rows`` rows."""
    only_ids = replace(columns, time="", target="")
    for number, file in enumerate(files[: index + 1]):
        left = rows if number == index else -1
        for batch in read_batches(file, only_ids):
            ids = batch[columns.id] if left < 0 else batch[columns.id].slice(0, left)
            yield from pc.unique(ids.cast(pa.string())).to_pylist()
            left -= len(ids)
            if left == 0:
                break


class _Cutter:
    """Cuts one file's batches at series boundaries into chunks of ``size`` series."""

    def __init__(self, files: list[Path], index: int, columns: Columns, size: int, taken: _Taken) -> None:
        self.files, self.index_in_files, self.columns = files, index, columns
        self.file, self.id_col, self.size, self.taken = files[index], columns.id, size, taken
        self.carry: pa.Table | None = None  # rows of the last series so far: it may go on
        self.first_row = 0  # the file's row at which ``carry`` starts
        self.pending: list[pa.Table] = []
        self.count = 0
        self.index = 0

    def feed(self, batch: pa.Table) -> Iterator[Chunk]:
        """Chunks completed by ``batch``."""
        rows = batch if self.carry is None else pa.concat_tables([self.carry, batch])
        starts, names = self._runs(rows)
        self.carry = rows.slice(starts[-1])
        yield from self._take(rows, starts, names[:-1])
        self.first_row += starts[-1]

    def finish(self) -> Iterator[Chunk]:
        """The last chunk, with the file's last series."""
        if self.carry is not None and self.carry.num_rows:
            starts, names = self._runs(self.carry)
            yield from self._take(self.carry, [*starts, self.carry.num_rows], names)
        if self.pending:
            yield self._chunk()

    def _runs(self, rows: pa.Table) -> tuple[list[int], list[str]]:
        """Where each run of equal ids starts, and its id."""
        ids = rows[self.id_col]
        if ids.null_count:
            raise InvalidSeriesError(f"{self.file.name}: column {self.id_col!r} has {ids.null_count} nulls; "
                                     "every row needs one", field=self.id_col)
        encoded = pc.dictionary_encode(ids.cast(pa.string())).combine_chunks()
        codes = encoded.indices.to_numpy(zero_copy_only=False)
        starts = np.concatenate([[0], np.flatnonzero(codes[1:] != codes[:-1]) + 1])
        return starts.tolist(), encoded.dictionary.take(pa.array(codes[starts])).to_pylist()

    def _take(self, rows: pa.Table, starts: list[int], names: list[str]) -> Iterator[Chunk]:
        """Add the complete runs ``names`` (rows ``starts[i]:starts[i + 1]``) to the chunk."""
        for name, start in zip(names, starts, strict=False):  # once per series, never per row
            before = functools.partial(_ids_before, self.files, self.index_in_files, self.first_row + start,
                                       self.columns)
            if not self.taken.take(name, before):
                raise InvalidSeriesError(
                    f"{self.file.name}: the rows of series {name!r} are not together (it appears again "
                    "after other series or in another file); group the input by series, e.g. sort it "
                    f"by {self.id_col!r}", field=self.id_col,
                )
        first = 0
        while first < len(names):
            last = min(len(names), first + self.size - self.count)
            self.pending.append(rows.slice(starts[first], starts[last] - starts[first]))
            self.count += last - first
            first = last
            if self.count == self.size:
                yield self._chunk()

    def _chunk(self) -> Chunk:
        chunk = Chunk(f"{self.file.stem}-{self.index:05d}", pa.concat_tables(self.pending).combine_chunks(),
                      self.count)
        self.pending, self.count, self.index = [], 0, self.index + 1
        return chunk


def chunks(files: list[Path], columns: Columns, size: int) -> Iterator[Chunk]:
    """Tables of at most ``size`` whole series from ``files``, in input order."""
    taken = _Taken()
    for index, file in enumerate(files):
        cutter = _Cutter(files, index, columns, size, taken)
        for batch in read_batches(file, columns):
            if batch.num_rows:
                yield from cutter.feed(batch)
        yield from cutter.finish()
