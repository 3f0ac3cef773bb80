"""OpenMP threads sized to the rows: one for a small table, every core for a large one.

HistGradientBoosting fits and predicts through OpenMP, whose threads spin while they wait for
each other. On a small table each parallel region lasts microseconds, so the waits are the work,
and with the cores busy elsewhere (another flow, CI) a fit of a few hundred rows on every core
took many times longer than on one. Below ``SMALL_TABLE_ROWS`` a fit or an importance pass runs
on one OpenMP thread: on an idle machine that costs a fraction of a second there, under load it
saves most of the time. Larger tables keep every core.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from threadpoolctl import threadpool_limits

SMALL_TABLE_ROWS = 20_000


@contextmanager
def openmp_for(rows: int) -> Iterator[None]:
    """One OpenMP thread while fitting or scoring fewer than ``SMALL_TABLE_ROWS`` rows; no limit above."""
    if rows >= SMALL_TABLE_ROWS:
        yield
        return
    with threadpool_limits(limits=1, user_api="openmp"):
        yield
