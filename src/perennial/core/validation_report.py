"""What a validation found: one result per rule, and the report that says it readably.

The report is plain data: the task that made it logs ``to_dict()`` to MLflow, publishes
``to_markdown()`` as a Prefect artifact, then calls ``raise_if_failed()``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from perennial.core.validation_bounds import WARNABLE
from perennial.errors import DataValidationFailed


@dataclass(frozen=True, slots=True)
class RuleResult:
    column: str | None  # None for table-level rules (rows, freshness, volume)
    rule: str
    passed: bool
    observed: str
    kind: str = "schema"  # what sort of rule: schema, nulls, range, ... (validation_bounds.WARNABLE)
    blocking: bool = True  # a broken warning rule is recorded and shown, and blocks nothing

    def describe(self) -> str:
        if self.column is None:
            return f"{self.rule} ({self.observed})"
        if self.rule == "exists" and not self.passed:
            hint = self.observed.removeprefix("missing").lstrip("; ")
            return f"column '{self.column}' missing" + (f" ({hint})" if hint else "")
        return f"column '{self.column}' {self.rule} ({self.observed})"


@dataclass(frozen=True, slots=True)
class ValidationReport:
    source: str
    rows: int
    results: tuple[RuleResult, ...]
    # the quartiles of the columns watched for a unit change, as measured here: stored for a window
    # accepted, the next window's move is measured from them too (core/validation_units.py)
    quartiles: tuple[tuple[str, tuple[float, float, float]], ...] = ()

    @property
    def passed(self) -> bool:
        """No blocking rule broken (warnings do not count)."""
        return all(r.passed or not r.blocking for r in self.results)

    @property
    def failures(self) -> tuple[RuleResult, ...]:
        return tuple(r for r in self.results if not r.passed and r.blocking)

    @property
    def warnings(self) -> tuple[RuleResult, ...]:
        return tuple(r for r in self.results if not r.passed and not r.blocking)

    def summary(self, limit: int = 10) -> str:
        failures, warnings = self.failures, self.warnings
        warned = (
            f"; {len(warnings)} warning(s): " + "; ".join(w.describe() for w in warnings[:limit]) if warnings else ""
        )
        if not failures:
            passed = len(self.results) - len(warnings)
            if warned:
                return f"{self.source}: passed on {self.rows:,} rows ({passed} of {len(self.results)} checks){warned}"
            return f"{self.source}: all {len(self.results)} checks passed on {self.rows:,} rows"
        shown = "; ".join(f.describe() for f in failures[:limit])
        more = f"; and {len(failures) - limit} more" if len(failures) > limit else ""
        return f"{self.source}: {len(failures)} of {len(self.results)} checks failed: {shown}{more}{warned}{self.way_forward()}"

    def way_forward(self) -> str:
        """What to do when a blocking rule describes the data as it now is, not a fault (a new
        carrier, a column dropped for good): left blocking, such data would stop every window."""
        # duplicated ids are a feed sending rows twice, never the data as it now is; a column gone
        # missing is not learnt around by keeping it (a retrain on it 34% empty was promoted): drop it
        kinds = sorted({f.kind for f in self.failures if f.kind in WARNABLE and f.kind not in ("unique", "null_surge")})
        gone = sorted({repr(f.column) for f in self.failures if f.kind == "null_surge"})
        new_class = any(f.kind == "labels" and f.rule.startswith("values in") for f in self.failures)
        classes = (
            ". A label outside the reference's classes is a class no model here learnt: if it is real and rare, "
            "drop or merge its rows; if it is new, retrain on data that holds enough of it"
            if new_class
            else ""
        )
        recoded = sorted({repr(f.column) for f in self.failures if f.kind == "recoded"})
        if recoded:
            classes += (
                f". Most values of {', '.join(recoded)} are not among the categories the model knows: a "
                "recoding (case, renamed codes) or values of another column; fix the feed, or if the column "
                "really changed, train on data that holds its new values"
            )
        if gone:
            classes += (
                f". If {', '.join(gone)} is gone for good, not a broken feed: take it out of data.features and "
                "retrain without it"
            )
        if not kinds:
            return classes
        listed = ", ".join(kinds)
        unseen = " (the model scores a new category as unseen)" if "categories" in kinds else ""
        return (
            f". If this is the data as it now is, not a fault: list {listed} in validation.warnings to record it "
            f"without blocking{unseen}, and retrain once the training data holds it{classes}"
        )

    def to_markdown(self) -> str:
        verdict = "PASSED" if self.passed else "FAILED"
        failed, warned = len(self.failures), len(self.warnings)
        lines = [
            f"# Data validation {verdict}: `{self.source}`",
            "",
            f"**{failed} of {len(self.results)} checks failed** on {self.rows:,} rows."
            if failed
            else f"All {len(self.results) - warned} blocking checks passed on {self.rows:,} rows.",
        ]
        if failed:
            lines += ["", "## Failures", "", *_table(self.failures)]
        if warned:
            lines += ["", f"## Warnings ({warned}: recorded, not blocking)", "", *_table(self.warnings)]
        lines += ["", "## All checks", "", *_table(self.results)]
        return "\n".join(lines) + "\n"

    def to_dict(self) -> dict[str, Any]:
        return {
            "source": self.source,
            "rows": self.rows,
            "passed": self.passed,
            "checks": len(self.results),
            "failed": len(self.failures),
            "warnings": len(self.warnings),
            "summary": self.summary(),
            "results": [
                {
                    "column": r.column,
                    "rule": r.rule,
                    "passed": r.passed,
                    "observed": r.observed,
                    "kind": r.kind,
                    "blocking": r.blocking,
                }
                for r in self.results
            ],
            **({"quartiles": {name: list(q) for name, q in self.quartiles}} if self.quartiles else {}),
        }

    def raise_if_failed(self) -> ValidationReport:
        if not self.passed:
            raise DataValidationFailed(self)
        return self


def _table(results: tuple[RuleResult, ...]) -> list[str]:
    def cell(text: str) -> str:
        return text.replace("|", "\\|").replace("\n", " ")

    rows = ["| Result | Column | Rule | Observed |", "|---|---|---|---|"]
    for r in results:
        column = f"`{cell(r.column)}`" if r.column is not None else "(table)"
        result = "pass" if r.passed else ("**FAIL**" if r.blocking else "warn")
        rows.append(f"| {result} | {column} | {cell(r.rule)} | {cell(r.observed)} |")
    return rows


def validation_tags(report: ValidationReport) -> dict[str, str]:
    """The run's validation verdict, and how many warnings it passed with (shown, not blocking)."""
    return {
        "perennial.validation": "passed" if report.passed else "failed",
        "perennial.validation_warnings": str(len(report.warnings)),
    }
