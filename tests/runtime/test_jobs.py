"""The heavy lane: admission, deadlines, cancellation and giving way to light work,
driven with plain generator jobs (no torch, no sleeps beyond a few ms)."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Generator

import pytest

from app.runtime.budget import check_cost, rolling_cost
from app.runtime.errors import DeadlineExceededError, JobCancelledError, LimitExceededError, OverloadedError
from app.runtime.jobs import Deadline, HeavyLane, JobContext, LightWork, run_to_end


class Steps:
    """A job of ``n`` chunks that records each chunk; chunk ``gate_at`` waits for ``gate``."""

    def __init__(self, n: int, gate_at: int = -1) -> None:
        self.n, self.gate_at = n, gate_at
        self.done: list[int] = []
        self.gate = threading.Event()
        self.at_gate = threading.Event()

    def __call__(self) -> Generator[None, None, int]:
        for i in range(self.n):
            if i == self.gate_at:
                self.at_gate.set()
                self.gate.wait(10)
            self.done.append(i)
            yield
        return self.n


def test_run_to_end_returns_the_result() -> None:
    assert run_to_end(Steps(3)()) == 3


def test_a_job_runs_to_its_result() -> None:
    lane = HeavyLane()
    assert asyncio.run(lane.run(Steps(5), JobContext())) == 5
    lane.close()


def test_admission_refuses_one_job_more_than_the_bound() -> None:
    async def scenario() -> None:
        lane = HeavyLane(max_jobs=2)
        first, second = Steps(2, gate_at=0), Steps(1)
        running = asyncio.create_task(lane.run(first, JobContext()))
        waiting = asyncio.create_task(lane.run(second, JobContext()))
        await asyncio.to_thread(first.at_gate.wait, 10)
        with pytest.raises(OverloadedError, match="2 long jobs"):
            await lane.run(Steps(1), JobContext())
        first.gate.set()
        assert (await running, await waiting) == (2, 1)
        assert lane.admitted == 0
        lane.close()

    asyncio.run(scenario())


def test_a_cancelled_job_stops_within_one_chunk() -> None:
    async def scenario() -> None:
        lane = HeavyLane()
        job = Steps(1000, gate_at=3)
        context = JobContext()
        task = asyncio.create_task(lane.run(job, context))
        await asyncio.to_thread(job.at_gate.wait, 10)
        context.token.cancel()  # what app.api.heavy does when the client disconnects
        job.gate.set()
        with pytest.raises(JobCancelledError):
            await task
        assert job.done == [0, 1, 2, 3]  # the chunk under way finished, no other began
        lane.close()

    asyncio.run(scenario())


def test_the_deadline_answers_on_time_and_stops_the_compute() -> None:
    async def scenario() -> None:
        lane = HeavyLane()
        job = Steps(1000, gate_at=2)
        with pytest.raises(DeadlineExceededError):
            await lane.run(job, JobContext(Deadline.after(0.2)))  # answered while the chunk still blocks
        job.gate.set()
        while lane.admitted:
            await asyncio.sleep(0.01)
        assert job.done == [0, 1, 2]
        lane.close()

    asyncio.run(scenario())


def test_a_job_whose_deadline_passed_while_waiting_never_starts() -> None:
    async def scenario() -> None:
        lane = HeavyLane()
        blocker, late = Steps(1, gate_at=0), Steps(5)
        first = asyncio.create_task(lane.run(blocker, JobContext()))
        await asyncio.to_thread(blocker.at_gate.wait, 10)
        with pytest.raises(DeadlineExceededError):
            await lane.run(late, JobContext(Deadline.after(0.05)))
        blocker.gate.set()
        await first
        while lane.admitted:
            await asyncio.sleep(0.01)
        assert late.done == []
        lane.close()

    asyncio.run(scenario())


def test_heavy_chunks_wait_while_light_work_is_pending() -> None:
    async def scenario() -> None:
        light = LightWork()
        lane = HeavyLane(light=light, yield_s=10.0)
        job = Steps(3)
        light.begin()  # a one-step batch is queued
        task = asyncio.create_task(lane.run(job, JobContext()))
        await asyncio.sleep(0.1)
        assert job.done == []  # no chunk started while light work was pending
        light.end()
        assert await task == 3
        lane.close()

    asyncio.run(scenario())


def test_the_budget_counts_quantile_levels_timestamps_and_walk_forward() -> None:
    # The request: 2,500 series x horizon 1,000, one path, 99 quantile levels.
    cost = rolling_cost(2500, 1000, paths=1, quantiles=99)
    assert cost.rows == 2500 * 1000 * (1 + 1 + 99)
    with pytest.raises(LimitExceededError, match="RNNCAST_MAX_COMPUTE_ROWS"):
        check_cost(cost, max_rows=5_000_000, max_response_bytes=1 << 40)
    assert rolling_cost(2, 10, timestamped=2).rows == 2 * 10 + 2 * 10
    assert rolling_cost(1, 1, walk_forward_points=50).rows == 1 + 100
    small = rolling_cost(100, 1000, quantiles=3, paths=10)
    with pytest.raises(LimitExceededError, match="RNNCAST_MAX_RESPONSE_BYTES") as refused:
        check_cost(small, max_rows=5_000_000, max_response_bytes=1_000_000)
    assert refused.value.limit == 1_000_000
