"""Exact quantiles of columns held as partitions, in two more passes and bounded memory.

A quantile is not mergeable, but the ranks it needs are: once the count, min and max are known (the
first pass of whoever asks), a histogram over [min, max] (pass one here) says which bins hold the ranks
that pandas' linear quantile and median read, and only the values of those bins are fetched (pass two,
as value counts). The answer then is exactly pandas': the same order statistics, combined by numpy's
``linear`` formula (``(n - 1) q``, then ``_lerp``).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd

from perennial.core.partitions import Reduce

BINS = 1024


@dataclass(frozen=True, slots=True)
class Span:
    count: int  # non-null values
    low: float  # smallest finite value
    high: float  # largest finite value


def exact_quantiles(
    reduce: Reduce, spans: Mapping[str, Span], quantiles: Sequence[float]
) -> dict[str, tuple[np.ndarray, float]]:
    """Each column's ``quantiles`` and median, as ``Series.quantile`` and ``Series.median`` give them."""
    if not spans:
        return {}
    histograms = reduce(lambda frame: {c: _histogram(frame[c], s) for c, s in spans.items()}, _add, list(spans))
    wanted = {c: _ranks(s.count, quantiles) for c, s in spans.items()}
    starts = {c: np.concatenate(([0], np.cumsum(h))) for c, h in histograms.items()}
    bins = {c: np.unique(np.searchsorted(starts[c], wanted[c], side="right") - 1) for c in spans}
    values = reduce(lambda frame: {c: _in_bins(frame[c], spans[c], bins[c]) for c in spans}, _concat, list(spans))
    return {c: _answer(spans[c].count, quantiles, starts[c], bins[c], *values[c]) for c in spans}


def _present(series: pd.Series) -> np.ndarray:
    values: np.ndarray = series.to_numpy(dtype=np.float64, na_value=np.nan)
    present: np.ndarray = values[~np.isnan(values)]
    return present


def _bin_of(values: np.ndarray, span: Span) -> np.ndarray:
    width = span.high - span.low
    scaled = (values - span.low) / width * BINS if width > 0 else np.zeros_like(values)
    bins: np.ndarray = np.clip(np.nan_to_num(scaled, posinf=BINS - 1, neginf=0), 0, BINS - 1).astype(np.int64)
    return bins


def _histogram(series: pd.Series, span: Span) -> np.ndarray:
    return np.bincount(_bin_of(_present(series), span), minlength=BINS)


def _in_bins(series: pd.Series, span: Span, bins: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    values = _present(series)
    chosen = values[np.isin(_bin_of(values, span), bins)]
    distinct, counts = np.unique(chosen, return_counts=True)
    return distinct, counts.astype(np.int64)


def _ranks(count: int, quantiles: Sequence[float]) -> np.ndarray:
    index = (count - 1) * np.asarray(quantiles, dtype=np.float64)
    lows = np.floor(index).astype(np.int64)
    ranks = np.concatenate((lows, np.minimum(lows + 1, count - 1), [(count - 1) // 2, count // 2]))
    return np.unique(ranks)


def _answer(
    count: int,
    quantiles: Sequence[float],
    starts: np.ndarray,
    bins: np.ndarray,
    distinct: np.ndarray,
    counts: np.ndarray,
) -> tuple[np.ndarray, float]:
    order = np.argsort(distinct, kind="stable")
    distinct, cumulative = distinct[order], np.cumsum(counts[order])
    before, seen = {}, 0  # the chosen values are the chosen bins' values, bin after bin
    for b in sorted(int(b) for b in bins):
        before[b], seen = seen, seen + int(starts[b + 1] - starts[b])

    def at(rank: int) -> float:
        b = int(np.searchsorted(starts, rank, side="right")) - 1
        position = rank - int(starts[b]) + before[b]
        return float(distinct[np.searchsorted(cumulative, position, side="right")])

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


def _add(left: dict[str, np.ndarray], right: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    return {c: left[c] + right[c] for c in left}


def _concat(
    left: dict[str, tuple[np.ndarray, np.ndarray]], right: dict[str, tuple[np.ndarray, np.ndarray]]
) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    merged = {}
    for c in left:
        values = np.concatenate((left[c][0], right[c][0]))
        counts = np.concatenate((left[c][1], right[c][1]))
        distinct, where = np.unique(values, return_inverse=True)
        merged[c] = (distinct, np.bincount(where, weights=counts, minlength=distinct.size).astype(np.int64))
    return merged
