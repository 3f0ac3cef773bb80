"""What a validation found: one result per rule, and the report that says it readably.

The report is plain data: the task that made it logs ``to_dict()`` to MLflow, publishes
``to_markdown()`` as a Prefect artifact, then calls ``raise_if_failed()``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from perennial.errors import DataValidationFailed


@dataclass(frozen=True, slots=True)
class RuleResult:
    column: str | None  # None for table-level rules (rows, freshness, volume)
    rule: str
    passed: bool
    observed: str

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

    @property
    def passed(self) -> bool:
        return all(r.passed for r in self.results)

    @property
    def failures(self) -> tuple[RuleResult, ...]:
        return tuple(r for r in self.results if not r.passed)

    def summary(self, limit: int = 10) -> str:
        failures = self.failures
        if not failures:
            return f"{self.source}: all {len(self.results)} checks passed on {self.rows:,} rows"
        shown = "; ".join(f.describe() for f in failures[:limit])
        more = f"; and {len(failures) - limit} more" if len(failures) > limit else ""
        return f"{self.source}: {len(failures)} of {len(self.results)} checks failed: {shown}{more}"

    def to_markdown(self) -> str:
        verdict = "PASSED" if self.passed else "FAILED"
        failed = len(self.failures)
        lines = [
            f"# Data validation {verdict}: `{self.source}`",
            "",
            f"**{failed} of {len(self.results)} checks failed** on {self.rows:,} rows."
            if failed
            else f"All {len(self.results)} checks passed on {self.rows:,} rows.",
        ]
        if failed:
            lines += ["", "## Failures", "", *_table(self.failures)]
        lines += ["", "## All checks", "", *_table(self.results)]
        return "\n".join(lines) + "\n"

    def to_dict(self) -> dict[str, Any]:
        return {
            "source": self.source,
            "rows": self.rows,
            "passed": self.passed,
            "checks": len(self.results),
            "failed": len(self.failures),
            "summary": self.summary(),
            "results": [
                {"column": r.column, "rule": r.rule, "passed": r.passed, "observed": r.observed} for r in self.results
            ],
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
        rows.append(f"| {'pass' if r.passed else '**FAIL**'} | {column} | {cell(r.rule)} | {cell(r.observed)} |")
    return rows
