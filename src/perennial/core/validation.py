"""New data checked against its data contract (``core/contract``: the ``SuiteSpec`` and ``derive_suite``).

``validate_frame`` checks a frame against it and returns a ``ValidationReport``; it never
raises for bad data (``report.raise_if_failed()`` does). Column checks run as one Great
Expectations suite (``validation_gx``); types, freshness and volume are read with pandas.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Collection
from dataclasses import replace
from typing import Literal

import pandas as pd

from perennial.config import Volume
from perennial.core import validation_gx, validation_vectorised
from perennial.core.contract import ColumnSpec, SuiteSpec, calendar_days, derive_suite, native, utc_times
from perennial.core.validation_bounds import (
    NULL_SURGE,
    ONE_CLASS_CHANCE,
    RECODED,
    RECODED_NOVELTY,
    collapsed,
    null_limit,
    null_surge,
)
from perennial.core.validation_gx import ColumnCheck, share_text
from perennial.core.validation_labels import label_rules
from perennial.core.validation_report import RuleResult, ValidationReport
from perennial.core.validation_units import Accepted, Earlier, Measured, measure, measured_in_units, unit_shift_rule

# who runs the column checks: Great Expectations (the validation and training flows, for the
# report and suite a reviewer opens), or vectorised pandas with the same verdicts (batch scoring)
Engine = Literal["gx", "vectorised"]

# the contract's names too: callers that derive and check import both from here
__all__ = [
    "ColumnSpec",
    "RuleResult",
    "SuiteSpec",
    "ValidationReport",
    "derive_suite",
    "validate_frame",
    "Engine",
]

# --- checking a frame -----------------------------------------------------------------------


def validate_frame(
    frame: pd.DataFrame,
    suite: SuiteSpec,
    *,
    source: str,
    as_of: dt.datetime | None = None,
    freshness_hours: float | None = None,
    volume: Volume | None = None,
    require_target: bool = True,
    engine: Engine = "gx",
    warnings: Collection[str] | None = None,
    earlier: Earlier | None = None,
) -> ValidationReport:
    """Every rule of ``suite`` checked on ``frame``; a broken rule is a failed result, never a crash.

    Rules of the kinds in ``warnings`` (default: the contract's) are recorded but do not block.
    ``earlier``: the watched columns' quartiles in the last window accepted (a trend is not a unit change).
    """
    nulls = validation_vectorised.Nulls(frame)  # the rules below and the vectorised checks share them
    specs = [c for c in suite.columns if require_target or c.kind != "target"]
    has_times = suite.time_column is not None and suite.time_column in frame.columns
    times = utc_times(frame[suite.time_column]) if has_times else None
    parsed = {suite.time_column: times} if times is not None else {}  # text timestamps are parsed once
    measured = _measured(frame, specs, suite)
    planned: list[RuleResult | ColumnCheck] = [RuleResult(None, "rows > 0", len(frame) > 0, f"{len(frame):,} rows")]
    for spec in specs:
        before = (earlier or {}).get(spec.name)
        planned += _plan_column(frame, spec, suite, nulls, parsed.get(spec.name), measured.get(spec.name), before)
    checks = [p for p in planned if isinstance(p, ColumnCheck)]
    if engine == "gx":
        outcomes = iter(validation_gx.run_checks(frame, checks))
    else:
        outcomes = iter(validation_vectorised.run_checks(frame, checks, nulls))
    results = [
        RuleResult(p.column, p.rule, *next(outcomes), kind=_kind(p, suite)) if isinstance(p, ColumnCheck) else p
        for p in planned
    ]
    if suite.time_column is None and (freshness_hours is not None or volume is not None):
        # said, not silently dropped: a reader of the report sees why there is no volume figure
        results.append(RuleResult(None, "freshness and volume per day", True, "skipped: no time column"))
    else:
        if freshness_hours is not None:
            assert suite.time_column is not None  # the branch above took the case without one
            results.append(_freshness(times, suite.time_column, as_of, freshness_hours))
        if volume is not None:
            results.append(_volume(times, len(frame), suite, volume))
    quartiles = {name: m.stored() for name, m in measured.items()}
    return finish_report(results, [str(c) for c in frame.columns], len(frame), suite, source, warnings, quartiles)


def _measured(frame: pd.DataFrame, specs: list[ColumnSpec], suite: SuiteSpec) -> dict[str, Measured]:
    """The quartiles of the columns watched for a unit change, where their reference measured them."""
    found = {}
    for spec in specs:
        if spec.name not in frame.columns or not measured_in_units(spec, suite):
            continue
        dtype = frame[spec.name].dtype  # values of another type break the type rule, not this one
        if not pd.api.types.is_numeric_dtype(dtype) or pd.api.types.is_bool_dtype(dtype):
            continue
        if (measured := measure(frame[spec.name], spec.variation)) is not None:
            found[spec.name] = measured
    return found


def finish_report(
    results: list[RuleResult],
    columns: list[str],
    rows: int,
    suite: SuiteSpec,
    source: str,
    warnings: Collection[str] | None,
    quartiles: dict[str, tuple[float, float, float]] | None = None,
) -> ValidationReport:
    """The column rules' results with the window's extra columns noted and the warnings' kinds made
    non-blocking: the report, as every engine (in memory or over partitions) ends it. ``quartiles``: the
    watched columns' quartiles measured, kept so the next window can tell a trend from a unit change."""
    extra = [c for c in columns if c not in {s.name for s in suite.columns}]
    if extra:
        shown = ", ".join(repr(c) for c in extra[:5]) + (", ..." if len(extra) > 5 else "")
        results.append(RuleResult(None, "extra columns allowed", True, f"{len(extra)} not in the contract: {shown}"))
        # a missing column beside unexpected ones is often a rename: say what is there instead
        results = [
            RuleResult(r.column, r.rule, False, f"missing; not in the contract: {shown}")
            if r.rule == "exists" and not r.passed
            else r
            for r in results
        ]
    warn = set(suite.warnings if warnings is None else warnings)
    results = [replace(r, blocking=False) if r.kind in warn else r for r in results]
    return ValidationReport(
        source=source, rows=rows, results=tuple(results), quartiles=tuple((quartiles or {}).items())
    )


_KINDS = {"exists": "schema", "not_null": "nulls", "between": "range", "in_set": "categories", "unique": "unique"}


def _kind(check: ColumnCheck, suite: SuiteSpec) -> str:
    """The sort of rule a planned GX check is; the label's rules always block."""
    if check.column == suite.target and check.expect != "exists" and check.kind is None:
        return "labels"
    return check.kind or _KINDS[check.expect]


def _plan_column(
    frame: pd.DataFrame,
    spec: ColumnSpec,
    suite: SuiteSpec,
    nulls: validation_vectorised.Nulls,
    times: pd.Series | None,
    measured: Measured | None = None,
    earlier: Accepted | None = None,
) -> list[RuleResult | ColumnCheck]:
    """The checks of one column: GX checks with their readable rule, or results read from the dtype."""
    name = spec.name
    plan: list[RuleResult | ColumnCheck] = [ColumnCheck(name, "exists", "exists")]
    if name not in frame.columns:
        return plan  # the failed 'exists' says it all; other checks would only repeat it
    values = frame[name]
    typed = _type_result(values, spec, times, numeric_target=suite.task == "regression")
    missing = nulls.count(name)
    typed = unjudged_type(typed, len(frame) - missing, values.dtype)
    if typed is not None:
        plan.append(typed)
    limit = column_null_limit(spec, len(frame))
    null_rule = "not null" if limit == 0 else f"null share <= {share_text(limit)}"
    plan.append(ColumnCheck(name, null_rule, "not_null", mostly=1 - limit))
    plan += missing_rules(spec, suite, missing, len(frame), limit)
    if typed is not None and not typed.passed:
        return plan  # values of the wrong type cannot be compared to ranges or categories
    plan += (
        label_rules(frame[name], spec, suite, measured, earlier)
        if spec.kind == "target"
        else _variation_rules(nulls.present(name), spec, measured, earlier)
    )
    return plan + value_checks(spec, suite)


def value_checks(spec: ColumnSpec, suite: SuiteSpec) -> list[ColumnCheck]:
    """The range, value-set or uniqueness checks of a column. A categorical column has two on one
    value set: new categories beyond the allowed share (a warning by default), and, where the
    reference rarely met a new value, a column mostly of unseen values (a recoding or a shifted
    column: it always blocks)."""
    name = spec.name
    if spec.kind == "numeric" and spec.range is not None:
        low, high = spec.range
        return [ColumnCheck(name, _range_rule(low, high), "between", {"min_value": low, "max_value": high})]
    if spec.kind == "categorical" and spec.categories is not None:
        known, unseen = {"value_set": list(spec.categories)}, suite.max_unseen_category_share
        rule = f"in set of {len(spec.categories):,} known categories (<={share_text(unseen)} unseen)"
        recoded = f"mostly known categories (<={share_text(RECODED)} unseen: not recoded)"
        checks = [ColumnCheck(name, rule, "in_set", known, mostly=1 - unseen)]
        if spec.novelty is None or spec.novelty <= RECODED_NOVELTY:
            checks.append(ColumnCheck(name, recoded, "in_set", known, mostly=1 - RECODED, kind="recoded"))
        return checks
    if spec.kind == "id":
        return [ColumnCheck(name, "unique", "unique")]
    if spec.kind == "target" and suite.target_values:
        values = ", ".join(str(v) for v in suite.target_values)
        known = {"value_set": list(suite.target_values)}
        if suite.task == "multiclass":  # a new class is new data to learn (a category: warns by default),
            # not a broken label: under the champion's contract a retrain could never learn it
            return [ColumnCheck(name, f"classes in {{{values}}}", "in_set", known, kind="categories")]
        return [ColumnCheck(name, f"values in {{{values}}}", "in_set", known)]
    return []


def column_null_limit(spec: ColumnSpec, rows: int) -> float:
    """The null share a window of ``rows`` may carry in this column. The target's bound is not widened
    for small windows: labels are whole on every reference row, so every labelled row must be."""
    return null_limit(spec.max_null_share, spec.variation if spec.kind != "target" else None, rows)


def missing_rules(spec: ColumnSpec, suite: SuiteSpec, nulls: int, rows: int, limit: float) -> list[RuleResult]:
    """A column with no value at all, or far more missing than any reference window held: a broken
    feed, whatever missingness is normal. All null blocks (unless a window this small could be all
    missing by chance at the column's null bound: a sparse column in a batch of 20); a surge blocks
    unless it warns."""
    if limit <= 0 or rows == 0 or spec.max_null_share >= 1:
        return []
    if nulls == rows and spec.max_null_share**rows < ONE_CLASS_CHANCE:  # not a small window of a sparse column
        return [
            RuleResult(
                spec.name, "null share < 100% (not all null)", False, f"100.0% null ({rows:,} rows)", kind="all_null"
            )
        ]
    surge = null_surge(nulls, rows, limit, spec.variation) if spec.name != suite.target else None  # late labels
    if surge is None or spec.variation is None:
        return []
    bound = share_text(min(1.0, spec.variation.null_high + NULL_SURGE))
    return [
        RuleResult(spec.name, f"null share <= {bound} (no surge of missing values)", False, surge, kind="null_surge")
    ]


def _variation_rules(
    present: pd.Series, spec: ColumnSpec, measured: Measured | None, earlier: Accepted | None
) -> list[RuleResult]:
    """A feed of one value, or a unit change, against how the reference varied (contracts that know it);
    ``present``: the column's non-null values."""
    if spec.variation is None:
        return []
    one = collapsed(present, spec.variation)
    rules = [RuleResult(spec.name, "varies as in the reference", one is None, one or "varies", kind="collapse")]
    if spec.kind == "numeric" and spec.variation.quartiles is not None:
        rules.append(unit_shift_rule(spec.name, measured, spec.variation, earlier))
    return rules


def _type_result(
    values: pd.Series, spec: ColumnSpec, times: pd.Series | None = None, numeric_target: bool = False
) -> RuleResult | None:
    """The column's type, read from its dtype (GX 1.x's type expectation misreads pandas
    extension dtypes such as Int64, category, string[pyarrow] and tz-aware datetimes)."""
    dtype = values.dtype
    if spec.kind == "numeric":
        ok = pd.api.types.is_numeric_dtype(dtype) and not pd.api.types.is_bool_dtype(dtype)
        return RuleResult(spec.name, "type numeric", ok, str(dtype) if ok else _not_numbers(values))
    if spec.kind == "categorical":
        # booleans are two categories (True/False), read as bool or as text; whole numbers are codes
        # (a store number, a zip code listed as categorical: refused, training failed with no way on)
        ok = (
            isinstance(dtype, pd.CategoricalDtype | pd.StringDtype)
            or pd.api.types.is_bool_dtype(dtype)
            or pd.api.types.is_integer_dtype(dtype)
            or (
                pd.api.types.is_object_dtype(dtype)
                and pd.api.types.infer_dtype(values, skipna=True) in ("string", "empty", "boolean")
            )
        )
        return RuleResult(spec.name, "type text/categorical", ok, str(dtype) if ok else _wrong_type(values))
    if spec.kind == "datetime":
        if pd.api.types.is_datetime64_any_dtype(dtype):
            return RuleResult(spec.name, "type datetime", True, str(dtype))
        bad = (times if times is not None else utc_times(values)).isna() & values.notna()
        if not bad.any():
            return RuleResult(spec.name, "type datetime", True, f"{dtype}, all values parse as timestamps")
        observed = f"{int(bad.sum()):,} values are not timestamps{_examples(values[bad])}"
        return RuleResult(spec.name, "type datetime", False, observed)
    if spec.kind == "target" and numeric_target:  # a regression target: a number, not a value set
        ok = pd.api.types.is_numeric_dtype(dtype) and not pd.api.types.is_bool_dtype(dtype)
        return RuleResult(spec.name, "type numeric", ok, str(dtype) if ok else _not_numbers(values))
    return None  # ids may be of any type; a class target's type is its value set


def unjudged_type(result: RuleResult | None, present: int, dtype: object) -> RuleResult | None:
    """A column with no value at all has no type to judge (an all-missing sparse column is read as
    floats): the type rule passes, and whether it may be all missing is the null rules' to say."""
    if result is None or result.passed or present:
        return result
    return replace(result, passed=True, observed=f"dtype {dtype}: no value to judge")


def _wrong_type(values: pd.Series) -> str:
    inferred = pd.api.types.infer_dtype(values, skipna=True)
    return f"dtype {values.dtype} of {inferred} values{_examples(values.dropna())}"


def _not_numbers(values: pd.Series) -> str:
    """What makes a number column text: the values that are not numbers (a 'Total' on the last row
    among 30 good readings), not the first values of the column."""
    present = values.dropna()
    if pd.api.types.is_bool_dtype(values.dtype):
        return _wrong_type(values)
    text = present[pd.to_numeric(present, errors="coerce").isna()]
    if text.empty:
        return _wrong_type(values)
    return f"dtype {values.dtype}: {len(text):,} of {len(present):,} values are not numbers{_examples(text)}"


def _examples(values: pd.Series, limit: int = 3) -> str:
    shown = [repr(native(v)) for v in pd.unique(values.head(1000).to_numpy(dtype=object))[:limit]]
    return f", e.g. {', '.join(shown)}" if shown else ""


def _range_rule(low: float | None, high: float | None) -> str:
    def num(value: float) -> str:
        return f"{value:g}"

    if low is not None and high is not None:
        return f"values in range [{num(low)}, {num(high)}]"
    if low is not None:
        return f"values >= {num(low)}"
    if high is not None:
        return f"values <= {num(high)}"
    return "values in range (unbounded)"


def _freshness(times: pd.Series | None, column: str, as_of: dt.datetime | None, hours: float) -> RuleResult:
    rule = f"freshness <= {hours:g}h"
    newest = times.max() if times is not None else pd.NaT
    if pd.isna(newest):
        return RuleResult(None, rule, False, f"no timestamps in '{column}'", kind="freshness")
    now = pd.Timestamp(as_of if as_of is not None else dt.datetime.now(dt.UTC))
    now = now.tz_localize("UTC") if now.tzinfo is None else now.tz_convert("UTC")
    age = (now - newest) / pd.Timedelta(hours=1)
    when = f"{age:,.1f}h before" if age >= 0 else f"{-age:,.1f}h after"
    observed = f"newest {newest:%Y-%m-%d %H:%M} UTC is {when} {now:%Y-%m-%d %H:%M} UTC"
    return RuleResult(None, rule, bool(age <= hours), observed, kind="freshness")


def _volume(times: pd.Series | None, rows: int, suite: SuiteSpec, volume: Volume) -> RuleResult:
    rule = f"volume {volume.min_ratio:g}x-{volume.max_ratio:g}x reference"
    valid = times.dropna() if times is not None else None
    if valid is None or valid.empty:
        return RuleResult(None, rule, False, f"no timestamps in '{suite.time_column}' to count days", kind="volume")
    if suite.reference_rows_per_day <= 0:
        return RuleResult(None, rule, False, "the reference had no timestamped rows to compare with", kind="volume")
    days = calendar_days(valid)
    ratio = rows / days / suite.reference_rows_per_day
    passed = volume.min_ratio <= ratio <= volume.max_ratio
    observed = (
        f"{rows / days:,.0f} rows/day over {days:,} day(s) = {ratio:.2f}x reference "
        f"({suite.reference_rows_per_day:,.0f}/day)"
    )
    return RuleResult(None, rule, passed, observed, kind="volume")
