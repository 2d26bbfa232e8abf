"""Dynamic batching: concurrent one-step requests share one forward pass.

The queue and all bookkeeping (gathering, concatenating, splitting, answering) live
on the event loop. The model call itself runs on the model's compute thread, which
barely needs the GIL (a thread that keeps taking the GIL back stalls the loop on
every request), or, with ``inline``, on the event loop itself: with one CPU the
thread cannot run beside the loop anyway, and each hand-off to it and back costs
two context switches (bench/RESULTS.md). Long jobs (:meth:`Batcher.run`) always
run on the thread, so the loop never stalls for longer than one forward pass.

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

from app.runtime.errors import ForecastError, InferenceError, OverloadedError
from app.runtime.forecaster import Array

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
        clock: Callable[[], float] = time.perf_counter,
    ) -> None:
        self._predict = predict
        self._max_rows = max_batch_rows
        self._max_wait = max_wait_s
        self._inline = inline
        self._timeout = queue_timeout_s
        self._max_queue_rows = max_queue_rows
        self._observer = observer
        self._clock = clock
        self._queue: deque[_Request] = deque()
        self._queued_rows = 0
        self._draining = False  # a task is dispatching the queue
        self._stopping = False
        # One thread: jobs (and, unless inline, batches) run one at a time.
        self._compute = ThreadPoolExecutor(max_workers=1, thread_name_prefix=f"model-{name}")

    async def predict(self, windows: Array) -> tuple[Array, int]:
        """One-step forecasts for (rows, window); also the size of the batch that ran."""
        if self._queued_rows + len(windows) > self._max_queue_rows:
            raise OverloadedError(
                f"{self._queued_rows} rows are already waiting for the model; retry shortly",
                limit=self._max_queue_rows,
            )
        loop = asyncio.get_running_loop()
        request = _Request(windows, loop.create_future(), self._clock())
        self._queue.append(request)
        self._queued_rows += len(windows)
        if not self._draining:
            self._draining = True
            loop.create_task(self._drain())
        return await request.future

    async def run(self, job: Callable[[], T]) -> T:
        """Run ``job`` on the compute thread, serialised with the forward passes."""
        return await self._submit(job)

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
            if self._stopping:
                self._compute.shutdown(wait=False)

    def _take(self) -> list[_Request]:
        """Pop as many queued requests as fit one batch; refuse the ones that expired."""
        now = self._clock()
        batch: list[_Request] = []
        rows = 0
        while self._queue:
            head = self._queue[0]
            if batch and rows + len(head.rows) > self._max_rows:
                break
            self._queue.popleft()
            self._queued_rows -= len(head.rows)
            if head.future.done():  # the caller went away
                continue
            if now - head.enqueued > self._timeout:
                head.future.set_exception(OverloadedError(f"waited over {self._timeout:g}s for the model"))
                continue
            batch.append(head)
            rows += len(head.rows)
        return batch

    async def _run_batch(self, batch: list[_Request]) -> None:
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
            return
        except Exception as exc:  # noqa: BLE001 - any model failure must reach its callers
            self._fail(batch, InferenceError(f"model computation failed: {exc}"))
            return
        if self._observer is not None:
            self._observer(len(windows), len(batch), started - batch[0].enqueued, self._clock() - started)
        start = 0
        for request in batch:
            end = start + len(request.rows)
            if not request.future.done():
                request.future.set_result((predictions[start:end], len(windows)))
            start = end

    @staticmethod
    def _fail(batch: list[_Request], error: Exception) -> None:
        for request in batch:
            if not request.future.done():
                request.future.set_exception(error)
