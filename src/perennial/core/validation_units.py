"""The unit-shift rule, told apart from a trend: a unit change jumps between two windows, a trend creeps.

A column that grows ×1.12 a month (prices, a growing service's demand) leaves its reference's quartiles
far behind within a few months, and every quartile moves by one factor, just as a unit change moves
them. Measured against the reference alone, its windows were refused as unit shifts from ×1.5 on, and
a retrain never learnt the level. What tells the two apart is speed: against the last window accepted
before this one, a trend moved a little, a unit change (×1.6 km/mile, ×2.2 lb/kg, ×100, ×1000) moved
at least ``MIN_UNIT_FACTOR``. A window refused for a unit change is never the last accepted one, so
the windows after a real change stay refused until a person acts; a column with no accepted window
on record is judged against its reference alone, as before.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np
import pandas as pd

from perennial.core.contract import ColumnSpec, SuiteSpec
from perennial.core.validation_bounds import (
    MIN_UNIT_FACTOR,
    ColumnVariation,
    present_quartiles,
    unit_shift_text,
)
from perennial.core.validation_report import RuleResult

Quartiles = tuple[float, float, float]
RULE = "no unit shift"
UNMOVED = "quartiles as in the reference"


@dataclass(frozen=True, slots=True)
class Accepted:
    """One column's quartiles in the last window accepted before the one judged (the monitor store keeps them)."""

    window: str
    quartiles: Quartiles


# each watched column's last accepted window: what a window's move is measured from, beside the reference
Earlier = Mapping[str, Accepted]


@dataclass(frozen=True, slots=True)
class Measured:
    """A window's quartiles and count of present values of one column."""

    quartiles: np.ndarray
    rows: int

    @property
    def median(self) -> float:
        return float(self.quartiles[1])

    def stored(self) -> Quartiles:
        q25, q50, q75 = (float(q) for q in self.quartiles)
        return (q25, q50, q75)


def measure(values: pd.Series, variation: ColumnVariation | None) -> Measured | None:
    """The window's quartiles of a column whose reference measured its units; None when there is no
    such reference or too few values to judge."""
    found = present_quartiles(values, variation)
    return None if found is None else Measured(found[0], found[1])


def unit_shift_rule(
    column: str, measured: Measured | None, variation: ColumnVariation, earlier: Accepted | None
) -> RuleResult:
    """The "no unit shift" result of one column: broken when its quartiles moved by one factor beyond what
    the reference showed, unless they moved only a little from the last window accepted (a trend)."""
    moved = unit_shift_text(measured.quartiles, measured.median, variation, measured.rows) if measured else None
    if moved is None or measured is None:
        return RuleResult(column, RULE, True, UNMOVED, kind="unit_shift")
    step = step_factor(measured.quartiles, earlier.quartiles) if earlier is not None else None
    if earlier is None or step is None:
        return RuleResult(column, RULE, False, moved, kind="unit_shift")
    stepped = f"x{step:.3g} of {earlier.window}, the last window accepted"
    if 1 / MIN_UNIT_FACTOR < step < MIN_UNIT_FACTOR:
        return RuleResult(column, RULE, True, f"{moved}; but {stepped}: a trend, not a unit change", kind="unit_shift")
    return RuleResult(column, RULE, False, f"{moved}; {stepped}", kind="unit_shift")


def step_factor(quartiles: np.ndarray, earlier: Quartiles) -> float | None:
    """The one factor a window's quartiles moved by from an earlier window's: their ratios' geometric mean
    for a positive column, the interquartile range's ratio for one holding zero or negative values; None
    when no factor applies (a quartile changed sign, a spread of zero)."""
    before = np.asarray(earlier, dtype=float)
    if (before > 0).all():
        ratios = quartiles / before
        return float(np.exp(np.log(ratios).mean())) if (ratios > 0).all() else None
    spread, spread_before = quartiles[2] - quartiles[0], before[2] - before[0]
    return float(spread / spread_before) if spread > 0 and spread_before > 0 else None


def measured_in_units(spec: ColumnSpec, suite: SuiteSpec) -> bool:
    """A column whose quartiles are watched for a unit change: numeric features and a regression target."""
    return spec.kind == "numeric" or (spec.kind == "target" and suite.task == "regression")
