"""Exact quantiles of columns held as partitions, in a few more passes and bounded memory.

A quantile is not mergeable, but the ranks it needs are: once the count, min and max are known (the
first pass of whoever asks), a histogram of 1,024 bins over [min, max] says which bins hold the ranks
that pandas' linear quantile and median read. A bin holding more than ``limit`` values is split again
by another histogram pass over it (skewed data: most values in one bin), until each rank's bin is small
or holds one value (each bin's smallest and largest value travel with its count); then one pass fetches
those bins' values as value counts. The answer is exactly pandas': the same order statistics, combined
by numpy's ``linear`` formula (``(n - 1) q``, then ``_lerp``).
A bin is always the same function of the value (``_bin_of`` with the same span), so the passes agree.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd

from perennial.core.partitions import Reduce

BINS = 1024
LIMIT = 1_000_000  # values fetched for one bin at most (8 MB), unless they are all one value
MAX_DEPTH = 8  # splits of a bin; 1024^8 bins resolve any two distinct float64 values in practice

Level = tuple[float, float, int]  # a bin of a histogram: its span's low and high, and the bin


@dataclass(frozen=True, slots=True)
class Span:
    count: int  # non-null values
    low: float  # smallest finite value
    high: float  # largest finite value


@dataclass(frozen=True, slots=True, eq=False)
class _Bins:
    """A histogram's counts and each bin's smallest and largest value (mergeable: add)."""

    counts: np.ndarray  # int64
    low: np.ndarray  # +inf where empty
    high: np.ndarray  # -inf where empty

    def __add__(self, other: _Bins) -> _Bins:
        return _Bins(self.counts + other.counts, np.minimum(self.low, other.low), np.maximum(self.high, other.high))


@dataclass(frozen=True, slots=True)
class _Window:
    """Values inside every level's bin; ``before`` values of the column order before them."""

    levels: tuple[Level, ...]
    low: float
    high: float
    before: int


def exact_quantiles(
    reduce: Reduce, spans: Mapping[str, Span], quantiles: Sequence[float], limit: int = LIMIT
) -> dict[str, tuple[np.ndarray, float]]:
    """Each column's ``quantiles`` and median, as ``Series.quantile`` and ``Series.median`` give them."""
    pending = {c: {int(r): _Window((), s.low, s.high, 0) for r in _ranks(s.count, quantiles)} for c, s in spans.items()}
    found: dict[str, dict[int, _Window]] = {c: {} for c in spans}  # rank -> the small bin holding it
    while any(pending.values()):
        windows = {c: sorted(set(w.values()), key=lambda w: w.levels) for c, w in pending.items() if w}
        histograms = reduce(
            lambda frame: {c: [_histogram(frame[c], w) for w in ws] for c, ws in windows.items()},
            lambda a, b: {c: [x + y for x, y in zip(a[c], b[c], strict=True)] for c in a},
            list(windows),
        )
        for column, ranks in pending.items():
            pending[column] = {}
            for rank, window in ranks.items():
                bins = histograms[column][windows[column].index(window)]
                starts = np.concatenate(([0], np.cumsum(bins.counts))) + window.before
                k = int(np.searchsorted(starts, rank, side="right")) - 1
                child = _child(window, k, int(starts[k]))
                # one value however often (a sensor's usual reading, a default): its count is all a fetch needs
                one_value = bins.low[k] == bins.high[k]
                small = bins.counts[k] <= limit or one_value or len(child.levels) >= MAX_DEPTH
                (found[column] if small else pending[column])[rank] = child
    targets = {c: sorted(set(w.values()), key=lambda w: w.levels) for c, w in found.items()}
    values = reduce(
        lambda frame: {c: [_value_counts(frame[c], w) for w in ws] for c, ws in targets.items()},
        lambda a, b: {c: [_add_counts(x, y) for x, y in zip(a[c], b[c], strict=True)] for c in a},
        list(targets),
    )

    def at(column: str, rank: int) -> float:
        window = found[column][rank]
        distinct, counts = values[column][targets[column].index(window)]
        return float(distinct[np.searchsorted(np.cumsum(counts), rank - window.before, side="right")])

    return {c: _answer(s.count, quantiles, functools.partial(at, c)) for c, s in spans.items()}


def _child(window: _Window, k: int, before: int) -> _Window:
    width = (window.high - window.low) / BINS
    low = window.low + k * width
    return _Window((*window.levels, (window.low, window.high, k)), low, low + width, before)


def _present(series: pd.Series) -> np.ndarray:
    values: np.ndarray = series.to_numpy(dtype=np.float64, na_value=np.nan)
    present: np.ndarray = values[~np.isnan(values)]
    return present


def _bin_of(values: np.ndarray, low: float, high: float) -> np.ndarray:
    width = high - low
    scaled = (values - low) / width * BINS if width > 0 else np.zeros_like(values)
    bins: np.ndarray = np.clip(np.nan_to_num(scaled, posinf=BINS - 1, neginf=0), 0, BINS - 1).astype(np.int64)
    return bins


def _inside(series: pd.Series, window: _Window) -> np.ndarray:
    values = _present(series)
    for low, high, k in window.levels:
        values = values[_bin_of(values, low, high) == k]
    return values


def _histogram(series: pd.Series, window: _Window) -> _Bins:
    values = _inside(series, window)
    bins = _bin_of(values, window.low, window.high)
    low, high = np.full(BINS, np.inf), np.full(BINS, -np.inf)
    np.minimum.at(low, bins, values)
    np.maximum.at(high, bins, values)
    return _Bins(np.bincount(bins, minlength=BINS), low, high)


def _value_counts(series: pd.Series, window: _Window) -> tuple[np.ndarray, np.ndarray]:
    distinct, counts = np.unique(_inside(series, window), return_counts=True)
    return distinct, counts.astype(np.int64)


def _add_counts(
    left: tuple[np.ndarray, np.ndarray], right: tuple[np.ndarray, np.ndarray]
) -> tuple[np.ndarray, np.ndarray]:
    distinct, where = np.unique(np.concatenate((left[0], right[0])), return_inverse=True)
    counts = np.bincount(where, weights=np.concatenate((left[1], right[1])), minlength=distinct.size)
    return distinct, counts.astype(np.int64)


def _ranks(count: int, quantiles: Sequence[float]) -> np.ndarray:
    index = (count - 1) * np.asarray(quantiles, dtype=np.float64)
    lows = np.floor(index).astype(np.int64)
    ranks = np.concatenate((lows, np.minimum(lows + 1, count - 1), [(count - 1) // 2, count // 2]))
    return np.unique(ranks)


def _answer(count: int, quantiles: Sequence[float], at: Callable[[int], float]) -> tuple[np.ndarray, float]:
    index = (count - 1) * np.asarray(quantiles, dtype=np.float64)
    lows = np.floor(index).astype(np.int64)
    left = np.array([at(int(r)) for r in lows])
    right = np.array([at(int(min(r + 1, count - 1))) for r in lows])
    gamma = index - lows
    diff = right - left
    result = np.where(gamma >= 0.5, right - diff * (1 - gamma), left + diff * gamma)  # numpy's _lerp
    middle = (count - 1) // 2
    median = at(middle) if count % 2 else float(np.mean([at(middle), at(count // 2)]))
    return result, median
