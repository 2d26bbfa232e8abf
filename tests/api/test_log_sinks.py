"""The forecast log's sinks on real files and pipes: size rotation, two writers
sharing one file (as worker processes do), and whole lines on a pipe."""

from __future__ import annotations

import os
import select
from pathlib import Path

from app.api.log_sinks import RotatingFileSink, StreamSink, _chunks


def numbered(first: int, count: int, width: int = 100) -> list[bytes]:
    """Lines of exactly ``width`` bytes that say their number."""
    return [f"line {n:06d} ".ljust(width - 1, "x").encode() + b"\n" for n in range(first, first + count)]


def files_of(path: Path) -> list[Path]:
    """The current file and its rotated predecessors, oldest first."""
    rotated = sorted(path.parent.glob(f"{path.name}.[0-9]*"), key=lambda p: -int(p.suffix[1:]))
    return [*rotated, path]


def test_rotation_keeps_files_under_the_size_and_the_newest_lines(tmp_path: Path) -> None:
    path = tmp_path / "forecasts.jsonl"
    sink = RotatingFileSink(path, max_bytes=1000, backups=2)
    lines = numbered(0, 50)
    for start in range(0, 50, 7):
        sink.write(lines[start : start + 7])
    sink.close()
    files = files_of(path)
    assert [f.name for f in files] == ["forecasts.jsonl.2", "forecasts.jsonl.1", "forecasts.jsonl"]
    assert all(f.stat().st_size <= 1000 for f in files)
    kept = b"".join(f.read_bytes() for f in files).splitlines(keepends=True)
    assert kept == lines[-len(kept):] and len(kept) > 20, "the newest lines, in order, none cut"


def test_two_writers_share_one_file_and_its_rotation(tmp_path: Path) -> None:
    """Each worker process opens the file itself; the lock file orders their batches
    and each follows the other's rotation instead of writing into a rotated file."""
    path = tmp_path / "forecasts.jsonl"
    workers = [RotatingFileSink(path, max_bytes=1000, backups=100) for _ in range(2)]
    lines = numbered(0, 200)
    for batch, start in enumerate(range(0, 200, 6)):
        workers[batch % 2].write(lines[start : start + 6])
    for worker in workers:
        worker.close()
    files = files_of(path)
    assert all(f.stat().st_size <= 1000 for f in files)
    assert b"".join(f.read_bytes() for f in files).splitlines(keepends=True) == lines


def test_a_pipe_gets_whole_lines_in_writes_of_at_most_pipe_buf(tmp_path: Path) -> None:
    lines = [*numbered(0, 30, width=300), b"y" * (3 * select.PIPE_BUF) + b"\n", *numbered(30, 5, width=50)]
    pieces = list(_chunks(lines, select.PIPE_BUF))
    assert b"".join(pieces) == b"".join(lines)
    assert all(len(p) <= select.PIPE_BUF or p.count(b"\n") == 1 for p in pieces)
    read_end, write_end = os.pipe()
    StreamSink(write_end).write(lines[:10])
    os.close(write_end)
    with os.fdopen(read_end, "rb") as reader:
        assert reader.read() == b"".join(lines[:10])
