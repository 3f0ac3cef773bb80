"""The label feed's rules: labels all of one class, a regression target moved by one factor, classes the
model never learnt. Run on the target when training data holds it, and on the labels that arrived for a
monitored window (``check_arrived_labels``), whose data was checked without them."""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import replace

import pandas as pd

from perennial.core.contract import ColumnSpec, SuiteSpec
from perennial.core.target import class_names
from perennial.core.validation_bounds import one_class
from perennial.core.validation_report import RuleResult, ValidationReport
from perennial.core.validation_units import Accepted, Earlier, Measured, measure, measured_in_units, unit_shift_rule


def check_arrived_labels(
    report: ValidationReport,
    labels: pd.Series,
    suite: SuiteSpec,
    warnings: Collection[str] | None = None,
    earlier: Earlier | None = None,
) -> ValidationReport:
    """``report`` with the label feed's rules run on the labels that arrived for a window's rows
    (coded as training coded them). A window's data is checked without its target (labels come
    later), so a month of labels all one class, or a regression target in other units, passed as
    'within policy' and a retrain learnt from it; judged here, such a window is refused. A class the
    model never learnt is a new category (kind categories: a warning unless ``warnings``, by default
    the contract's, leaves it out). ``earlier``: as ``validate_frame``'s, the target's among them."""
    spec = next((c for c in suite.columns if c.kind == "target"), None)
    if spec is None or not labels.notna().any():
        return report
    warn = set(suite.warnings if warnings is None else warnings)
    measured = measure(labels, spec.variation) if measured_in_units(spec, suite) else None
    before = (earlier or {}).get(spec.name)
    rules = [replace(r, blocking=r.kind not in warn) for r in label_rules(labels, spec, suite, measured, before)]
    if suite.task == "multiclass" and suite.target_values:
        rules += [replace(r, blocking="categories" not in warn) for r in unlearnt_classes(labels, spec, suite)]
    quartiles = report.quartiles + (((spec.name, measured.stored()),) if measured is not None else ())
    return replace(report, results=(*report.results, *rules), quartiles=quartiles)


def unlearnt_classes(labels: pd.Series, spec: ColumnSpec, suite: SuiteSpec) -> list[RuleResult]:
    present = class_names(labels.dropna())
    new = ~present.isin(set(class_names(pd.Series(suite.target_values, dtype=object))))
    if not new.any():
        return []
    counts = present[new].value_counts()
    named = ", ".join(f"{c!r} ({n:,})" for c, n in counts.head(5).items()) + (", ..." if len(counts) > 5 else "")
    observed = (
        f"{int(new.sum()):,} of {len(present):,} labels ({new.mean():.1%}) are classes the model never learnt: "
        f"{named}; the window's metric counts them as misses"
    )
    return [RuleResult(spec.name, "labels among the classes the model learnt", False, observed, kind="categories")]


def label_rules(
    values: pd.Series, spec: ColumnSpec, suite: SuiteSpec, measured: Measured | None, earlier: Accepted | None
) -> list[RuleResult]:
    """Labels all of one value, or (regression) moved wholesale by one factor: the label feed broke,
    and a retrain must not learn from it. One class always blocks (kind labels); a moved scale blocks
    unless ``validation.warnings`` lists unit_shift, as its advice says: a target that really grew
    (prices, revenue) was refused every window, and the advice to list it changed nothing."""
    if spec.variation is None:
        return []
    present = values.dropna()
    one = one_class(len(present), present.iloc[0], spec.variation) if present.nunique() == 1 else None
    rules = [RuleResult(spec.name, "labels vary as in the reference", one is None, one or "varies", kind="labels")]
    if measured_in_units(spec, suite) and spec.variation.quartiles is not None:
        rules.append(unit_shift_rule(spec.name, measured, spec.variation, earlier))
    return rules
