"""Where the forecast log's lines go: standard output, or a file rotated by size.

Both take whole lines and are safe with several worker processes writing at once:
on a pipe every write of at most PIPE_BUF bytes is atomic, and the file sink holds
an exclusive lock on ``<file>.lock`` around each batch, which also keeps two
workers from rotating the same file twice.
"""

from __future__ import annotations

import fcntl
import os
import select
from collections.abc import Iterator
from pathlib import Path


def _write_all(fd: int, data: bytes) -> None:
    view = memoryview(data)
    while view:
        view = view[os.write(fd, view):]


def _chunks(lines: list[bytes], limit: int) -> Iterator[bytes]:
    """Consecutive lines joined into pieces of at most ``limit`` bytes (a longer line
    is a piece of its own)."""
    piece: list[bytes] = []
    size = 0
    for line in lines:
        if piece and size + len(line) > limit:
            yield b"".join(piece)
            piece, size = [], 0
        piece.append(line)
        size += len(line)
    if piece:
        yield b"".join(piece)


class StreamSink:
    """An inherited file descriptor (standard output). Workers sharing a pipe never
    interleave inside a line shorter than PIPE_BUF (4 KiB); longer lines (long
    horizons with quantiles) may, so give several workers a file instead."""

    def __init__(self, fd: int) -> None:
        self._fd = fd

    def write(self, lines: list[bytes]) -> None:
        for piece in _chunks(lines, select.PIPE_BUF):
            _write_all(self._fd, piece)

    def close(self) -> None:
        """The descriptor belongs to the process: left open."""


class RotatingFileSink:
    """Appends to ``path``; before a line would take it past ``max_bytes`` it becomes
    ``path.1`` (``path.1`` becomes ``path.2``, ... up to ``backups`` files)."""

    def __init__(self, path: Path, max_bytes: int, backups: int) -> None:
        self.path = path
        self._max_bytes = max_bytes
        self._backups = backups
        self._lock_fd = os.open(f"{path}.lock", os.O_CREAT | os.O_RDWR, 0o644)
        self._fd = self._open()

    def _open(self) -> int:
        return os.open(self.path, os.O_CREAT | os.O_WRONLY | os.O_APPEND, 0o644)

    def write(self, lines: list[bytes]) -> None:
        fcntl.flock(self._lock_fd, fcntl.LOCK_EX)
        try:
            self._follow_rotation()
            size = os.fstat(self._fd).st_size
            piece: list[bytes] = []
            for line in lines:
                if size and size + len(line) > self._max_bytes:
                    _write_all(self._fd, b"".join(piece))
                    piece, size = [], 0
                    self._rotate()
                piece.append(line)
                size += len(line)
            _write_all(self._fd, b"".join(piece))
        finally:
            fcntl.flock(self._lock_fd, fcntl.LOCK_UN)

    def _follow_rotation(self) -> None:
        """Reopen ``path`` if another process rotated it away from our descriptor."""
        mine = os.fstat(self._fd)
        try:
            current = os.stat(self.path)
        except FileNotFoundError:
            current = None
        if current is None or (current.st_dev, current.st_ino) != (mine.st_dev, mine.st_ino):
            os.close(self._fd)
            self._fd = self._open()

    def _rotate(self) -> None:
        os.close(self._fd)
        for n in range(self._backups - 1, 0, -1):
            older = Path(f"{self.path}.{n}")
            if older.exists():
                older.replace(f"{self.path}.{n + 1}")
        self.path.replace(f"{self.path}.1")
        self._fd = self._open()

    def close(self) -> None:
        os.close(self._fd)
        os.close(self._lock_fd)
