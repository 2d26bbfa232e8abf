"""The optional hook through which the runtime reports its timings for tracing.

The runtime knows nothing of OpenTelemetry. When tracing is on, app.api.tracing
installs a :class:`RuntimeTracer`: the batcher and the heavy lane capture the caller's
trace context when work is queued, and report afterwards when it waited and ran (times
on the monotonic clock); the hook turns that into spans. With no hook installed
(tracing off), each request, batch and job costs one ``is None`` check.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol


class JobTrace(Protocol):
    """One heavy job as it runs on its lane."""

    def chunk(self, index: int, started: float, ended: float) -> None:
        """Chunk ``index`` (from 0) ran from ``started`` to ``ended``."""

    def end(self, ended: float, error: BaseException | None) -> None:
        """The job returned (``error`` None) or stopped with ``error``."""


class RuntimeTracer(Protocol):
    """What the runtime tells the tracing (implemented in app.api.tracing)."""

    def capture(self) -> object:
        """The calling request's trace context, handed back in later reports."""

    def batch(
        self,
        model: str,
        waits: Sequence[tuple[object, float]],
        taken: float,
        computed: tuple[float, float],
        ended: float,
        rows: int,
        error: BaseException | None,
    ) -> None:
        """One forward pass: each request's (captured context, enqueue time); when the
        batch left the queue, when the model ran (start, end), when the batch ended."""

    def job(self, caller: object, queued: float, started: float) -> JobTrace:
        """A heavy job submitted at ``queued`` started on its lane at ``started``."""


_hook: RuntimeTracer | None = None


def install(hook: RuntimeTracer | None) -> None:
    """Report to ``hook`` from now on (None: stop reporting)."""
    global _hook
    _hook = hook


def current() -> RuntimeTracer | None:
    """The installed hook, or None when tracing is off."""
    return _hook
