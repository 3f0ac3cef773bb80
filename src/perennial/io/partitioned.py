"""Core's partition reductions run by Dask: each partition summarised where it is read, merged in a tree.

``dask_reduce`` is a ``core.partitions.Reduce`` over a Dask DataFrame's partitions: one delayed
``summarise`` per partition, then adjacent pairs merged (left before right, so row order holds) until one
summary is left; only summaries travel, and a partition is freed once summarised. ``scheduler`` is any
Dask scheduler: "synchronous" (one thread, the tests), "threads", or None for the active one (a
``distributed.Client`` when one is running, e.g. a local cluster or ``PERENNIAL_DASK_ADDRESS``).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any, TypeVar

import pandas as pd

from perennial.core.partitions import Reduce
from perennial.io.prediction_store_parquet import DayStaging, ParquetPredictionStore

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


def gather_frame(frame: dd.DataFrame, scheduler: Any = "synchronous") -> pd.DataFrame:
    """``frame``'s partitions computed and brought into this process, concatenated here in order.

    Dask's own ``compute`` first concatenates every partition on one worker (its finalize step), which then
    holds the whole result two or three times over: a 20M-row window's scores went past a worker's
    memory limit under a 4 GB cap. Here each partition travels alone and only this process holds it all.
    On a ``distributed`` cluster each partition is fetched as soon as it is computed and then released, so
    the workers never hold the result either (waiting for them all, they did: a 20M-row label join
    went past their limits).
    """
    delayed = list(frame.to_delayed())  # type: ignore[no-untyped-call]
    client = _client(scheduler)
    if client is None:
        from dask.base import compute

        parts: list[pd.DataFrame] = list(compute(*delayed, scheduler=scheduler))  # type: ignore[no-untyped-call]
    else:
        parts = _as_computed(client, delayed, shown=scheduler is not client)
    filled = [part for part in parts if len(part)]  # as Dask's concatenation: an empty part's dtypes may differ
    if not filled:
        return parts[0]
    whole = pd.concat(filled)
    del parts, filled
    release_freed_memory()
    return whole


def release_freed_memory() -> None:
    """Hand the heap's freed pages back to the system (glibc's ``malloc_trim``, as Dask's docs advise for
    workers; nothing elsewhere). The parts of a gathered frame, once concatenated, are freed yet kept by
    the allocator: a 20M-row label join held 750 MB more than its rows, and went past a 4 GB cap."""
    import ctypes
    import gc

    gc.collect()
    try:
        ctypes.CDLL("libc.so.6").malloc_trim(0)
    except (OSError, AttributeError):  # not glibc (macOS, musl): its allocator decides
        pass


def _client(scheduler: Any) -> Any:
    """The ``distributed.Client`` behind ``scheduler`` (itself, or the one a progress-drawing scheduler
    computes on, its ``client``), or None for Dask's local schedulers."""
    if scheduler is None or isinstance(scheduler, str):
        return None
    from distributed import Client

    client = getattr(scheduler, "client", scheduler)
    return client if isinstance(client, Client) else None


def _as_computed(client: Any, parts: list[Any], shown: bool) -> list[Any]:
    """Each delayed partition's frame, in order, fetched from the cluster as soon as it is done; with
    ``shown``, a progress bar counts the partitions as they come (Dask's own waits for them all)."""
    from distributed import as_completed
    from rich.progress import track

    futures = client.compute(parts)
    place = {future.key: n for n, future in enumerate(futures)}
    done: list[Any] = [None] * len(futures)
    arriving = as_completed(futures, with_results=True)  # type: ignore[no-untyped-call]
    bar = track(arriving, total=len(futures), description="partitions", disable=not shown, transient=True)
    for future, part in bar:
        done[place[future.key]] = part
        future.release()  # the worker may free it now
    futures.clear()
    return done


def write_days(
    rows: dd.DataFrame, store: ParquetPredictionStore, source: str, keep: Sequence[str], scheduler: Any = "synchronous"
) -> tuple[pd.DataFrame, list[dt.date]]:
    """Write prediction ``rows`` into ``store``, a partition at a time, replacing every day they cover
    (``replace_days`` for a frame larger than memory; a failure leaves the store as it was).

    Each partition is written where it is computed (workers need the store's file system); only its
    ``keep`` columns come back, concatenated in row order, with the days replaced.
    """
    wanted = [c for c in keep if c in rows.columns]
    staging = store.stage(source)
    written = rows.map_partitions(_write_part, staging, wanted, meta=rows._meta.loc[:, wanted])  # type: ignore[no-untyped-call]
    try:
        kept = gather_frame(written, scheduler)
    except BaseException:
        staging.discard()
        raise
    return kept.reset_index(drop=True), store.install(source, staging)


def _write_part(rows: pd.DataFrame, staging: DayStaging, keep: list[str]) -> pd.DataFrame:
    staging.write(rows)
    return rows.loc[:, keep]
