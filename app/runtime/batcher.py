"""Dynamic batching: concurrent one-step requests share one forward pass.

The queue and all bookkeeping (gathering, concatenating, splitting, answering) live
on the event loop. The model call itself runs on the model's compute thread, which
barely needs the GIL (a thread that keeps taking the GIL back stalls the loop on
every request), or, with ``inline``, on the event loop itself: with one CPU the
thread cannot run beside the loop anyway, and each hand-off to it and back costs
two context switches (bench/RESULTS.md). Long jobs never run here: they go to the
heavy lane (app.runtime.jobs), which gives way while this batcher has work
(``light``), so a one-step request never waits behind one.

A queued request is refused when it has waited ``queue_timeout_s`` (503) or its
deadline passes (504), by a timer at that moment, not when the batcher next looks.

Batching is greedy: when the model is idle a request is dispatched at once;
requests that arrive while a forward pass runs are gathered into the next one (up
to ``max_batch_rows``). ``max_wait_s`` > 0 additionally holds a batch open for that
long to fill it, trading latency at low load for larger batches.
"""

from __future__ import annotations

import asyncio
import time
from collections import deque
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Protocol, TypeVar

import numpy as np

from app.runtime import trace_hook
from app.runtime.errors import DeadlineExceededError, ForecastError, InferenceError, OverloadedError
from app.runtime.forecaster import Array
from app.runtime.jobs import NO_DEADLINE, Deadline, LightWork

T = TypeVar("T")


class BatchObserver(Protocol):
    """Told about every forward pass (for metrics)."""

    def __call__(self, rows: int, requests: int, queue_wait_s: float, compute_s: float) -> None:
        """Record one batch."""


@dataclass(eq=False)
class _Request:
    rows: Array
    future: asyncio.Future[tuple[Array, int]]
    enqueued: float
    expiry: asyncio.TimerHandle | None = None
    caller: object = None  # the request's trace context, when tracing is on


class Batcher:
    """Queue in front of one model. Call :meth:`stop` when the model is retired."""

    def __init__(
        self,
        predict: Callable[[Array], Array],
        *,
        max_batch_rows: int,
        max_wait_s: float = 0.0,
        inline: bool = False,
        queue_timeout_s: float = 30.0,
        max_queue_rows: int = 100_000,
        observer: BatchObserver | None = None,
        name: str = "model",
        light: LightWork | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._predict = predict
        self._max_rows = max_batch_rows
        self._max_wait = max_wait_s
        self._inline = inline
        self._timeout = queue_timeout_s
        self._max_queue_rows = max_queue_rows
        self._observer = observer
        self._clock = clock
        self._name = name
        self._light = light or LightWork()
        self._queue: deque[_Request] = deque()
        self._queued_rows = 0
        self._draining = False  # a task is dispatching the queue
        self._stopping = False
        # One thread: unless inline, batches run on it one at a time.
        self._compute = ThreadPoolExecutor(max_workers=1, thread_name_prefix=f"model-{name}")

    async def predict(self, windows: Array, deadline: Deadline = NO_DEADLINE) -> tuple[Array, int]:
        """One-step forecasts for (rows, window); also the size of the batch that ran."""
        if self._queued_rows + len(windows) > self._max_queue_rows:
            raise OverloadedError(
                f"{self._queued_rows} rows are already waiting for the model; retry shortly",
                limit=self._max_queue_rows,
            )
        loop = asyncio.get_running_loop()
        request = _Request(windows, loop.create_future(), self._clock())
        if (tracer := trace_hook.current()) is not None:
            request.caller = tracer.capture()
        wait = min(self._timeout, deadline.remaining())
        request.expiry = loop.call_later(wait, self._expire, request, wait < self._timeout)
        self._queue.append(request)
        self._queued_rows += len(windows)
        if not self._draining:
            self._draining = True
            self._light.begin()
            loop.create_task(self._drain())
        return await request.future

    def _expire(self, request: _Request, deadline: bool) -> None:
        """Timer: refuse a request still waiting; it is skipped when its turn comes."""
        if not request.future.done():
            if deadline:
                request.future.set_exception(
                    DeadlineExceededError("the request's deadline passed while it waited for the model")
                )
            else:
                request.future.set_exception(OverloadedError(f"waited over {self._timeout:g}s for the model"))

    def stop(self) -> None:
        """Retire the batcher: requests already queued still run, then the thread ends."""
        self._stopping = True
        if not self._draining:
            self._compute.shutdown(wait=False)

    def _submit(self, fn: Callable[..., T], *args: object) -> asyncio.Future[T]:
        try:
            return asyncio.get_running_loop().run_in_executor(self._compute, fn, *args)
        except RuntimeError:  # the compute thread was retired
            raise OverloadedError("the model is shutting down or being replaced; retry") from None

    async def _drain(self) -> None:
        """Dispatch batches until the queue is empty (runs on the event loop)."""
        try:
            while self._queue:
                if self._max_wait > 0 and self._queued_rows < self._max_rows:
                    await asyncio.sleep(self._max_wait)
                else:
                    # One pass of the loop first: requests already readable on other
                    # connections (or held up by an inline forward) join this batch.
                    await asyncio.sleep(0)
                batch = self._take()
                if batch:
                    await self._run_batch(batch)
        finally:
            self._draining = False
            self._light.end()
            if self._stopping:
                self._compute.shutdown(wait=False)

    def _take(self) -> list[_Request]:
        """Pop as many queued requests as fit one batch, skipping the ones already
        answered (expired, or their caller went away)."""
        batch: list[_Request] = []
        rows = 0
        while self._queue:
            head = self._queue[0]
            if batch and rows + len(head.rows) > self._max_rows:
                break
            self._queue.popleft()
            self._queued_rows -= len(head.rows)
            if head.expiry is not None:
                head.expiry.cancel()
            if head.future.done():
                continue
            batch.append(head)
            rows += len(head.rows)
        return batch

    async def _run_batch(self, batch: list[_Request]) -> None:
        taken = self._clock()
        parts = [request.rows for request in batch]
        windows = parts[0] if len(parts) == 1 else np.concatenate(parts)
        started = self._clock()
        try:
            if self._inline:
                predictions = self._predict(windows)
            else:
                predictions = await self._submit(self._predict, windows)
            if len(predictions) != len(windows):
                raise InferenceError(f"model returned {len(predictions)} values for {len(windows)} rows")
        except ForecastError as exc:
            self._fail(batch, exc)
            self._trace(batch, taken, (started, self._clock()), len(windows), exc)
            return
        except Exception as exc:  # noqa: BLE001 - any model failure must reach its callers
            error = InferenceError(f"model computation failed: {exc}")
            self._fail(batch, error)
            self._trace(batch, taken, (started, self._clock()), len(windows), error)
            return
        computed = self._clock()
        if self._observer is not None:
            self._observer(len(windows), len(batch), started - batch[0].enqueued, computed - started)
        start = 0
        for request in batch:
            end = start + len(request.rows)
            if not request.future.done():
                request.future.set_result((predictions[start:end], len(windows)))
            start = end
        self._trace(batch, taken, (started, computed), len(windows), None)

    def _trace(
        self, batch: list[_Request], taken: float, computed: tuple[float, float], rows: int,
        error: BaseException | None,
    ) -> None:
        """Report the batch to the tracing, when it is on (its callers resume only
        after this returns: their spans end after the batch's)."""
        if (tracer := trace_hook.current()) is not None:
            waits = [(request.caller, request.enqueued) for request in batch]
            tracer.batch(self._name, waits, taken, computed, self._clock(), rows, error)

    @staticmethod
    def _fail(batch: list[_Request], error: Exception) -> None:
        for request in batch:
            if not request.future.done():
                request.future.set_exception(error)
