"""Drift of one window against the champion's reference: Evidently's verdicts at a window's cost.

Per column the test is the one Evidently's ``DataDriftPreset`` picks by default (see ``stattests``), decided
from the stored reference statistics and the window exactly as Evidently decides it from the two frames: a
numeric column with at most 5 distinct values (reference and window together) is tested as categories.
The window is read once per column: a sort for numeric columns, a hash count for categorical ones.

Like Evidently, nulls and +-inf are dropped before testing, and a column with no usable value in the window is
an error, not a verdict (the validation gate reports null shares). One case where Evidently disagrees with
itself: its drifted-columns count keeps +-inf in a column that has no null, gets NaN and does not count the
column, while its per-column verdict drops them. The engine's share always counts its per-column verdicts.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np
import pandas as pd

from perennial.core.drift import noise, stattests
from perennial.core.drift.reference import (
    CategoricalReference,
    NumericReference,
    ReferenceStats,
    category_counts,
    finite_count,
    finite_sorted,
    runs,
)

WINDOW = "current window"
PlanFor = Callable[[int, int], stattests.QuantilePlan]


@dataclass(frozen=True, slots=True)
class ColumnDrift:
    column: str
    kind: str  # "numeric" | "categorical", as declared
    test: str  # Evidently's stattest name: "wasserstein", "jensenshannon", "ks", "chisquare", "z"
    statistic: float  # a distance (wasserstein, jensenshannon) or a p-value (ks, chisquare, z)
    threshold: float
    drifted: bool  # Evidently's verdict, and beyond sampling noise where that is measured
    noise: float | None = (
        None  # the distance sampling alone reaches at these sizes (``noise``), when Evidently says drift
    )

    @property
    def closeness(self) -> float:
        """How near the column came to drifting: 1 at its threshold, past 1 beyond it (a distance over
        its threshold, or a p-value under it)."""
        if self.test in noise.DISTANCE_TESTS:
            return self.statistic / self.threshold
        return self.threshold / max(self.statistic, 1e-300)

    @property
    def evidently_drifted(self) -> bool:
        """Evidently's own verdict, before sampling noise is weighed."""
        return self.drifted or self.noise is not None

    @property
    def within_noise(self) -> bool:
        """Evidently calls it drift, but the distance is no more than sampling alone shows at these sizes."""
        return self.noise is not None and not self.drifted


@dataclass(frozen=True, slots=True)
class DriftReport:
    columns: tuple[ColumnDrift, ...]
    drift_share: float  # share of drifted columns
    share_threshold: float
    dataset_drift: bool  # drift_share >= share_threshold, as Evidently decides it
    rows_reference: int
    rows_current: int

    @property
    def drifted_columns(self) -> tuple[str, ...]:
        return tuple(c.column for c in self.columns if c.drifted)

    def summary(self) -> str:
        drifted = self.drifted_columns
        verdict = "dataset drift" if self.dataset_drift else "no dataset drift"
        names = f": {', '.join(drifted)}" if drifted else ""
        noisy = [f"{c.column} ({c.statistic:.3f} <= {c.noise:.3f})" for c in self.columns if c.within_noise]
        noise = f"; within sampling noise, not counted: {', '.join(noisy)}" if noisy else ""
        return (
            f"{verdict}: {len(drifted)} of {len(self.columns)} columns drifted (share {self.drift_share:.2f}, "
            f"threshold {self.share_threshold:.2f}) on {self.rows_current:,} rows{names}{noise}"
        )

    def to_rows(self) -> list[dict[str, Any]]:
        """One row per column, for a table artifact."""
        return [{**asdict(c), "statistic": _json_float(c.statistic)} for c in self.columns]

    def to_dict(self) -> dict[str, Any]:
        return {
            "dataset_drift": self.dataset_drift,
            "drift_share": self.drift_share,
            "share_threshold": self.share_threshold,
            "drifted_columns": list(self.drifted_columns),
            "rows_reference": self.rows_reference,
            "rows_current": self.rows_current,
            "summary": self.summary(),
            "columns": self.to_rows(),
        }


def detect_drift(reference: ReferenceStats, current: pd.DataFrame, share_threshold: float = 0.5) -> DriftReport:
    """Test every reference column on the window; dataset drift when the drifted share reaches the threshold.

    0.5 is the default ``drift_share`` of Evidently's ``DataDriftPreset``.
    """
    if not 0 < share_threshold <= 1:
        raise ValueError(f"share_threshold must be in (0, 1], got {share_threshold}")
    missing = [c for c in reference.columns if c not in current.columns]
    if missing:
        raise ValueError(f"current window has no column(s) {missing}")
    if not reference.columns:
        raise ValueError("the reference has no columns to test")
    numeric = _numeric_drifts(reference.numeric, current)
    results = tuple(
        [numeric[name] for name in reference.numeric]
        + [_categorical_drift(name, ref, current[name]) for name, ref in reference.categorical.items()]
    )
    share = sum(r.drifted for r in results) / len(results)
    return DriftReport(
        columns=results,
        drift_share=share,
        share_threshold=share_threshold,
        dataset_drift=bool(share >= share_threshold),
        rows_reference=reference.rows,
        rows_current=len(current),
    )


def _numeric_drifts(references: Mapping[str, NumericReference], current: pd.DataFrame) -> dict[str, ColumnDrift]:
    # Columns with the same sample sizes share a quantile plan (tens of MB at 1M rows): visit them grouped
    # by sizes and keep only the latest plan
    sizes = {name: (ref.rows, finite_count(name, current[name], WINDOW)) for name, ref in references.items()}
    plan = _LatestPlan()
    return {
        name: _numeric_drift(name, references[name], current[name], plan)
        for name in sorted(sizes, key=lambda n: sizes[n])
    }


class _LatestPlan:
    """The quantile plan for the latest sample sizes; the previous one is freed before the next is built."""

    def __init__(self) -> None:
        self._sizes: tuple[int, int] | None = None
        self._plan: stattests.QuantilePlan | None = None

    def __call__(self, n: int, m: int) -> stattests.QuantilePlan:
        if self._plan is None or self._sizes != (n, m):
            self._plan = None
            self._plan, self._sizes = stattests.quantile_plan(n, m), (n, m)
        return self._plan


def _numeric_drift(name: str, reference: NumericReference, series: pd.Series, plan: PlanFor) -> ColumnDrift:
    window = finite_sorted(name, series, WINDOW)

    def sampled() -> float:
        return noise.numeric_noise(reference, window.size, name)

    if reference.n_unique > stattests.FEW_VALUES:  # more than 5 distinct values whatever the window holds
        test = stattests.choose_test("numeric", reference.rows, reference.n_unique)
        return column_drift(name, "numeric", test, _on_sample(test, reference, window, plan), sampled)
    ref_values, ref_counts = reference.value_counts()
    cur_values, cur_counts = runs(window)
    keys = np.union1d(ref_values, cur_values)
    test = stattests.choose_test("numeric", reference.rows, keys.size)
    if test in ("wasserstein", "ks"):
        return column_drift(name, "numeric", test, _on_sample(test, reference, window, plan), sampled)
    ref_aligned, cur_aligned = np.zeros(keys.size, np.int64), np.zeros(keys.size, np.int64)
    ref_aligned[np.searchsorted(keys, ref_values)] = ref_counts
    cur_aligned[np.searchsorted(keys, cur_values)] = cur_counts
    return counts_drift(name, "numeric", test, ref_aligned, cur_aligned, first=0)


def _on_sample(test: str, reference: NumericReference, window: np.ndarray, plan: PlanFor) -> float:
    if test == "ks":
        return stattests.ks_pvalue(reference, window)
    return stattests.wasserstein_norm(reference, window, plan(reference.rows, window.size))


def _categorical_drift(name: str, reference: CategoricalReference, series: pd.Series) -> ColumnDrift:
    window = category_counts(name, series, WINDOW)
    known = dict(zip(reference.labels, reference.counts.tolist(), strict=True))
    keys = [*known, *(k for k in window if k not in known)]
    test = stattests.choose_test("categorical", reference.rows, len(keys))
    ref_aligned = np.array([known.get(k, 0) for k in keys], dtype=np.int64)
    cur_aligned = np.array([window.get(k, 0) for k in keys], dtype=np.int64)
    first = keys.index(min(keys)) if test == "z" else 0  # Evidently's Z-test counts "not the smallest value"
    return counts_drift(name, "categorical", test, ref_aligned, cur_aligned, first)


def counts_drift(
    name: str, kind: str, test: str, reference: np.ndarray, current: np.ndarray, first: int
) -> ColumnDrift:
    """A column tested on aligned counts, its distance weighed against the noise of a window of its size."""
    statistic = on_counts(test, reference, current, first)
    return column_drift(
        name, kind, test, statistic, lambda: noise.categorical_noise(reference, int(current.sum()), name)
    )


def on_counts(test: str, reference: np.ndarray, current: np.ndarray, first: int) -> float:
    if test == "chisquare":
        return stattests.chisquare_pvalue(reference, current)
    if test == "z":
        return stattests.z_pvalue(reference, current, first)
    return stattests.jensenshannon_distance(reference, current)


def column_drift(
    name: str, kind: str, test: str, statistic: float, sampling_noise: Callable[[], float] | None = None
) -> ColumnDrift:
    """Evidently's verdict; a distance it calls drift counts only above ``sampling_noise()`` (see ``noise``)."""
    threshold = stattests.THRESHOLDS[test]
    drifted = stattests.is_drifted(test, statistic, threshold)
    if not (drifted and sampling_noise is not None and test in noise.DISTANCE_TESTS):
        return ColumnDrift(name, kind, test, statistic, threshold, drifted)
    floor = sampling_noise()
    return ColumnDrift(name, kind, test, statistic, threshold, statistic > floor, floor)


def _json_float(value: float) -> float | None:
    return value if math.isfinite(value) else None
