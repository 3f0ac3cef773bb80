"""How a statistic is computed over a window held as partitions: summarise each, merge in order.

Core code never holds the partitions: it hands a ``Reduce`` a per-partition ``summarise`` and an
associative ``merge`` (left partition first, so "the first 20 offending values" keep row order) and gets
one merged summary back; ``columns`` names the only columns ``summarise`` reads, so a columnar source
reads no others (None: all). ``over_frames`` runs it in this process on frames already in memory;
``perennial.io.partitioned.dask_reduce`` runs it over a Dask DataFrame's partitions, out of core.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Sequence
from typing import Protocol, TypeVar

import pandas as pd

T = TypeVar("T")


class Reduce(Protocol):
    def __call__(
        self, summarise: Callable[[pd.DataFrame], T], merge: Callable[[T, T], T], columns: Sequence[str] | None = None
    ) -> T: ...


def over_frames(frames: Sequence[pd.DataFrame]) -> Reduce:
    """A ``Reduce`` over frames in memory, in order (for tests and small windows)."""
    if not frames:
        raise ValueError("no partitions to reduce")

    def reduce(
        summarise: Callable[[pd.DataFrame], T], merge: Callable[[T, T], T], columns: Sequence[str] | None = None
    ) -> T:
        chosen = (frame if columns is None else frame[list(columns)] for frame in frames)
        return functools.reduce(merge, (summarise(frame) for frame in chosen))

    return reduce


def split_frame(frame: pd.DataFrame, parts: int) -> list[pd.DataFrame]:
    """``frame`` as ``parts`` consecutive row blocks (some may be empty), as a partitioned source holds it."""
    bounds = [round(i * len(frame) / parts) for i in range(parts + 1)]
    return [frame.iloc[lo:hi] for lo, hi in zip(bounds[:-1], bounds[1:], strict=True)]
