"""The data contract checked on a window held as partitions: ``validate_frame``'s verdicts and wording.

Every rule is decided from per-partition aggregates merged in row order (``partitions.Reduce``):

- rows, nulls, the all-null rule and freshness/volume (newest and oldest timestamps) are counts and extremes;
- ranges and value sets keep the offending count and the first 20 offending values in row order (GX's
  sample), so the observed text is the same; uniqueness merges counts of a 64-bit hash of each value (two
  distinct ids sharing a hash is about n^2 / 2^65 likely: 1e-5 at 20M ids) and, when a value repeats,
  a second pass fetches the first 20 duplicated values in row order;
- types are read from the dtype, which every partition shares (a Dask DataFrame's meta); object columns
  merge pandas' per-partition ``infer_dtype`` (one kind, ignoring empty partitions, or "mixed": the verdict
  is the in-memory one, the kind named in a failure's text may be coarser than pandas' own);
- a collapse keeps the first two distinct values; a unit shift needs quartiles and the median, fetched
  exactly in two more passes (``partition_quantiles``; more when one bin holds over a million values),
  only for the columns that ask.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Collection
from typing import Any

import numpy as np
import pandas as pd

from perennial.config import Volume
from perennial.core import validation as memory
from perennial.core.partition_quantiles import Span, exact_quantiles
from perennial.core.partitions import Reduce
from perennial.core.validation import ColumnSpec, RuleResult, SuiteSpec, ValidationReport
from perennial.core.validation_bounds import (
    MAX_TOP_SHARE,
    MIN_ROWS_TO_JUDGE,
    collapsed_text,
    judges_units,
    one_class,
)
from perennial.core.validation_gx import ColumnCheck, outcome_text, share_text
from perennial.core.validation_parts import ColumnPart, WindowParts, hash_values, summarise_partition
from perennial.core.validation_units import Accepted, Earlier, Measured, measured_in_units, unit_shift_rule
from perennial.core.validation_vectorised import PARTIAL


def validate_partitioned(
    reduce: Reduce,
    suite: SuiteSpec,
    *,
    source: str,
    as_of: dt.datetime | None = None,
    freshness_hours: float | None = None,
    volume: Volume | None = None,
    require_target: bool = True,
    warnings: Collection[str] | None = None,
    window: WindowParts | None = None,
    earlier: Earlier | None = None,
) -> ValidationReport:
    """``validate_frame`` (vectorised engine) on a window held as partitions: the same report.

    ``window``: the merged ``summarise_partition`` of every partition, when the caller read them already
    (``window_checks`` does, in the pass that sketches drift); otherwise one pass makes it.
    """
    if window is None:
        window = reduce(lambda frame: summarise_partition(frame, suite), lambda a, b: a.merge(b))
    specs = [c for c in suite.columns if require_target or c.kind != "target"]
    duplicated = _duplicated_values(reduce, window, specs)
    quartiles = _quartiles(reduce, window, specs, suite)
    results = [RuleResult(None, "rows > 0", window.rows > 0, f"{window.rows:,} rows")]
    for spec in specs:
        measured = quartiles.get(spec.name)
        before = (earlier or {}).get(spec.name)
        results += _column_results(window, spec, suite, duplicated.get(spec.name), measured, before)
    times = window.parts.get(suite.time_column) if suite.time_column is not None else None
    newest = pd.Series([times.newest] if times is not None and times.newest is not None else [], dtype=object)
    span = pd.Series([times.oldest, times.newest] if times is not None and times.newest is not None else [])
    if suite.time_column is None and (freshness_hours is not None or volume is not None):
        results.append(RuleResult(None, "freshness and volume per day", True, "skipped: no time column"))
    else:
        if freshness_hours is not None:
            assert suite.time_column is not None
            results.append(memory._freshness(newest if times else None, suite.time_column, as_of, freshness_hours))
        if volume is not None:
            results.append(memory._volume(span if times else None, window.rows, suite, volume))
    stored = {name: m.stored() for name, m in quartiles.items()}
    return memory.finish_report(results, list(window.columns), window.rows, suite, source, warnings, stored)


def _column_results(
    window: WindowParts,
    spec: ColumnSpec,
    suite: SuiteSpec,
    duplicated: tuple[Any, ...] | None,
    measured: Measured | None,
    earlier: Accepted | None,
) -> list[RuleResult]:
    """``validation._plan_column`` and its checks' outcomes, in the same order, from the merged aggregates."""
    name = spec.name
    exists = ColumnCheck(name, "exists", "exists")
    part = window.parts.get(name)
    if part is None:
        return [RuleResult(name, "exists", False, "missing", kind=memory._kind(exists, suite))]
    results = [RuleResult(name, "exists", True, "present", kind=memory._kind(exists, suite))]
    typed = _type_result(part, spec, numeric_target=suite.task == "regression")
    typed = memory.unjudged_type(typed, part.rows - part.nulls, part.dtype)
    if typed is not None:
        results.append(typed)
    limit = memory.column_null_limit(spec, window.rows)
    null_rule = "not null" if limit == 0 else f"null share <= {share_text(limit)}"
    not_null = ColumnCheck(name, null_rule, "not_null", mostly=1 - limit)
    passed = part.rows == 0 or (part.rows - part.nulls) / part.rows >= not_null.mostly
    results.append(_result(not_null, suite, passed, outcome_text(not_null, part.rows, part.nulls, 0, [])))
    results += memory.missing_rules(spec, suite, part.nulls, part.rows, limit)
    if typed is not None and not typed.passed:
        return results
    results += _variation_results(part, spec, suite, measured, earlier)
    for check in memory.value_checks(spec, suite):  # the partitions counted their offending values once
        if part.error is not None:
            results.append(_result(check, suite, False, f"could not be checked: {part.error}"))
            continue
        considered = part.rows - part.nulls
        if check.expect == "unique":
            bad = part.hashes.duplicated_rows() if part.hashes is not None else 0
            offending, mostly = list(duplicated or ()), 1.0
        else:
            bad, offending, mostly = part.bad, list(part.offending), check.mostly
        passed = considered == 0 or (considered - bad) / considered >= mostly
        results.append(_result(check, suite, passed, outcome_text(check, part.rows, bad, part.nulls, offending)))
    return results


def _result(check: ColumnCheck, suite: SuiteSpec, passed: bool, observed: str) -> RuleResult:
    return RuleResult(check.column, check.rule, passed, observed, kind=memory._kind(check, suite))


def _type_result(part: ColumnPart, spec: ColumnSpec, numeric_target: bool) -> RuleResult | None:
    """``validation._type_result`` from the dtype and the merged inferred kinds."""
    dtype, inferred = part.dtype, _inferred(part.kinds)
    numeric = pd.api.types.is_numeric_dtype(dtype) and not pd.api.types.is_bool_dtype(dtype)
    wrong = f"dtype {dtype} of {inferred} values{memory._examples(pd.Series(part.present, dtype=object))}"
    if spec.kind == "numeric" or (spec.kind == "target" and numeric_target):
        return RuleResult(spec.name, "type numeric", numeric, str(dtype) if numeric else wrong)
    if spec.kind == "categorical":
        ok = (
            isinstance(dtype, pd.CategoricalDtype | pd.StringDtype)
            or pd.api.types.is_bool_dtype(dtype)
            or (pd.api.types.is_object_dtype(dtype) and inferred in ("string", "empty", "boolean"))
        )
        return RuleResult(spec.name, "type text/categorical", ok, str(dtype) if ok else wrong)
    if spec.kind == "datetime":
        if pd.api.types.is_datetime64_any_dtype(dtype):
            return RuleResult(spec.name, "type datetime", True, str(dtype))
        if not part.unparsed:
            return RuleResult(spec.name, "type datetime", True, f"{dtype}, all values parse as timestamps")
        examples = memory._examples(pd.Series(part.unparsed_values, dtype=object))
        return RuleResult(spec.name, "type datetime", False, f"{part.unparsed:,} values are not timestamps{examples}")
    return None


def _inferred(kinds: frozenset[str]) -> str:
    kinds = kinds - {"empty"}
    return "empty" if not kinds else next(iter(kinds)) if len(kinds) == 1 else "mixed"


def _variation_results(
    part: ColumnPart, spec: ColumnSpec, suite: SuiteSpec, measured: Measured | None, earlier: Accepted | None
) -> list[RuleResult]:
    """``validation._variation_rules`` (``validation_labels.label_rules`` for the target) from the distinct values kept
    and the exact quartiles."""
    variation = spec.variation
    if variation is None:
        return []
    present = part.rows - part.nulls
    if spec.kind == "target":
        label = one_class(present, part.distinct[0], variation) if len(part.distinct) == 1 else None
        rules = [
            RuleResult(spec.name, "labels vary as in the reference", label is None, label or "varies", kind="labels")
        ]
        if measured_in_units(spec, suite) and variation.quartiles is not None:
            rules.append(unit_shift_rule(spec.name, measured, variation, earlier))
        return rules
    one = None
    if (
        variation.distinct_min is not None
        and variation.distinct_min >= 2
        and variation.top_share_high is not None
        and variation.top_share_high <= MAX_TOP_SHARE
        and present >= MIN_ROWS_TO_JUDGE
        and len(part.distinct) == 1
    ):
        one = collapsed_text(present, part.distinct[0], variation)
    rules = [RuleResult(spec.name, "varies as in the reference", one is None, one or "varies", kind="collapse")]
    if spec.kind == "numeric" and variation.quartiles is not None:
        rules.append(unit_shift_rule(spec.name, measured, variation, earlier))
    return rules


def _quartiles(reduce: Reduce, window: WindowParts, specs: list[ColumnSpec], suite: SuiteSpec) -> dict[str, Measured]:
    """Exact quartiles and medians of the columns ``unit_shift`` would measure (two passes, if any)."""
    spans: dict[str, Span] = {}
    for spec in specs:
        part, variation = window.parts.get(spec.name), spec.variation
        if part is None or part.span is None or not measured_in_units(spec, suite) or variation is None:
            continue
        if judges_units(variation) and part.span.count >= MIN_ROWS_TO_JUDGE:
            spans[spec.name] = part.span
    found = exact_quantiles(reduce, spans, [0.25, 0.5, 0.75])
    return {name: Measured(quartiles, spans[name].count) for name, (quartiles, _) in found.items()}


def _duplicated_values(reduce: Reduce, window: WindowParts, specs: list[ColumnSpec]) -> dict[str, tuple[Any, ...]]:
    """The first PARTIAL values of each id column that share a hash with another row, in row order (one pass)."""
    repeated = {
        s.name: part.hashes.repeated
        for s in specs
        if s.kind == "id" and (part := window.parts.get(s.name)) is not None and part.hashes is not None
    }
    repeated = {name: hashes for name, hashes in repeated.items() if hashes.size}
    if not repeated:
        return {}

    def first(frame: pd.DataFrame) -> dict[str, tuple[Any, ...]]:
        found = {}
        for name, hashes in repeated.items():
            present = frame[name].dropna()
            found[name] = tuple(present[np.isin(hash_values(present), hashes)].head(PARTIAL).tolist())
        return found

    return reduce(first, lambda a, b: {n: (a[n] + b[n])[:PARTIAL] for n in a}, list(repeated))
