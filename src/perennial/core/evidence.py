"""Evidence rules of a verdict, for any metric: enough rows, enough of each class, a narrow interval.

Task-agnostic on purpose: a rule sees a metric estimate (value and interval) and evidence
counts, never the model or the task. A verdict on thin evidence is neither pass nor fail:
it is INCONCLUSIVE, and says which number was short ("31 holdout rows < 500; 2 positives < 20").
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from enum import StrEnum
from typing import Protocol

import numpy as np

# metrics on a 0-1 scale: only their intervals are held to min_evidence.max_interval_width (a width of
# 0.1 means nothing for an error in minutes); the others rest on rows and classes alone
UNIT_SCALE = frozenset(
    {"roc_auc", "average_precision", "brier", "f1", "accuracy", "macro_f1", "balanced_accuracy", "top_k_accuracy"}
)


class Verdict(StrEnum):
    PASSED = "passed"
    FAILED = "failed"
    INCONCLUSIVE = "inconclusive"  # too few rows, one class, an interval too wide


class Interval(Protocol):
    """A metric estimate with its interval (core.evaluation.MetricEstimate has this shape)."""

    # read-only members, so a frozen dataclass such as MetricEstimate matches
    @property
    def name(self) -> str: ...
    @property
    def value(self) -> float: ...
    @property
    def low(self) -> float: ...
    @property
    def high(self) -> float: ...


class MinimumEvidence(Protocol):
    """The evidence a verdict needs (config.MinEvidence has this shape)."""

    holdout_rows: int
    rows_per_class: int
    max_interval_width: float | None


@dataclass(frozen=True, slots=True)
class Evidence:
    """What a verdict rests on: rows, and rows of each class (empty for a regression target)."""

    rows: int
    classes: tuple[tuple[str, int], ...] = ()  # ("negatives", 29), ("positives", 2) for a binary target
    what: str = "holdout rows"  # how the rows are named in a shortfall

    @classmethod
    def of_labels(
        cls, labels: np.ndarray, what: str = "holdout rows", all_classes: tuple[object, ...] = (0, 1)
    ) -> Evidence:
        """Counts per class, with every expected class present (a missing class counts 0)."""
        values, counts = np.unique(np.asarray(labels), return_counts=True)
        found = {v.item() if hasattr(v, "item") else v: int(c) for v, c in zip(values, counts, strict=True)}
        expected = list(all_classes) + [v for v in found if v not in all_classes]
        return cls(len(labels), tuple((class_name(v), found.get(v, 0)) for v in expected), what)


def class_name(value: object) -> str:
    """Binary 0/1 read as negatives/positives; any other class by its value."""
    if value in (0, 1, True, False):
        return "positives" if value else "negatives"
    return f"class {value!r} rows"


def shortfall(evidence: Evidence, minimum: MinimumEvidence, interval: Interval | None = None) -> tuple[str, ...]:
    """Every way the evidence falls short, in words; empty when it is enough."""
    reasons = []
    if evidence.rows < minimum.holdout_rows:
        reasons.append(f"{evidence.rows:,} {evidence.what} < {minimum.holdout_rows:,}")
    present = [name for name, count in evidence.classes if count > 0]
    if evidence.classes and len(present) == 1:
        reasons.append(f"single-class holdout: only {present[0]} ({evidence.rows:,} rows)")
    else:
        reasons += [
            f"{count:,} {name} < {minimum.rows_per_class:,}"
            for name, count in evidence.classes
            if count < minimum.rows_per_class
        ]
    if (
        interval is not None
        and minimum.max_interval_width is not None
        and interval.name.removesuffix("_diff") in UNIT_SCALE
    ):
        width = interval.high - interval.low
        if not math.isfinite(width):
            reasons.append(f"{interval.name} has no interval (undefined on these rows)")
        elif width > minimum.max_interval_width:
            reasons.append(f"{interval.name} interval width {width:.3f} > {minimum.max_interval_width:g}")
    return tuple(reasons)


def improvement_bounds(diff: Interval, higher_is_better: bool) -> tuple[float, float]:
    """(low, high) of the improvement: for a loss the difference's sign turns."""
    return (diff.low, diff.high) if higher_is_better else (-diff.high, -diff.low)


def non_inferior(diff: Interval, margin: float, higher_is_better: bool) -> Verdict:
    """Not worse with confidence: the improvement's lower bound is above -margin."""
    low, _ = improvement_bounds(diff, higher_is_better)
    return Verdict.PASSED if math.isfinite(low) and low > -margin else Verdict.FAILED


def superior(diff: Interval, min_gain: float, higher_is_better: bool) -> Verdict:
    """Better with confidence: the improvement's lower bound is above ``min_gain`` (0: any gain)."""
    low, _ = improvement_bounds(diff, higher_is_better)
    return Verdict.PASSED if math.isfinite(low) and low > min_gain else Verdict.FAILED


@dataclass(frozen=True, slots=True)
class HoldoutEvidence:
    """The rows a gate's verdict rests on, for the candidate and for the champion comparison."""

    holdout: Evidence  # every holdout row: the candidate and the baseline are scored on all of them
    span: str  # "2013-07-01 to 2013-07-31, 28,310 rows", and how far it reached back
    champion: str | None = None  # the champion's label, even when it could not be scored
    champion_rows: Evidence | None = None  # the holdout rows the champion never trained on
    champion_note: str = ""  # why rows were left out: "after 2013-06-30 23:00, the end of its training"
