"""Drift of a window held as partitions: mergeable per-partition sketches, one pass, bounded memory.

Each partition is summarised against the reference into a ``WindowSketch``; sketches merge by addition
(counts, sums) and min/max, so a window of any size costs one pass and memory proportional to the grid.

- A categorical column keeps its category counts: exact, so its verdict and statistic equal ``detect_drift``'s.
- A numeric column is binned on a **grid of reference values**: every distinct reference value when there
  are at most ``MAX_EDGES`` of them, else ``MAX_EDGES`` reference quantiles. Per bin the sketch keeps how
  many window values sit exactly on the bin's left edge and, for the values strictly inside, their count,
  sum, min and max. The window is then approximated by atoms: the edge values where they are, and each
  bin's inside values at their mean.

  * K-S (reference of at most 1,000 rows, so always the exact grid): the statistic depends only on the two
    CDFs at the reference values and on which open interval each window value falls in, which the atoms
    keep: the p-value is **exact** (scipy's exact method up to 10,000 window rows, its asymptotic one above).
  * Wasserstein: the atoms' W1 equals the window's on every bin where the reference CDF is constant and the
    window's CDF does not cross it (always the case outside the reference's range). Elsewhere the error is
    at most the bin's share times the largest mean absolute deviation a sample with that min, max and mean
    can have, ``2 (mean - min)(max - mean) / (max - min)``. ``wasserstein_error`` returns that bound
    (over the reference std, like the statistic): the documented tolerance, checked by the parity test.
  * A numeric column with at most 5 distinct values (reference and window) keeps the window's value counts:
    exact, as in memory.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd
from scipy import stats

from perennial.core.drift import noise, stattests
from perennial.core.drift.engine import WINDOW, ColumnDrift, DriftReport, column_drift, counts_drift
from perennial.core.drift.reference import NumericReference, ReferenceStats
from perennial.core.partitions import Reduce

MAX_EDGES = 2048  # grid points a numeric column is binned on (2049 bins x 5 numbers x 8 bytes = 80 kB a column)
KS_EXACT_ROWS = 10_000  # scipy's ks_2samp 'auto' is exact up to this many rows in each sample


@dataclass(frozen=True, slots=True, eq=False)
class NumericSketch:
    """Window values binned on the reference's grid: bin 0 is below the first edge, bin k is [edge k-1, edge k)."""

    at_edge: np.ndarray  # int64 per edge: values equal to it
    inside: np.ndarray  # int64 per bin: values strictly inside
    total: np.ndarray  # float64 per bin: sum of the inside values
    low: np.ndarray  # float64 per bin: smallest inside value (+inf when none)
    high: np.ndarray  # float64 per bin: largest inside value (-inf when none)
    few: Mapping[float, int] | None  # value counts while the window has at most 5 distinct values, else None

    @property
    def rows(self) -> int:
        return int(self.at_edge.sum() + self.inside.sum())

    def merge(self, other: NumericSketch) -> NumericSketch:
        few = None
        if self.few is not None and other.few is not None:
            union = {k: self.few.get(k, 0) + other.few.get(k, 0) for k in {*self.few, *other.few}}
            few = union if len(union) <= stattests.FEW_VALUES else None
        return NumericSketch(
            self.at_edge + other.at_edge,
            self.inside + other.inside,
            self.total + other.total,
            np.minimum(self.low, other.low),
            np.maximum(self.high, other.high),
            few,
        )


@dataclass(frozen=True, slots=True, eq=False)
class WindowSketch:
    numeric: Mapping[str, NumericSketch]
    categorical: Mapping[str, Mapping[Any, int]]
    rows: int  # rows of the window, nulls included

    def merge(self, other: WindowSketch) -> WindowSketch:
        return WindowSketch(
            numeric={name: s.merge(other.numeric[name]) for name, s in self.numeric.items()},
            categorical={name: _add_counts(c, other.categorical[name]) for name, c in self.categorical.items()},
            rows=self.rows + other.rows,
        )


@dataclass(frozen=True, slots=True)
class Grid:
    """The reference values a numeric column is binned on, and the reference CDF at each of them."""

    edges: np.ndarray
    cdf: np.ndarray  # share of reference values <= each edge
    exact: bool  # every distinct reference value is an edge: the reference CDF is constant inside a bin


@dataclass(frozen=True, slots=True)
class Grids:
    columns: Mapping[str, Grid] = field(default_factory=dict)

    @classmethod
    def of(cls, reference: ReferenceStats) -> Grids:
        return cls({name: grid_of(ref) for name, ref in reference.numeric.items()})


def grid_of(reference: NumericReference) -> Grid:
    values, counts = reference.value_counts()
    cumulative = np.cumsum(counts)
    if values.size <= MAX_EDGES:
        return Grid(values, cumulative / reference.rows, exact=True)
    ranks = np.unique(np.linspace(0, reference.rows - 1, MAX_EDGES).astype(np.int64))
    at = np.unique(np.searchsorted(cumulative, ranks, side="right"))  # the value holding each rank
    return Grid(values[at], cumulative[at] / reference.rows, exact=False)


def sketch_partition(reference: ReferenceStats, grids: Grids, frame: pd.DataFrame) -> WindowSketch:
    """One partition of the window, summarised against the reference (pure: run it where the partition is)."""
    missing = [c for c in reference.columns if c not in frame.columns]
    if missing:
        raise ValueError(f"current window has no column(s) {missing}")
    return WindowSketch(
        numeric={
            name: _sketch_numeric(name, frame[name], grids.columns[name], ref.n_unique <= stattests.FEW_VALUES)
            for name, ref in reference.numeric.items()
        },
        categorical={name: _counts(frame[name]) for name in reference.categorical},
        rows=len(frame),
    )


def merge_sketches(left: WindowSketch, right: WindowSketch) -> WindowSketch:
    return left.merge(right)


def detect_drift_partitioned(reference: ReferenceStats, reduce: Reduce, share_threshold: float = 0.5) -> DriftReport:
    """``detect_drift`` on a window held as partitions: the same report, from merged sketches."""
    if not reference.columns:
        raise ValueError("the reference has no columns to test")
    grids = Grids.of(reference)
    sketch = reduce(lambda frame: sketch_partition(reference, grids, frame), merge_sketches, reference.columns)
    return drift_from_sketch(reference, grids, sketch, share_threshold)


def drift_from_sketch(
    reference: ReferenceStats, grids: Grids, sketch: WindowSketch, share_threshold: float = 0.5
) -> DriftReport:
    if not 0 < share_threshold <= 1:
        raise ValueError(f"share_threshold must be in (0, 1], got {share_threshold}")
    results = tuple(
        [
            _numeric_drift(name, ref, grids.columns[name], sketch.numeric[name])
            for name, ref in reference.numeric.items()
        ]
        + [
            _categorical_drift(name, ref.labels, ref.counts, sketch.categorical[name])
            for name, ref in reference.categorical.items()
        ]
    )
    share = sum(r.drifted for r in results) / len(results)
    return DriftReport(results, share, share_threshold, bool(share >= share_threshold), reference.rows, sketch.rows)


def wasserstein_error(reference: NumericReference, grid: Grid, sketch: NumericSketch) -> float:
    """The most the sketch's normed Wasserstein distance can differ from the window's exact one."""
    lower = np.concatenate(([0.0], grid.cdf))  # reference CDF inside each bin (constant when the grid is exact)
    on_edge = np.concatenate(([0], sketch.at_edge))  # bin b starts at edge b-1
    before = np.cumsum(sketch.inside + on_edge) - sketch.inside  # window values before a bin's inside ones
    start, end = before / sketch.rows, (before + sketch.inside) / sketch.rows
    constant = np.full(sketch.inside.size, grid.exact)
    constant[[0, -1]] = True  # below the reference's min its CDF is 0, from its max on it is 1
    crossing = (lower > start) & (lower < end)
    spread = np.where(sketch.high > sketch.low, sketch.high - sketch.low, np.inf)
    mean = _means(sketch)
    with np.errstate(invalid="ignore"):
        deviation = np.where(sketch.inside > 0, 2 * (mean - sketch.low) * (sketch.high - mean) / spread, 0.0)
    at_risk = ~constant | crossing
    bound = float(np.dot(np.where(at_risk, deviation, 0.0), sketch.inside)) / sketch.rows
    return bound / max(reference.std, 0.001)


def _numeric_drift(name: str, reference: NumericReference, grid: Grid, sketch: NumericSketch) -> ColumnDrift:
    if sketch.rows == 0:
        raise ValueError(f"column {name!r} has no finite values in the {WINDOW}")
    few = _few_values(reference, sketch)
    if few is None:  # more than 5 distinct values in the reference and window together
        test = stattests.choose_test("numeric", reference.rows, max(reference.n_unique, stattests.FEW_VALUES + 1))
        values, counts = _atoms(grid, sketch)
        statistic = _ks_pvalue(reference, values, counts) if test == "ks" else _wasserstein(reference, values, counts)
        return column_drift(name, "numeric", test, statistic, lambda: noise.numeric_noise(reference, sketch.rows, name))
    keys, ref_aligned, cur_aligned = few
    test = stattests.choose_test("numeric", reference.rows, keys.size)
    return counts_drift(name, "numeric", test, ref_aligned, cur_aligned, first=0)


def _few_values(reference: NumericReference, sketch: NumericSketch) -> tuple[np.ndarray, np.ndarray, np.ndarray] | None:
    """The distinct values and both sides' counts of them, when there are at most 5 (as engine decides)."""
    if reference.n_unique > stattests.FEW_VALUES or sketch.few is None:
        return None
    ref_values, ref_counts = reference.value_counts()
    cur_values = np.fromiter(sketch.few, np.float64)
    keys = np.union1d(ref_values, cur_values)
    if keys.size > stattests.FEW_VALUES:
        return None
    ref_aligned, cur_aligned = np.zeros(keys.size, np.int64), np.zeros(keys.size, np.int64)
    ref_aligned[np.searchsorted(keys, ref_values)] = ref_counts
    cur_aligned[np.searchsorted(keys, cur_values)] = np.fromiter(sketch.few.values(), np.int64)
    return keys, ref_aligned, cur_aligned


def _categorical_drift(
    name: str, labels: tuple[Any, ...], counts: np.ndarray, window: Mapping[Any, int]
) -> ColumnDrift:
    if not window:
        raise ValueError(f"column {name!r} has no non-null values in the {WINDOW}")
    known = dict(zip(labels, counts.tolist(), strict=True))
    keys = [*known, *(k for k in window if k not in known)]
    test = stattests.choose_test("categorical", sum(known.values()), len(keys))
    ref_aligned = np.array([known.get(k, 0) for k in keys], dtype=np.int64)
    cur_aligned = np.array([window.get(k, 0) for k in keys], dtype=np.int64)
    first = keys.index(min(keys)) if test == "z" else 0  # as engine._categorical_drift
    return counts_drift(name, "categorical", test, ref_aligned, cur_aligned, first)


def _atoms(grid: Grid, sketch: NumericSketch) -> tuple[np.ndarray, np.ndarray]:
    """The window as weighted points: values on an edge where they are, a bin's inside values at their mean."""
    values = np.concatenate((grid.edges, _means(sketch)))
    counts = np.concatenate((sketch.at_edge, sketch.inside))
    keep = counts > 0
    order = np.argsort(values[keep], kind="stable")
    return values[keep][order], counts[keep][order]


def _means(sketch: NumericSketch) -> np.ndarray:
    with np.errstate(invalid="ignore", divide="ignore"):
        # clipped: rounding must not move a mean out of its bin
        mean: np.ndarray = np.clip(sketch.total / sketch.inside, sketch.low, sketch.high)
    return mean


def _wasserstein(reference: NumericReference, values: np.ndarray, counts: np.ndarray) -> float:
    ref_values, ref_counts = reference.value_counts()
    distance = stats.wasserstein_distance(ref_values, values, ref_counts, counts)
    return float(distance) / max(reference.std, 0.001)


def _ks_pvalue(reference: NumericReference, values: np.ndarray, counts: np.ndarray) -> float:
    """scipy's two-sided ks_2samp p-value, from the atoms (they keep the statistic exactly)."""
    m = int(counts.sum())
    if m <= KS_EXACT_ROWS:  # exact method: scipy on a sample with the window's CDF at every reference value
        return stattests.ks_pvalue(reference, np.repeat(values, counts))
    ref_values, ref_counts = reference.value_counts()
    points = np.concatenate((ref_values, values))
    ref_cum, cur_cum = np.cumsum(ref_counts), np.cumsum(counts)
    ref_cdf = _cumulative_at(ref_values, ref_cum, points) / reference.rows
    cur_cdf = _cumulative_at(values, cur_cum, points) / m
    d = float(np.max(np.abs(ref_cdf - cur_cdf)))
    big, small = sorted([float(reference.rows), float(m)], reverse=True)
    return float(np.clip(stats.kstwo.sf(d, np.round(big * small / (big + small))), 0, 1))


def _cumulative_at(values: np.ndarray, cumulative: np.ndarray, points: np.ndarray) -> np.ndarray:
    at = np.searchsorted(values, points, side="right")
    return np.where(at > 0, cumulative[np.maximum(at - 1, 0)], 0)


def _sketch_numeric(name: str, series: pd.Series, grid: Grid, count_few: bool) -> NumericSketch:
    if not pd.api.types.is_numeric_dtype(series):
        raise ValueError(f"numeric column {name!r} in the {WINDOW} has dtype {series.dtype}, not a number type")
    values = series.to_numpy(dtype=np.float64, na_value=np.nan)
    values = np.sort(values[np.isfinite(values)])
    edges = grid.edges
    left, right = np.searchsorted(values, edges, side="left"), np.searchsorted(values, edges, side="right")
    start, end = np.concatenate(([0], right)), np.concatenate((left, [values.size]))
    inside = end - start
    bins = np.searchsorted(edges, values, side="right")
    strictly = values != edges[np.maximum(bins - 1, 0)]
    strictly[bins == 0] = True
    total = np.bincount(bins[strictly], weights=values[strictly], minlength=edges.size + 1)
    filled = inside > 0
    low = np.where(filled, values[np.minimum(start, values.size - 1)] if values.size else np.inf, np.inf)
    high = np.where(filled, values[np.maximum(end - 1, 0)] if values.size else -np.inf, -np.inf)
    few: dict[float, int] | None = None
    if count_few:
        distinct, counts = np.unique(values, return_counts=True)
        few = (
            dict(zip(distinct.tolist(), counts.tolist(), strict=True))
            if distinct.size <= stattests.FEW_VALUES
            else None
        )
    return NumericSketch((right - left).astype(np.int64), inside.astype(np.int64), total, low, high, few)


def _counts(series: pd.Series) -> dict[Any, int]:
    """Category counts as ``reference.category_counts`` keeps them, but an empty partition is no error."""
    counts = series.value_counts(dropna=True, sort=False)
    return {
        label: int(n)
        for label, n in zip(counts.index.tolist(), counts.to_numpy(), strict=True)
        if n > 0 and not (isinstance(label, float) and np.isinf(label))
    }


def _add_counts(left: Mapping[Any, int], right: Mapping[Any, int]) -> dict[Any, int]:
    merged = dict(left)
    for label, n in right.items():
        merged[label] = merged.get(label, 0) + n
    return merged
