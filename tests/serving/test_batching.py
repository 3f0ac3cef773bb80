"""The micro-batcher with a fake model: coalescing, bounded waits, isolation of a bad job."""

from __future__ import annotations

import asyncio
import threading
import time
from typing import Any

import pytest

from perennial.serving.batching import MicroBatcher


class Recorder:
    """A fake predict: doubles numbers, fails on 'bad', remembers each call's jobs and thread."""

    def __init__(self, seconds: float = 0.0) -> None:
        self.seconds, self.calls, self.threads, self.after = seconds, [], set(), []

    def process(self, jobs: list[Any]) -> tuple[list[Any], Any]:
        self.calls.append(list(jobs))
        self.threads.add(threading.get_ident())
        time.sleep(self.seconds)
        if "bad" in jobs:
            raise ValueError("bad input")
        return [j * 2 for j in jobs], list(jobs)


async def run(
    recorder: Recorder, jobs: list[Any], *, max_rows: int = 512, wait_s: float = 0.002, rows: int = 1
) -> list[Any]:
    batcher: MicroBatcher[Any, Any] = MicroBatcher(
        recorder.process, max_rows=max_rows, max_wait_s=wait_s, after=recorder.after.append
    )
    await batcher.start()
    try:

        async def one(job: Any) -> Any:
            batcher.expect()
            await asyncio.sleep(0)  # reading the body
            return await batcher.submit(job, rows)

        return await asyncio.gather(*(one(j) for j in jobs), return_exceptions=True)
    finally:
        await batcher.stop()


def test_concurrent_requests_are_coalesced_into_few_predict_calls_in_one_thread() -> None:
    # given a predict call that takes 50 ms, and 20 requests arriving together
    recorder = Recorder(seconds=0.05)
    # when they are submitted
    results = asyncio.run(run(recorder, list(range(20))))
    # then each gets its own answer, from at most two calls, all made by a single worker thread
    assert results == [i * 2 for i in range(20)]
    assert len(recorder.calls) <= 2 and sorted(j for call in recorder.calls for j in call) == list(range(20))
    assert len(recorder.threads) == 1
    # and the post-batch work saw every job, after the answers
    assert sorted(j for context in recorder.after for j in context) == list(range(20))


def test_a_lone_request_does_not_wait() -> None:
    recorder = Recorder()
    started = time.perf_counter()
    assert asyncio.run(run(recorder, [21], wait_s=1.0)) == [42]
    assert time.perf_counter() - started < 0.5


def test_the_wait_for_announced_requests_is_bounded() -> None:
    async def scenario() -> tuple[Any, float]:
        recorder = Recorder()
        batcher: MicroBatcher[Any, Any] = MicroBatcher(recorder.process, max_rows=512, max_wait_s=0.2)
        await batcher.start()
        batcher.expect()
        batcher.expect()  # a second request arrived but never submits (its client went away)
        started = time.perf_counter()
        result = await batcher.submit(5, 1)
        elapsed = time.perf_counter() - started
        await batcher.stop()
        return result, elapsed

    result, elapsed = asyncio.run(scenario())
    assert result == 10 and 0.15 <= elapsed < 1.0


def test_a_bad_job_fails_alone_and_its_neighbours_are_answered() -> None:
    recorder = Recorder(seconds=0.02)
    results = asyncio.run(run(recorder, [1, 2, "bad", 4, 5]))
    assert [r for r in results if not isinstance(r, Exception)] == [2, 4, 8, 10]
    assert isinstance(results[2], ValueError)


def test_batches_respect_max_rows() -> None:
    recorder = Recorder(seconds=0.01)
    asyncio.run(run(recorder, list(range(6)), max_rows=512, rows=300))
    assert all(len(call) == 1 for call in recorder.calls)


def test_submitting_to_a_stopped_batcher_is_an_error() -> None:
    batcher: MicroBatcher[Any, Any] = MicroBatcher(Recorder().process, max_rows=1, max_wait_s=0)
    with pytest.raises(RuntimeError, match="not running"):
        asyncio.run(batcher.submit(1, 1))
