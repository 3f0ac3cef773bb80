"""Validation and drift of one window held as partitions, sharing its first read.

The monitoring of a window validates it against the contract and tests it for drift; over partitions each
is a reduction, and reading the data dominates their cost. ``check_window_partitioned`` summarises every
partition for both in one pass, then finishes each as ``validate_partitioned`` and
``detect_drift_partitioned`` would (the contract's exact quartiles read only the numeric columns that
need them, in two more passes, more only for a bin of over a million values).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Collection

import pandas as pd

from perennial.config import Volume
from perennial.core.drift.engine import DriftReport
from perennial.core.drift.partitioned import Grids, WindowSketch, drift_from_sketch, sketch_partition
from perennial.core.drift.reference import ReferenceStats
from perennial.core.partitions import Reduce
from perennial.core.validation import SuiteSpec, ValidationReport
from perennial.core.validation_partitioned import validate_partitioned
from perennial.core.validation_parts import WindowParts, summarise_partition


def check_window_partitioned(
    reduce: Reduce,
    suite: SuiteSpec,
    reference: ReferenceStats,
    *,
    source: str,
    share_threshold: float = 0.5,
    as_of: dt.datetime | None = None,
    freshness_hours: float | None = None,
    volume: Volume | None = None,
    require_target: bool = True,
    warnings: Collection[str] | None = None,
) -> tuple[ValidationReport, DriftReport]:
    """``validate_partitioned`` and ``detect_drift_partitioned`` of the same window, reading it once for both.

    Like ``detect_drift``, a window without a column of the reference is a ValueError (validate alone
    to get the report that names it).
    """
    if not reference.columns:
        raise ValueError("the reference has no columns to test")
    grids = Grids.of(reference)

    def summarise(frame: pd.DataFrame) -> tuple[WindowParts, WindowSketch]:
        return summarise_partition(frame, suite), sketch_partition(reference, grids, frame)

    def merge(
        left: tuple[WindowParts, WindowSketch], right: tuple[WindowParts, WindowSketch]
    ) -> tuple[WindowParts, WindowSketch]:
        return left[0].merge(right[0]), left[1].merge(right[1])

    window, sketch = reduce(summarise, merge)
    report = validate_partitioned(
        reduce,
        suite,
        source=source,
        as_of=as_of,
        freshness_hours=freshness_hours,
        volume=volume,
        require_target=require_target,
        warnings=warnings,
        window=window,
    )
    return report, drift_from_sketch(reference, grids, sketch, share_threshold)
