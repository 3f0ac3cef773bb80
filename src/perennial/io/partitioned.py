"""Core's partition reductions run by Dask: each partition summarised where it is read, merged in a tree.

``dask_reduce`` is a ``core.partitions.Reduce`` over a Dask DataFrame's partitions: one delayed
``summarise`` per partition, then adjacent pairs merged (left before right, so row order holds) until one
summary is left; only summaries travel, and a partition is freed once summarised. ``scheduler`` is any
Dask scheduler: "synchronous" (one thread, the tests), "threads", or None for the active one (a
``distributed.Client`` when one is running, e.g. a local cluster or ``PERENNIAL_DASK_ADDRESS``).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any, TypeVar

import pandas as pd

from perennial.core.partitions import Reduce

if TYPE_CHECKING:
    import dask.dataframe as dd

T = TypeVar("T")


def dask_reduce(frame: dd.DataFrame, scheduler: Any = "synchronous") -> Reduce:
    """A ``Reduce`` over ``frame``'s partitions, computed on ``scheduler`` when called."""
    from dask.base import compute
    from dask.delayed import delayed

    def reduce(
        summarise: Callable[[pd.DataFrame], T], merge: Callable[[T, T], T], columns: Sequence[str] | None = None
    ) -> T:
        chosen = frame if columns is None else frame[list(columns)]  # Parquet then reads only these
        level = [delayed(summarise)(part) for part in chosen.to_delayed()]
        while len(level) > 1:
            pairs = [delayed(merge)(a, b) for a, b in zip(level[::2], level[1::2], strict=False)]
            level = pairs + ([level[-1]] if len(level) % 2 else [])
        (result,) = compute(level[0], scheduler=scheduler)  # type: ignore[no-untyped-call]
        merged: T = result
        return merged

    return reduce
