"""Evidently's default drift tests, computed from stored reference statistics and one window.

Each function mirrors a file of ``evidently/legacy/calculations/stattests/`` (Evidently 0.7.23) and differs
in how, never in what: the same formula, the same thresholds, the same comparison (``<=`` for K-S but ``<``
for chi-square and Z; ``>=`` for the distances). ``choose_test`` mirrors ``registry._get_default_stattest``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import numpy as np
from scipy import stats
from scipy.spatial import distance

from perennial.core.drift.reference import NumericReference

Kind = Literal["numeric", "categorical"]

# Evidently's limit between a small reference (p-value tests) and a large one (distances)
SMALL_REFERENCE_ROWS = 1000
# at most this many distinct values (reference and window together) and a numeric column is tested as categories
FEW_VALUES = 5

THRESHOLDS = {"ks": 0.05, "chisquare": 0.05, "z": 0.05, "wasserstein": 0.1, "jensenshannon": 0.1}


def choose_test(kind: Kind, reference_rows: int, n_values: int) -> str:
    """The stattest Evidently picks by default, from the cleaned reference size and the distinct values of both."""
    if reference_rows <= SMALL_REFERENCE_ROWS:
        if kind == "numeric" and n_values > FEW_VALUES:
            return "ks"
        return "chisquare" if n_values > 2 else "z"
    if kind == "numeric" and n_values > FEW_VALUES:
        return "wasserstein"
    return "jensenshannon"


def is_drifted(test: str, statistic: float, threshold: float) -> bool:
    if test == "ks":
        return bool(statistic <= threshold)
    if test in ("chisquare", "z"):
        return bool(statistic < threshold)
    return bool(statistic >= threshold)


@dataclass(frozen=True, slots=True)
class QuantilePlan:
    """How the quantile functions of an n-sample and an m-sample line up: data-free, so shared by columns."""

    reference_index: np.ndarray  # which sorted reference value is the quantile on each interval
    current_index: np.ndarray  # which sorted window value
    width: np.ndarray  # length of each interval of t in (0, 1]


def quantile_plan(n: int, m: int) -> QuantilePlan:
    """Intervals of t on which both empirical quantile functions are constant.

    The breakpoints are k/n and l/m; over the common denominator n*m they are the integers k*m and l*n,
    merged here without a sort (ties: the reference's first, giving a zero-width interval that is dropped).
    """
    steps = np.arange(1, m + 1, dtype=np.int64)
    is_current = np.zeros(n + m, dtype=bool)
    is_current[(steps - 1) + (steps * n) // m] = True  # before window step l come the floor(l*n/m) reference ones
    del steps
    current_seen = np.cumsum(is_current, dtype=np.int64)
    reference_seen = np.arange(1, n + m + 1, dtype=np.int64)
    reference_seen -= current_seen
    # the breakpoints in merged order, then the interval widths (in place: this runs on 2 x window-size arrays)
    widths = reference_seen * m
    np.copyto(widths, current_seen * n, where=is_current)
    np.subtract(widths[1:], widths[:-1], out=widths[1:])
    keep = np.flatnonzero(widths)
    return QuantilePlan(
        reference_index=reference_seen[keep] - ~is_current[keep],
        current_index=current_seen[keep] - is_current[keep],
        width=widths[keep] / (n * m),
    )


def wasserstein_norm(reference: NumericReference, current: np.ndarray, plan: QuantilePlan) -> float:
    """W1 between the reference and a sorted window, over the reference's std (floored at 0.001).

    The integral of |F_ref^-1(t) - F_cur^-1(t)| dt: equal to ``scipy.stats.wasserstein_distance``'s integral
    of |F_ref(x) - F_cur(x)| dx (to ~1e-15), but with both samples sorted it is one gather per sample.
    """
    gap = reference.expanded()[plan.reference_index] - current[plan.current_index]
    return float(np.dot(np.abs(gap, out=gap), plan.width)) / max(reference.std, 0.001)


def ks_pvalue(reference: NumericReference, current: np.ndarray) -> float:
    """Two-sided two-sample K-S p-value (scipy's, method 'auto' as Evidently calls it)."""
    return float(stats.ks_2samp(reference.expanded(), current)[1])


def chisquare_pvalue(reference: np.ndarray, current: np.ndarray) -> float:
    """Chi-square of the window's counts against the reference's scaled to the window (aligned count arrays)."""
    expected = reference * (current.sum() / reference.sum())
    with np.errstate(divide="ignore", invalid="ignore"):  # a new category expects 0: statistic inf, p 0
        return float(stats.chisquare(current, expected)[1])


def z_pvalue(reference: np.ndarray, current: np.ndarray, first: int) -> float:
    """Two-proportion Z-test of 'not the first (smallest) value' (aligned count arrays, <= 2 values)."""
    if reference.size == 1:  # one value, the same on both sides
        return 1.0
    n1, n2 = int(reference.sum()), int(current.sum())
    p1 = float(n1 - reference[first]) / n1
    p2 = float(n2 - current[first]) / n2
    pooled = float(p1 * n1 + p2 * n2) / (n1 + n2)
    z = (p1 - p2) / np.sqrt(pooled * (1 - pooled) * (1.0 / n1 + 1.0 / n2))
    return float(2 * (1 - stats.norm.cdf(np.abs(z))))


def jensenshannon_distance(reference: np.ndarray, current: np.ndarray) -> float:
    """Jensen-Shannon distance (natural log) between the two value shares (aligned count arrays)."""
    return float(distance.jensenshannon(reference / reference.sum(), current / current.sum()))
