"""Where a window's drop sits, and what its inputs say of it (pure).

``worst_slice``: the primary metric on each slice's labelled rows against the window's.

A window whose metric fell because one carrier's, one region's or one product's rows went badly wrong
read only as "performance dropped" (loop7 F11): the person asked had to find the rows. Here each value
of the ``evaluation.slices`` columns is scored on its own labelled rows against the whole window's figure,
and the one furthest below it is named when that gap passes the policy's tolerance. Each column's rows are
scored once in all (its most frequent ``MAX_VALUES`` values), so a million-row window costs a few passes.

``nearest_drift``: when no feature drifted, the one that came nearest (loop7 F8).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from perennial.config import Config
from perennial.core.drift import DriftReport
from perennial.core.metrics import higher_is_better, metric_value
from perennial.core.monitoring import PREDICTION, task_rows

# fewer labelled rows of one value say nothing about it (a metric on 12 rows moves by chance alone)
MIN_SLICE_ROWS = 30
MAX_VALUES = 50  # a column's most frequent values weighed (a high-cardinality slice: its rarest say little)


@dataclass(frozen=True, slots=True)
class WorstSlice:
    column: str
    value: Any
    rows: int
    metric: str
    inside: float  # the metric on the slice's labelled rows
    whole: float  # ... and on the window's

    def describe(self) -> str:
        return (
            f"worst slice: {self.column}={self.value!r} ({self.metric} {self.inside:.4g} on its {self.rows:,} "
            f"labelled rows, {self.whole:.4g} on the window's)"
        )


def worst_slice(rows: pd.DataFrame, config: Config) -> WorstSlice | None:
    """The slice value whose labelled rows score furthest below the whole window, when that gap passes
    ``monitoring.retraining.performance_tolerance``; None when none does (or no slice is set).

    ``rows``: the window's labelled rows (``label``, the stored predictions) with the slice columns."""
    name = config.evaluation.primary_metric
    higher = higher_is_better(name)
    whole = _score(rows, config, name)
    if not np.isfinite(whole):
        return None
    worst: tuple[float, WorstSlice] | None = None
    for column in (c for c in config.evaluation.slices if c in rows.columns):
        groups = rows.groupby(column, observed=True, sort=False).indices
        frequent = sorted(groups.items(), key=lambda item: -len(item[1]))[:MAX_VALUES]
        for value, positions in frequent:
            if len(positions) < MIN_SLICE_ROWS or len(positions) == len(rows):
                continue
            inside = _score(rows.iloc[positions], config, name)
            gap = whole - inside if higher else inside - whole
            if np.isfinite(gap) and (worst is None or gap > worst[0]):
                worst = (gap, WorstSlice(column, _plain(value), len(positions), name, inside, whole))
    if worst is None or worst[0] <= config.monitoring.retraining.performance_tolerance:
        return None
    return worst[1]


def _score(rows: pd.DataFrame, config: Config, name: str) -> float:
    """The metric's value on ``rows`` (no interval: a slice is named, not judged)."""
    if config.task == "binary":
        return metric_value(name, rows["label"], rows[PREDICTION], config.evaluation.threshold)
    return float(task_rows(rows, config).values([name], np.ones((1, len(rows))))[0, 0])


def _plain(value: Any) -> Any:
    return value.item() if hasattr(value, "item") else value


def nearest_drift(report: DriftReport) -> str | None:
    """When no feature drifted, the one that came nearest (a distance's share of its threshold, or a
    p-value's threshold over it), in words; None when a feature drifted or there is none. A drop the
    inputs do not explain points at the concept or the labels: said with the feature a person would
    look at first."""
    features = [c for c in report.columns if c.column != PREDICTION]
    if not features or any(c.drifted for c in features):
        return None
    nearest = max(features, key=lambda c: c.closeness)
    # as a whole percentage: over partitions the statistic comes from sketches, equal within a tolerance
    return (
        f"no feature drifted; nearest: {nearest.column} ({nearest.test} at {nearest.closeness:.0%} of the way to "
        f"drift, {nearest.threshold:.3g})"
    )
