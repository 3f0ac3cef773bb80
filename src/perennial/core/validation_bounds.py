"""How a data contract's bounds are derived, and which broken rules block.

Derived from how the reference varies *between windows of the configured size*, not from one
pooled figure plus a constant: a weather feed missing `pressure` on a few hours of some days
is normal, and a daily window must not be refused for it. Pure: frames in, frozen values out;
how the checks are *run* (GX, pandas) lives in ``validation`` and ``validation_gx``.

Two data bugs the declared rules miss are caught from the same variation: a column that
collapses to one value where every reference window varied (a feed of zeros), and a column
moved wholesale by a unit change while staying inside its declared range (miles as km).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace
from typing import Any, Literal, get_args

import numpy as np
import pandas as pd

from perennial.config.validation import WarnableRule

WindowSize = Literal["day", "week", "month"]
# rule kinds a config may turn into warnings; schema, types, all-null and labels always block
WARNABLE: tuple[str, ...] = get_args(WarnableRule)  # one home: config/validation.py names them
# new categories warn: a new carrier or product on a few percent of rows is the data as it now is,
# and blocked it would stop every window (left out of retrains, so never learnt); a column mostly
# outside its categories is a recoding or a shifted column, and always blocks (RECODED)
DEFAULT_WARNINGS = ("nulls", "volume", "categories")
RECODED = 0.5  # a categorical column with at least this share of its values unseen
# ... where new values are rare: at most this share of the reference's rows held a value seen once
# (a Titanic cabin is new for most passengers, and a new passenger list is not a recoding)
RECODED_NOVELTY = 0.1
# a bound is exceeded by chance about once in 2,000 windows (one-sided normal quantile)
Z = 3.29
MIN_ROWS_TO_JUDGE = 30
MAX_TOP_SHARE = 0.5  # a collapse counts only where no value ever took more than half of a window  # fewer non-null values say nothing about collapse or units
RATIO_AGREEMENT = 1.1  # a unit change moves every quartile by the same factor (within 10%)
# ... and, in a window large enough to tell, within what chance alone moves a sample's quartiles
# apart (Z of their standard errors, at least 3%): a label prior shift moved one column's quartiles
# x1.54/x1.56/x1.68 together in months of 2,000 rows (within 9%) and read as a unit change
MIN_AGREEMENT = 1.03
RATIO_SLACK = 1.25  # beyond the widest per-window median ratio the reference showed
# and at least this far from x1 either way: units differ by x1.6 (km/mile), x2.2 (lb/kg), x2.54, x100 or
# x1000, while the quartiles of a few hundred rows of a skewed column move by chance as far as x0.75
# (a clean month of 250 rows was blocked so, its reference having shown only two windows)
MIN_UNIT_FACTOR = 1.5
SIGNED_UNIT_FACTOR = 10.0  # a column with zero or negative quartiles: see _signed_rescale
# ... whose quartiles away from zero must agree with that factor within this (the outer quartiles of 500 rows
# moved x884 and x1021 under a x1000 change): the factor's size, not their agreement, is the evidence
SIGNED_AGREEMENT = 1.5
# a column this much more missing than in any reference window is a broken feed, not a bad day: blood
# glucose 86% null where every month held it whole was only a warning (nulls warn by default) and the
# retrain a later drop asked for learnt from it; so was the strongest feature 40% null for two months
# where it never was, the drop it caused asking a retrain on those months
NULL_SURGE = 0.3
# labels all of one class where every reference window held several: below this chance of it
# happening at the reference's most lopsided window it is a label feed fault, not a quiet month
# (a month labelled 0% malignant against a 39% prior was "within policy" and retrains learnt from it)
ONE_CLASS_CHANCE = 1e-6


@dataclass(frozen=True, slots=True)
class ColumnVariation:
    """How one column varied between the reference's windows (JSON-able: stored in the contract)."""

    windows: int  # reference windows measured
    null_share: float  # pooled over the reference
    null_high: float  # the highest null share of any reference window
    distinct_min: int | None = None  # fewest distinct values in a reference window
    top_share_high: float | None = None  # the largest share one value took in any reference window
    quartiles: tuple[float, float, float] | None = None  # pooled q25, q50, q75 (numeric)
    median_ratio: tuple[float, float] | None = None  # per-window median / pooled median: lowest, highest
    # each quartile's relative standard error times sqrt(rows): sqrt(p(1-p)) / (density x quartile)
    quartile_noise: tuple[float, float, float] | None = None

    @classmethod
    def from_dict(cls, raw: dict[str, Any]) -> ColumnVariation:
        tuples = {k: tuple(raw[k]) for k in ("quartiles", "median_ratio", "quartile_noise") if raw.get(k) is not None}
        return cls(**{**raw, **tuples})


def window_keys(times: pd.Series, size: WindowSize) -> pd.Series:
    """The window each row falls in (UTC day, ISO week starting Monday, or month)."""
    naive = times.dt.tz_convert("UTC").dt.tz_localize(None) if isinstance(times.dtype, pd.DatetimeTZDtype) else times
    keys: pd.Series
    if size == "day":
        keys = naive.dt.floor("D")
        return keys
    keys = naive.dt.to_period("W" if size == "week" else "M").dt.start_time
    return keys


def measure_variation(values: pd.Series, keys: pd.Series, numeric: bool) -> ColumnVariation:
    """The column's per-window null share, distinct count and (numeric) median, over full windows."""
    groups = values.groupby(keys.to_numpy(), sort=False)
    rows: pd.Series = groups.size()
    full = rows[rows >= max(1, 0.5 * rows.median())].index if len(rows) else rows.index  # drop edge windows
    nulls = values.isna().groupby(keys.to_numpy(), sort=False).mean().loc[full]
    distinct = groups.nunique().loc[full]
    pooled = float(values.isna().mean()) if len(values) else 0.0
    present = values.notna().to_numpy()
    tops = values[present].groupby([keys.to_numpy()[present], values[present].to_numpy()]).size().groupby(level=0).max()
    top_share = (tops / groups.count()).reindex(full).dropna()
    variation = ColumnVariation(
        len(full),
        pooled,
        float(nulls.max()) if len(nulls) else pooled,
        int(distinct.min()) if len(distinct) else None,
        float(top_share.max()) if len(top_share) else None,
    )
    if not numeric or values.notna().sum() < MIN_ROWS_TO_JUDGE:
        return variation
    q25, q50, q75 = (float(q) for q in values.quantile([0.25, 0.5, 0.75]))
    medians = groups.median().loc[full].dropna()
    ratio = (float((medians / q50).min()), float((medians / q50).max())) if q50 > 0 and len(medians) else None
    noise = _quartile_noise(values)
    return replace(variation, quartiles=(q25, q50, q75), median_ratio=ratio, quartile_noise=noise)


def _quartile_noise(values: pd.Series) -> tuple[float, float, float] | None:
    """Each quartile's relative standard error in a sample of one row (divide by sqrt(rows)): the
    asymptotic sqrt(p(1-p)) / f(q), with the density f from the quantiles 5 points either side."""
    points = [p + d for p in (0.25, 0.5, 0.75) for d in (-0.05, 0.0, 0.05)]
    q = values.quantile(points).to_numpy(dtype=np.float64).reshape(3, 3)
    if (q[:, 1] <= 0).any():
        return None
    p = np.array([0.25, 0.5, 0.75])
    noise = np.sqrt(p * (1 - p)) * (q[:, 2] - q[:, 0]) / 0.1 / q[:, 1]
    return (float(noise[0]), float(noise[1]), float(noise[2]))


def null_limit(max_null_share: float, variation: ColumnVariation | None, rows: int) -> float:
    """The null share a window of ``rows`` rows may carry: the contract's bound, widened for small windows.

    The contract's bound covers the worst reference window; a window smaller than those varies
    more by chance alone, by the binomial's standard error at the pooled share.
    """
    if variation is None or rows <= 0 or max_null_share >= 1:
        return max_null_share
    p = variation.null_share
    chance = p + Z * math.sqrt(max(p * (1 - p), 1.0 / rows) / rows)
    return float(min(1.0, max(max_null_share, round(chance, 6))))


def null_surge(nulls: int, rows: int, limit: float, variation: ColumnVariation | None) -> str | None:
    """Why a column mostly present in every reference window is mostly missing here; None if it is not.

    Beyond both the (warning) null bound and the worst reference window by ``NULL_SURGE``; a window
    with no value at all is the all-null rule's, said once.
    """
    if variation is None or rows < MIN_ROWS_TO_JUDGE or nulls >= rows:
        return None
    share = nulls / rows
    if share <= max(limit, variation.null_high + NULL_SURGE):
        return None
    return (
        f"{share:.1%} null ({nulls:,} of {rows:,} rows) where no reference window held more than "
        f"{variation.null_high:.1%}"
    )


def collapsed(present: pd.Series, variation: ColumnVariation | None) -> str | None:
    """Why a column that varied in every reference window holds one value here; None if it does not.
    ``present``: the column's non-null values.

    Only columns where no single value ever took most of a reference window: a dry week's
    precipitation of 0 is weather, a day of `sched_dep_time` 0 is a broken feed.
    """
    if variation is None or variation.distinct_min is None or variation.distinct_min < 2:
        return None
    if variation.top_share_high is None or variation.top_share_high > MAX_TOP_SHARE:
        return None  # one value already dominated some window (visibility 10 on a clear week): plausible
    if len(present) < MIN_ROWS_TO_JUDGE or present.nunique() != 1:
        return None
    return collapsed_text(len(present), present.iloc[0], variation)


def collapsed_text(present: int, value: Any, variation: ColumnVariation) -> str:
    """What ``collapsed`` reports for ``present`` values that are all ``value`` (shared with partitioned windows)."""
    assert variation.distinct_min is not None  # collapsed checked it
    value = value.item() if hasattr(value, "item") else value
    return (
        f"every one of {present:,} values is {value!r}; "
        f"each reference window held >= {variation.distinct_min:,} distinct values"
    )


def one_class(present: int, value: Any, variation: ColumnVariation | None) -> str | None:
    """Why ``present`` labels that are all ``value`` cannot be chance; None if they could be.

    The reference's most lopsided window had one value on ``top_share_high`` of its rows, so a
    window of n labels all alike has at most that share to the n-th power of happening by chance.
    """
    if variation is None or variation.distinct_min is None or variation.distinct_min < 2:
        return None
    top = variation.top_share_high
    if top is None or present < MIN_ROWS_TO_JUDGE or top**present >= ONE_CLASS_CHANCE:
        return None
    value = value.item() if hasattr(value, "item") else value
    return (
        f"every one of {present:,} labels is {value!r}; no reference window held more than "
        f"{100 * top:.1f}% of one value (a label feed fault?)"
    )


def unit_shift(values: pd.Series, variation: ColumnVariation | None) -> str | None:
    """Why the column looks moved wholesale by one factor (a unit change); None if it does not.

    A unit change multiplies every quartile by the same factor; a season moves them unevenly.
    It counts only beyond the widest per-window median ratio the reference itself showed.
    """
    found = present_quartiles(values, variation)
    if found is None or variation is None:
        return None
    return unit_shift_text(found[0], float(found[0][1]), variation, found[1])


def present_quartiles(values: pd.Series, variation: ColumnVariation | None) -> tuple[np.ndarray, int] | None:
    """The quartiles of the column's values and how many there are, where its reference measured its
    units and there are enough values to judge; None otherwise."""
    if variation is None or not judges_units(variation):
        return None
    present = pd.to_numeric(values, errors="coerce").dropna()
    if len(present) < MIN_ROWS_TO_JUDGE:
        return None
    return present.quantile([0.25, 0.5, 0.75]).to_numpy(), len(present)


def judges_units(variation: ColumnVariation) -> bool:
    """The reference measured what ``unit_shift`` weighs: the quartiles, and for a positive column the
    reference windows' median ratios (a column with zero or negative quartiles is judged by its spread)."""
    quartiles = variation.quartiles
    return quartiles is not None and (variation.median_ratio is not None or min(quartiles) <= 0)


def agreement(variation: ColumnVariation, rows: int) -> float:
    """How closely a window of ``rows`` values' quartile ratios must agree to read as one factor (a
    unit change): as closely as chance lets a sample of that size, never looser than RATIO_AGREEMENT."""
    if variation.quartile_noise is None or rows <= 0:  # a contract from before the noise was measured
        return RATIO_AGREEMENT
    # two quartiles' log ratios differ by chance with about sqrt(2) times one's standard error
    chance = math.exp(Z * math.sqrt(2) * max(variation.quartile_noise) / math.sqrt(rows))
    return float(min(RATIO_AGREEMENT, max(MIN_AGREEMENT, chance)))


def unit_shift_text(quartiles: np.ndarray, median: float, variation: ColumnVariation, rows: int) -> str | None:
    """``unit_shift`` from the window's quartiles and median (shared with partitioned windows)."""
    assert variation.quartiles is not None  # judges_units checked it
    if (np.array(variation.quartiles) <= 0).any():
        return _signed_rescale(quartiles, np.array(variation.quartiles))
    assert variation.median_ratio is not None  # judges_units: a positive column has its windows' ratios
    ratios = quartiles / np.array(variation.quartiles)
    if (ratios <= 0).any() or ratios.max() / ratios.min() > agreement(variation, rows):
        return None
    factor = float(np.exp(np.log(ratios).mean()))
    low, high = variation.median_ratio
    if low / RATIO_SLACK <= factor <= high * RATIO_SLACK or 1 / MIN_UNIT_FACTOR < factor < MIN_UNIT_FACTOR:
        return None
    return (
        f"every quartile moved by x{factor:.3g} (median {median:.4g} vs {variation.quartiles[1]:.4g}); "
        f"reference windows' medians stayed within x{low:.2f}-x{high:.2f}"
    )


def _signed_rescale(quartiles: np.ndarray, reference: np.ndarray) -> str | None:
    """A column holding zero or negative values rescaled wholesale: its spread (interquartile range) moved by
    at least ``SIGNED_UNIT_FACTOR``, and each quartile away from zero by that same factor. Its reference
    windows' median ratios say nothing here (a median near zero), hence the wider factor: volatility that
    doubles or triples is weather, x100 or x1000 is a unit (a feature centred on zero went x1000, a retrain
    learnt from it and was promoted)."""
    spread, reference_spread = quartiles[2] - quartiles[0], reference[2] - reference[0]
    if spread <= 0 or reference_spread <= 0:
        return None
    factor = float(spread / reference_spread)
    if 1 / SIGNED_UNIT_FACTOR < factor < SIGNED_UNIT_FACTOR:
        return None
    away = np.abs(reference) >= 0.1 * reference_spread  # a quartile near zero has no ratio to speak of
    ratios = np.append(quartiles[away] / reference[away], factor)
    if (ratios <= 0).any() or ratios.max() / ratios.min() > SIGNED_AGREEMENT:
        return None
    return (
        f"its spread and every quartile away from zero moved by x{factor:.3g} (interquartile range "
        f"{spread:.4g} vs {reference_spread:.4g}): values rescaled wholesale (a unit change?)"
    )
