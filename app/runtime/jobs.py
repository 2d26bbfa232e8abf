"""Heavy work in bounded, cancellable chunks, on a lane of its own.

One-step batches are light: one forward pass of at most ``max_batch_rows`` rows.
Rolling forecasts, sampled paths, walk-forward scores, and any other long computation
(backtests, ...) are heavy. Heavy work must never delay light work, must stop at its
request's deadline, and must stop when its client goes away. The API for that:

- Write the job as a generator that yields after each bounded chunk of work (one
  forward pass, say) and returns its result::

      def job() -> Generator[None, None, Result]:
          for chunk in chunks:
              compute(chunk)
              yield                  # a checkpoint
          return result

  ``yield from`` composes jobs; :func:`run_to_end` runs one without any checks
  (offline use, tests).
- ``await lane.run(job, JobContext(deadline, token))`` on a :class:`HeavyLane` runs
  it on the lane's own thread, which runs at a lower OS priority than the event loop
  and the one-step batches. At every checkpoint the lane stops the job with
  :class:`DeadlineExceededError` once its :class:`Deadline` has passed, or with
  :class:`JobCancelledError` once its :class:`CancelToken` is cancelled, and gives way
  to light work: while one-step batches are queued or running (:class:`LightWork`)
  it waits up to ``yield_s`` before the next chunk.
- Admission: at most ``max_jobs`` jobs run or wait in a lane; one more is refused at
  once with OverloadedError (503, Retry-After), never queued without bound.

What a request may cost is checked before any of this, in :mod:`app.runtime.budget`.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import math
import os
import threading
import time
from collections.abc import Callable, Generator
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import TypeVar

from app.runtime import trace_hook
from app.runtime.errors import DeadlineExceededError, JobCancelledError, OverloadedError

logger = logging.getLogger(__name__)

T = TypeVar("T")
Job = Generator[None, None, T]

# How much lower the heavy lane's thread runs than the rest of the process (nice
# increment): under CPU contention the scheduler hands the event loop and one-step
# batches almost all the CPU, so a heavy job cannot stretch a light request.
HEAVY_NICE = 10


@dataclass(frozen=True)
class Deadline:
    """A point on the monotonic clock by which a request must be answered."""

    at: float

    @classmethod
    def after(cls, seconds: float) -> Deadline:
        """The deadline ``seconds`` from now."""
        return cls(time.monotonic() + seconds)

    def remaining(self) -> float:
        """Seconds left (negative once passed; inf for no deadline)."""
        return self.at - time.monotonic()

    def check(self) -> None:
        """Raise DeadlineExceededError once the deadline has passed."""
        if time.monotonic() >= self.at:
            raise DeadlineExceededError("the request's deadline passed before its answer was ready")


NO_DEADLINE = Deadline(math.inf)


class CancelToken:
    """Set when the work is no longer wanted (its client went away); thread-safe."""

    def __init__(self) -> None:
        self._event = threading.Event()

    def cancel(self) -> None:
        """Ask the work to stop at its next checkpoint."""
        self._event.set()

    @property
    def cancelled(self) -> bool:
        """Whether :meth:`cancel` was called."""
        return self._event.is_set()


@dataclass(frozen=True)
class JobContext:
    """What bounds one request's heavy work: its deadline and its cancellation."""

    deadline: Deadline = NO_DEADLINE
    token: CancelToken = field(default_factory=CancelToken)

    def checkpoint(self) -> None:
        """Raise if the work should stop now (cancelled first: then nobody waits)."""
        if self.token.cancelled:
            raise JobCancelledError("the client went away; the work was stopped")
        self.deadline.check()


class LightWork:
    """Tracks whether light (one-step) work is queued or running, across models."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._busy = 0
        self._idle = threading.Event()
        self._idle.set()

    def begin(self) -> None:
        """Light work started (called from the event loop)."""
        with self._lock:
            self._busy += 1
            self._idle.clear()

    def end(self) -> None:
        """Light work finished."""
        with self._lock:
            self._busy -= 1
            if self._busy == 0:
                self._idle.set()

    def wait_idle(self, timeout: float) -> bool:
        """Block up to ``timeout`` seconds until no light work is pending."""
        return self._idle.wait(timeout)


def run_to_end(job: Job[T]) -> T:
    """Run a chunked job straight through, without checkpoints."""
    while True:
        try:
            next(job)
        except StopIteration as done:
            result: T = done.value
            return result


def _lower_priority() -> None:
    """Runs on the lane's thread at its start: Linux nice values are per thread, and
    threads it starts (torch's intra-op workers) inherit them."""
    with contextlib.suppress(OSError, AttributeError):
        os.setpriority(os.PRIO_PROCESS, threading.get_native_id(), HEAVY_NICE)


class HeavyLane:
    """Runs chunked jobs one at a time on its own low-priority thread."""

    def __init__(self, *, max_jobs: int = 4, light: LightWork | None = None, yield_s: float = 0.005) -> None:
        self.max_jobs = max_jobs
        self.light = light or LightWork()
        self._yield_s = yield_s
        self._lock = threading.Lock()
        self._admitted = 0
        self._executor = ThreadPoolExecutor(1, thread_name_prefix="heavy", initializer=_lower_priority)

    @property
    def admitted(self) -> int:
        """Jobs running or waiting now."""
        return self._admitted

    async def run(self, job: Callable[[], Job[T]], context: JobContext) -> T:
        """Run ``job()`` on the lane; DeadlineExceededError at the deadline, the
        JobCancelledError if the token is cancelled, OverloadedError if full."""
        with self._lock:
            if self._admitted >= self.max_jobs:
                raise OverloadedError(
                    f"{self._admitted} long jobs are already running or waiting; retry shortly",
                    limit=self.max_jobs,
                )
            self._admitted += 1
        tracer = trace_hook.current()
        traced = None if tracer is None else (tracer, tracer.capture(), time.monotonic())
        try:
            submitted: Future[T] = self._executor.submit(self._drive, job, context, traced)
        except RuntimeError:  # the lane was closed
            self._release(None)
            raise OverloadedError("the server is shutting down; retry") from None
        # Released when the job really leaves the thread, not when its caller stops waiting.
        submitted.add_done_callback(self._release)
        try:
            return await asyncio.wait_for(asyncio.wrap_future(submitted), max(0.0, context.deadline.remaining()))
        except TimeoutError:
            context.token.cancel()
            raise DeadlineExceededError("the request's deadline passed before its answer was ready") from None
        except asyncio.CancelledError:
            context.token.cancel()
            raise

    def close(self) -> None:
        """Finish the job running now; refuse new ones."""
        self._executor.shutdown(wait=False, cancel_futures=True)

    def _release(self, _: object) -> None:
        with self._lock:
            self._admitted -= 1

    def _drive(
        self, make_job: Callable[[], Job[T]], context: JobContext,
        traced: tuple[trace_hook.RuntimeTracer, object, float] | None,
    ) -> T:
        """Runs on the lane's thread: the job, reported to the tracing when it is on."""
        if traced is None:
            return self._run(make_job, context)
        tracer, caller, queued = traced
        trace = tracer.job(caller, queued, time.monotonic())
        try:
            result = self._run(lambda: _timed(make_job(), trace), context)
        except BaseException as exc:
            trace.end(time.monotonic(), exc)
            raise
        trace.end(time.monotonic(), None)
        return result

    def _run(self, make_job: Callable[[], Job[T]], context: JobContext) -> T:
        """Checkpoint, give way to light work, next chunk."""
        context.checkpoint()  # it may have waited for the lane past its deadline
        job = make_job()
        try:
            while True:
                self.light.wait_idle(self._yield_s)
                try:
                    next(job)
                except StopIteration as done:
                    result: T = done.value
                    return result
                context.checkpoint()
        finally:
            job.close()


def _timed(job: Job[T], trace: trace_hook.JobTrace) -> Job[T]:
    """``job`` as it is, telling ``trace`` when each of its chunks ran."""
    index = 0
    try:
        while True:
            started = time.monotonic()
            try:
                next(job)
            except StopIteration as done:
                result: T = done.value
                return result
            finally:
                trace.chunk(index, started, time.monotonic())
            index += 1
            yield
    finally:
        job.close()
