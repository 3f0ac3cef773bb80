"""A regression target's few values far outside the rest, and its scale measured without them.

A starter config's margins are shares of a mean predictor's MAE on the table. Five profits in the
millions among 2,600 in the thousands (a typo, an export in cents) made that MAE ten times what the
other rows give: the gate then asked for a lift no model could show, and init's own config failed
it. Such rows are named, to check or drop, and the scale is taken from the other rows.
"""

from __future__ import annotations

from dataclasses import dataclass

import pandas as pd

# a normal target's mean absolute deviation over its median absolute deviation (0.798 / 0.6745)
BULK_SCALE = 1.18

FAR_IQRS = 50  # beyond this many interquartile ranges from the quartiles: far outside the rest
# more rows than this share out there is the target's own long tail (incomes, delays), not a few errors
MAX_FAR_SHARE = 0.01
SHOWN_ROWS = 3


@dataclass(frozen=True, slots=True)
class Extremes:
    """Rows whose target lies far outside the rest: 1-based data rows and their values."""

    rows: tuple[int, ...]
    values: tuple[float, ...]

    def describe(self) -> str:
        shown = ", ".join(f"{r:,} ({v:.4g})" for r, v in zip(self.rows[:SHOWN_ROWS], self.values, strict=False))
        more = ", ..." if len(self.rows) > SHOWN_ROWS else ""
        many = len(self.rows) > 1
        return (
            f"{len(self.rows):,} row{'s hold' if many else ' holds'} a target far outside the rest (over {FAR_IQRS} "
            f"interquartile ranges beyond the quartiles): data row{'s' if many else ''} {shown}{more}; "
            f"check {'them' if many else 'it'} or drop {'them' if many else 'it'} (a typo or a unit slip), or keep "
            f"{'them' if many else 'it'} if the target really has so long a tail (delays, prices)"
        )


def _numbers(values: pd.Series) -> pd.Series:
    return pd.to_numeric(values.reset_index(drop=True), errors="coerce").dropna()


def extreme_targets(values: pd.Series) -> Extremes | None:
    """The few target values far outside the rest, or None (none, a spread of zero, or so many that
    they are the distribution's tail)."""
    numbers = _numbers(values)
    low, high = numbers.quantile(0.25), numbers.quantile(0.75)
    spread = high - low
    if not len(numbers) or spread <= 0:  # a target mostly of one value has no scale to be far from
        return None
    far = numbers[(numbers < low - FAR_IQRS * spread) | (numbers > high + FAR_IQRS * spread)]
    if far.empty or len(far) > MAX_FAR_SHARE * len(numbers):
        return None
    return Extremes(tuple(int(i) + 1 for i in far.index), tuple(float(v) for v in far))


def mean_predictor_error(values: pd.Series, leave_out: Extremes | None = None) -> float:
    """The MAE of predicting the mean: the target's own scale, for margins in its units; measured
    without the ``leave_out`` rows, which would set it alone."""
    numbers = _numbers(values)
    if leave_out is not None:
        numbers = numbers.drop(index=[r - 1 for r in leave_out.rows])
    return float((numbers - numbers.mean()).abs().mean())


def bulk_error(values: pd.Series) -> float:
    """The median absolute deviation from the median, scaled by ``BULK_SCALE`` to a normal target's mean
    absolute deviation: the target's scale as its bulk sets it, whatever a block of far values does."""
    numbers = _numbers(values)
    return BULK_SCALE * float((numbers - numbers.median()).abs().median()) if len(numbers) else 0.0
