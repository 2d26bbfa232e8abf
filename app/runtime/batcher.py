"""Dynamic batching: concurrent one-step requests share one forward pass.

One worker thread per model owns all of that model's compute, so the event loop
never runs it. Batching is greedy: when the worker is idle a request is dispatched
at once; requests that arrive while a forward pass runs are gathered into the next
one (up to ``max_batch_rows``). ``max_wait_s`` > 0 additionally holds a batch open
for that long to fill it, trading latency at low load for larger batches.
"""

from __future__ import annotations

import asyncio
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol, TypeVar, cast

import numpy as np

from app.runtime.errors import ForecastError, InferenceError, OverloadedError
from app.runtime.forecaster import Array

T = TypeVar("T")


class BatchObserver(Protocol):
    """Told about every forward pass (for metrics); called on the worker thread."""

    def __call__(self, rows: int, requests: int, queue_wait_s: float, compute_s: float) -> None:
        """Record one batch."""


@dataclass(eq=False)
class _Item:
    future: asyncio.Future[object]
    loop: asyncio.AbstractEventLoop
    rows: Array | None = None  # a one-step request
    job: Callable[[], object] | None = None  # any other compute, run alone
    enqueued: float = 0.0

    @property
    def size(self) -> int:
        return len(self.rows) if self.rows is not None else 0


class Batcher:
    """Queue in front of one model; start() it before use and stop() it at shutdown."""

    def __init__(
        self,
        predict: Callable[[Array], Array],
        *,
        max_batch_rows: int,
        max_wait_s: float = 0.0,
        queue_timeout_s: float = 30.0,
        max_queue_rows: int = 100_000,
        observer: BatchObserver | None = None,
        name: str = "model",
        clock: Callable[[], float] = time.perf_counter,
    ) -> None:
        self._predict = predict
        self._max_rows = max_batch_rows
        self._max_wait = max_wait_s
        self._timeout = queue_timeout_s
        self._max_queue_rows = max_queue_rows
        self._observer = observer
        self._clock = clock
        self._queue: deque[_Item] = deque()
        self._queued_rows = 0
        self._cond = threading.Condition()
        self._stopping = False
        self._thread = threading.Thread(target=self._work, name=f"batcher-{name}", daemon=True)

    def start(self) -> None:
        """Start the worker thread."""
        self._thread.start()

    def stop(self) -> None:
        """Finish what is queued, then end the worker thread."""
        with self._cond:
            self._stopping = True
            self._cond.notify()
        if self._thread.is_alive():
            self._thread.join()

    async def predict(self, windows: Array) -> tuple[Array, int]:
        """One-step forecasts for (rows, window); also the size of the batch that ran."""
        result = await self._submit(rows=windows)
        return cast(tuple[Array, int], result)

    async def run(self, job: Callable[[], T]) -> T:
        """Run ``job`` on the worker thread, after what is already queued."""
        return cast(T, await self._submit(job=job))

    async def _submit(self, **work: object) -> object:
        loop = asyncio.get_running_loop()
        item = _Item(future=loop.create_future(), loop=loop, enqueued=self._clock(), **work)  # type: ignore[arg-type]
        with self._cond:
            if self._stopping:
                raise OverloadedError("the server is shutting down")
            if item.size and self._queued_rows + item.size > self._max_queue_rows:
                raise OverloadedError(
                    f"{self._queued_rows} rows are already waiting for the model; retry shortly",
                    limit=self._max_queue_rows,
                )
            self._queued_rows += item.size
            self._queue.append(item)
            self._cond.notify()
        return await item.future

    def _work(self) -> None:
        while True:
            with self._cond:
                while not self._queue and not self._stopping:
                    self._cond.wait()
                if not self._queue:
                    return
                batch = self._take()
                self._queued_rows -= sum(item.size for item in batch)
            self._process(batch)

    def _take(self) -> list[_Item]:
        """Pop the next job alone, or as many one-step requests as fit one batch."""
        first = self._queue.popleft()
        if first.job is not None:
            return [first]
        batch, rows = [first], first.size
        deadline = self._clock() + self._max_wait
        while rows < self._max_rows:
            if not self._queue:
                remaining = deadline - self._clock()
                if remaining <= 0 or not self._cond.wait(remaining) or not self._queue:
                    break
            head = self._queue[0]
            if head.job is not None or rows + head.size > self._max_rows:
                break
            batch.append(self._queue.popleft())
            rows += head.size
        return batch

    def _process(self, batch: list[_Item]) -> None:
        now = self._clock()
        live = [item for item in batch if not item.future.cancelled()]
        expired = [item for item in live if now - item.enqueued > self._timeout]
        for item in expired:
            _resolve(item, OverloadedError(f"waited over {self._timeout:g}s for the model"))
        live = [item for item in live if item not in expired]
        if not live:
            return
        wait = now - min(item.enqueued for item in live)
        try:
            if live[0].job is not None:
                results: list[object] = [live[0].job()]
                rows = 0
            else:
                results, rows = self._predict_batch(live)
        except ForecastError as exc:
            results = [exc] * len(live)
            rows = sum(item.size for item in live)
        except Exception as exc:  # noqa: BLE001 - any model failure must reach its caller
            results = [InferenceError(f"model computation failed: {exc}")] * len(live)
            rows = 0
        if self._observer is not None and live[0].job is None:
            self._observer(rows, len(live), wait, self._clock() - now)
        _deliver(live, results)

    def _predict_batch(self, items: list[_Item]) -> tuple[list[object], int]:
        parts = [cast(Array, item.rows) for item in items]
        windows = parts[0] if len(parts) == 1 else np.concatenate(parts)
        predictions = self._predict(windows)
        if len(predictions) != len(windows):
            raise InferenceError(
                f"model returned {len(predictions)} values for {len(windows)} rows"
            )
        bounds = np.cumsum([0] + [len(p) for p in parts])
        rows = len(windows)
        return [(predictions[a:b], rows) for a, b in zip(bounds[:-1], bounds[1:], strict=True)], rows


def _resolve(item: _Item, result: object) -> None:
    item.loop.call_soon_threadsafe(_resolve_all, [item], [result])


def _deliver(items: list[_Item], results: list[object]) -> None:
    """One wake-up per event loop for the whole batch, not one per request."""
    loops: dict[asyncio.AbstractEventLoop, tuple[list[_Item], list[object]]] = {}
    for item, result in zip(items, results, strict=True):
        group = loops.setdefault(item.loop, ([], []))
        group[0].append(item)
        group[1].append(result)
    for loop, (group_items, group_results) in loops.items():
        loop.call_soon_threadsafe(_resolve_all, group_items, group_results)


def _resolve_all(items: list[_Item], results: list[object]) -> None:
    """Runs on the event loop: hand each caller its result (or error)."""
    for item, result in zip(items, results, strict=True):
        if item.future.done():
            continue
        if isinstance(result, BaseException):
            item.future.set_exception(result)
        else:
            item.future.set_result(result)
