"""The dynamic batcher, driven directly with fake models (no sleeps, no torch)."""

from __future__ import annotations

import asyncio
import threading

import numpy as np
import pytest

from app.runtime.batcher import Batcher
from app.runtime.errors import DeadlineExceededError, InferenceError, OverloadedError
from app.runtime.jobs import Deadline, LightWork


class GatedModel:
    """Doubles the last column; blocks each call until the test opens the gate."""

    def __init__(self) -> None:
        self.calls: list[int] = []
        self.gate = threading.Event()
        self.entered = threading.Event()

    def __call__(self, windows: np.ndarray) -> np.ndarray:
        self.entered.set()
        self.gate.wait(10)
        self.calls.append(len(windows))
        return windows[:, -1] * 2


def rows(*values: float) -> np.ndarray:
    return np.array([[0.0, v] for v in values], dtype=np.float32)


async def wait_event(event: threading.Event) -> None:
    assert await asyncio.to_thread(event.wait, 10)


def test_requests_arriving_during_a_forward_share_the_next_one() -> None:
    async def scenario() -> None:
        model = GatedModel()
        seen: list[tuple[int, int]] = []
        batcher = Batcher(model, max_batch_rows=64, observer=lambda r, n, w, c: seen.append((r, n)))
        first = asyncio.create_task(batcher.predict(rows(1)))
        await wait_event(model.entered)  # the worker is busy with the first request
        rest = [asyncio.create_task(batcher.predict(rows(i, i + 0.5))) for i in range(2, 7)]
        await asyncio.sleep(0)  # let every task enqueue
        while batcher._queued_rows < 10:  # noqa: SLF001 - test looks at the queue
            await asyncio.sleep(0)
        model.gate.set()
        out, batch = await first
        assert out.tolist() == [2.0] and batch == 1
        for i, task in enumerate(rest, start=2):
            values, batch_rows = await task
            assert values.tolist() == [2.0 * i, 2.0 * i + 1.0]
            assert batch_rows == 10
        assert model.calls == [1, 10]
        assert seen == [(1, 1), (10, 5)]
        batcher.stop()

    asyncio.run(scenario())


def test_batches_respect_max_rows() -> None:
    async def scenario() -> None:
        model = GatedModel()
        batcher = Batcher(model, max_batch_rows=4)
        first = asyncio.create_task(batcher.predict(rows(0)))
        await wait_event(model.entered)
        tasks = [asyncio.create_task(batcher.predict(rows(1, 2, 3))) for _ in range(3)]
        while batcher._queued_rows < 9:  # noqa: SLF001
            await asyncio.sleep(0)
        model.gate.set()
        await asyncio.gather(first, *tasks)
        assert model.calls == [1, 3, 3, 3]
        batcher.stop()

    asyncio.run(scenario())


def test_wrong_output_count_fails_every_caller() -> None:
    async def scenario() -> None:
        batcher = Batcher(lambda w: np.zeros(len(w) + 1, dtype=np.float32), max_batch_rows=8)
        with pytest.raises(InferenceError, match="returned 3 values for 2 rows"):
            await batcher.predict(rows(1, 2))
        batcher.stop()

    asyncio.run(scenario())


@pytest.mark.parametrize("inline", [False, True])
def test_model_exception_reaches_every_caller_as_inference_error(inline: bool) -> None:
    def broken(windows: np.ndarray) -> np.ndarray:
        raise ValueError("boom")

    async def scenario() -> None:
        batcher = Batcher(broken, max_batch_rows=8, inline=inline)
        results = await asyncio.gather(batcher.predict(rows(1)), batcher.predict(rows(2)), return_exceptions=True)
        assert len(results) == 2
        assert all(isinstance(r, InferenceError) and "boom" in str(r) for r in results)
        batcher.stop()

    asyncio.run(scenario())


def test_full_queue_refuses_at_once() -> None:
    async def scenario() -> None:
        model = GatedModel()
        batcher = Batcher(model, max_batch_rows=8, max_queue_rows=3)
        first = asyncio.create_task(batcher.predict(rows(1)))
        await wait_event(model.entered)
        queued = asyncio.create_task(batcher.predict(rows(1, 2, 3)))
        while batcher._queued_rows < 3:  # noqa: SLF001
            await asyncio.sleep(0)
        with pytest.raises(OverloadedError, match="already waiting"):
            await batcher.predict(rows(4))
        model.gate.set()
        await asyncio.gather(first, queued)
        batcher.stop()

    asyncio.run(scenario())


def test_queue_timeout_refuses_at_its_time_while_the_model_is_busy() -> None:
    """The timeout is a timer: the refusal comes when it runs out, not when the
    forward pass in front of the request ends (that one is still running here)."""

    async def scenario() -> None:
        model = GatedModel()
        batcher = Batcher(model, max_batch_rows=8, queue_timeout_s=0.2)
        first = asyncio.create_task(batcher.predict(rows(1)))
        await wait_event(model.entered)
        started = asyncio.get_running_loop().time()
        with pytest.raises(OverloadedError, match="waited over 0.2s"):
            await batcher.predict(rows(2))
        assert asyncio.get_running_loop().time() - started < 5  # the gate is still closed
        model.gate.set()
        await first
        assert model.calls == [1]  # the refused request was never computed
        batcher.stop()

    asyncio.run(scenario())


def test_a_request_deadline_refuses_a_queued_request_with_504_error() -> None:
    async def scenario() -> None:
        model = GatedModel()
        batcher = Batcher(model, max_batch_rows=8, queue_timeout_s=30)
        first = asyncio.create_task(batcher.predict(rows(1)))
        await wait_event(model.entered)
        with pytest.raises(DeadlineExceededError):
            await batcher.predict(rows(2), Deadline.after(0.1))
        model.gate.set()
        await first
        assert model.calls == [1]
        batcher.stop()

    asyncio.run(scenario())


def test_light_work_is_signalled_while_batches_are_pending() -> None:
    async def scenario() -> None:
        model = GatedModel()
        light = LightWork()
        batcher = Batcher(model, max_batch_rows=8, light=light)
        assert light.wait_idle(0)
        first = asyncio.create_task(batcher.predict(rows(1)))
        await wait_event(model.entered)
        assert not light.wait_idle(0)
        model.gate.set()
        await first
        await asyncio.sleep(0)
        assert light.wait_idle(1)
        batcher.stop()

    asyncio.run(scenario())


def test_stop_finishes_queued_work_then_refuses() -> None:
    async def scenario() -> None:
        model = GatedModel()
        model.gate.set()
        batcher = Batcher(model, max_batch_rows=8)
        assert (await batcher.predict(rows(1)))[0].tolist() == [2.0]
        await asyncio.to_thread(batcher.stop)
        with pytest.raises(OverloadedError, match="shutting down or being replaced"):
            await batcher.predict(rows(1))

    asyncio.run(scenario())


def test_requests_queued_when_the_model_is_replaced_still_complete() -> None:
    async def scenario() -> None:
        model = GatedModel()
        batcher = Batcher(model, max_batch_rows=8)
        first = asyncio.create_task(batcher.predict(rows(1)))
        await wait_event(model.entered)
        queued = asyncio.create_task(batcher.predict(rows(2)))
        while batcher._queued_rows < 1:  # noqa: SLF001
            await asyncio.sleep(0)
        batcher.stop()  # a reload swapped in a new model meanwhile
        model.gate.set()
        assert (await first)[0].tolist() == [2.0]
        assert (await queued)[0].tolist() == [4.0]

    asyncio.run(scenario())


class ThreadRecorder:
    """Doubles the last column and notes which thread ran each call."""

    def __init__(self) -> None:
        self.threads: list[str] = []
        self.calls: list[int] = []

    def __call__(self, windows: np.ndarray) -> np.ndarray:
        self.threads.append(threading.current_thread().name)
        self.calls.append(len(windows))
        return windows[:, -1] * 2


def test_inline_batches_run_on_the_event_loop() -> None:
    async def scenario() -> None:
        model = ThreadRecorder()
        batcher = Batcher(model, max_batch_rows=64, inline=True, name="m")
        values, batch_rows = await batcher.predict(rows(1, 2))
        assert values.tolist() == [2.0, 4.0] and batch_rows == 2
        assert model.threads == [threading.current_thread().name]
        batcher.stop()

    asyncio.run(scenario())


def test_inline_requests_enqueued_in_one_pass_share_a_forward() -> None:
    """Requests the loop parsed together (here: tasks started together) form one batch,
    although an inline forward lets nothing else run while it computes."""

    async def scenario() -> None:
        model = ThreadRecorder()
        batcher = Batcher(model, max_batch_rows=64, inline=True)
        results = await asyncio.gather(*(batcher.predict(rows(i)) for i in range(5)))
        assert [values.tolist() for values, _ in results] == [[2.0 * i] for i in range(5)]
        assert model.calls == [5]
        assert {batch_rows for _, batch_rows in results} == {5}
        batcher.stop()

    asyncio.run(scenario())

