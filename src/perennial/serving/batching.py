"""Adaptive micro-batching: concurrent requests coalesced into one predict call.

A request's cost is almost all fixed overhead (a pipeline call on 1 row costs about what it
costs on 100), so requests that arrive together are scored together. One worker thread runs
the predict calls, one batch at a time: it never oversubscribes the cores, and while it is
busy the next requests gather into the next batch by themselves. When it is idle the first
request goes at once, unless other requests have already arrived and are still being read:
then it waits for them, at most ``max_wait_s`` (the bounded wait Triton and BentoML use).
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections import deque
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

J = TypeVar("J")  # a job: one request's rows
R = TypeVar("R")  # its result

log = logging.getLogger("perennial.serving")


@dataclass(slots=True)
class _Item(Generic[J]):
    job: J
    rows: int
    future: asyncio.Future[Any]


@dataclass(frozen=True, slots=True)
class BatchStats:
    batches: int
    jobs: int
    rows: int

    def to_dict(self) -> dict[str, float]:
        return {
            "batches": self.batches,
            "jobs": self.jobs,
            "rows": self.rows,
            "mean_jobs_per_batch": round(self.jobs / self.batches, 2) if self.batches else 0.0,
        }


class MicroBatcher(Generic[J, R]):
    """``process(jobs) -> (results, context)`` runs in the worker thread, one result per job.

    The futures are resolved as soon as ``process`` returns; ``after(context)`` then runs in
    the same thread (shadow scoring, logging) without delaying those responses.
    """

    def __init__(
        self,
        process: Callable[[list[J]], tuple[list[R], Any]],
        *,
        max_rows: int,
        max_wait_s: float,
        after: Callable[[Any], None] | None = None,
        initializer: Callable[[], None] | None = None,
        on_batch: Callable[[int, int, float], None] | None = None,
    ) -> None:
        self._process, self._after, self._on_batch = process, after, on_batch
        self.max_rows, self.max_wait_s = max_rows, max_wait_s
        self._executor = ThreadPoolExecutor(1, thread_name_prefix="perennial-predict", initializer=initializer)
        self._pending: deque[_Item[J]] = deque()
        self._expected = 0  # requests being read that will submit soon
        self._wakeup: asyncio.Event | None = None
        self._task: asyncio.Task[None] | None = None
        self._batches = self._jobs = self._rows = 0

    # --- the request side -----------------------------------------------------------------

    def expect(self) -> None:
        """A request has arrived and will submit (or withdraw) once its body is read."""
        self._expected += 1

    def withdraw(self) -> None:
        self._expected = max(0, self._expected - 1)

    async def submit(self, job: J, rows: int) -> R:
        """Score a job in the next batch; the caller must have called ``expect`` first."""
        if self._task is None or self._wakeup is None:
            raise RuntimeError("the batcher is not running")
        future: asyncio.Future[R] = asyncio.get_running_loop().create_future()
        self.withdraw()
        self._pending.append(_Item(job, rows, future))
        self._wakeup.set()
        return await future

    # --- the batching loop ----------------------------------------------------------------

    async def start(self) -> None:
        self._wakeup = asyncio.Event()
        self._task = asyncio.create_task(self._run(), name="perennial-batcher")

    async def stop(self) -> None:
        """Score what is pending, then stop the worker."""
        if self._task is not None:
            deadline = time.monotonic() + 10
            while self._pending and not self._task.done() and time.monotonic() < deadline:
                await asyncio.sleep(0.005)
            self._task.cancel()
            try:
                await self._task
            except asyncio.CancelledError:
                pass
            self._task = None
        self._executor.shutdown(wait=True)

    @property
    def stats(self) -> BatchStats:
        return BatchStats(self._batches, self._jobs, self._rows)

    def _pending_rows(self) -> int:
        return sum(item.rows for item in self._pending)

    async def _gather(self) -> None:
        """Wait (bounded) for requests that have arrived but not yet submitted."""
        assert self._wakeup is not None
        deadline = time.monotonic() + self.max_wait_s
        while self._expected > 0 and self._pending_rows() < self.max_rows:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                return
            self._wakeup.clear()
            try:
                await asyncio.wait_for(self._wakeup.wait(), remaining)
            except TimeoutError:
                return

    def _take(self) -> list[_Item[J]]:
        batch = [self._pending.popleft()]  # one job larger than max_rows still goes, alone
        rows = batch[0].rows
        while self._pending and rows + self._pending[0].rows <= self.max_rows:
            item = self._pending.popleft()
            batch.append(item)
            rows += item.rows
        return batch

    async def _run(self) -> None:
        assert self._wakeup is not None
        loop = asyncio.get_running_loop()
        while True:
            if not self._pending:
                self._wakeup.clear()
                await self._wakeup.wait()
                continue
            if self.max_wait_s > 0 and self._expected > 0:
                await self._gather()
            batch = [item for item in self._take() if not item.future.done()]  # skip cancelled callers
            if batch:
                await loop.run_in_executor(self._executor, self._execute, loop, batch)

    # --- the worker thread ----------------------------------------------------------------

    def _execute(self, loop: asyncio.AbstractEventLoop, batch: list[_Item[J]]) -> None:
        started = time.perf_counter()
        jobs = [item.job for item in batch]
        contexts: list[Any] = []
        try:
            results, context = self._process(jobs)
            outcomes: list[Any] = list(results)
            contexts.append(context)
        except Exception as exc:
            if len(jobs) == 1:
                log.exception("a predict call failed")
                outcomes = [exc]
            else:  # one bad job must not fail its neighbours: score them one by one
                outcomes = []
                for job in jobs:
                    try:
                        (result,), context = self._process([job])
                        outcomes.append(result)
                        contexts.append(context)
                    except Exception as job_exc:
                        log.exception("a predict call failed")
                        outcomes.append(job_exc)
        rows = sum(item.rows for item in batch)
        self._batches, self._jobs, self._rows = self._batches + 1, self._jobs + len(batch), self._rows + rows
        loop.call_soon_threadsafe(_resolve, batch, outcomes)
        if self._on_batch is not None:
            self._on_batch(len(batch), rows, time.perf_counter() - started)
        if self._after is not None:
            for context in contexts:
                try:
                    self._after(context)
                except Exception:  # shadow scoring or logging never breaks serving
                    log.exception("post-batch work failed")


def _resolve(batch: list[_Item[Any]], outcomes: list[Any]) -> None:
    for item, outcome in zip(batch, outcomes, strict=True):
        if item.future.done():
            continue
        if isinstance(outcome, Exception):
            item.future.set_exception(outcome)
        else:
            item.future.set_result(outcome)
