"""The promotion gate: a pure decision over holdout scores, returned as a frozen report.

Every comparison is direction-aware: for a loss (log loss, Brier) "at least" becomes
"at most", a lift is the baseline's loss minus the candidate's, and a regression
against the champion is an *increase* of the loss. The gate never raises by itself:
the caller records the report, then ``raise_if_failed()`` enforces it.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass
from typing import Any

from perennial.config import Gate
from perennial.core.evaluation import MetricEstimate, Scores
from perennial.core.metrics import higher_is_better
from perennial.errors import GateFailed


@dataclass(frozen=True, slots=True)
class Check:
    name: str
    value: float | None
    threshold: float | None
    passed: bool
    detail: str  # the comparison in words, e.g. "lift 0.01 < 0.05"


@dataclass(frozen=True, slots=True)
class GateReport:
    candidate: str
    champion: str | None
    mode: str  # "off" | "dry-run" | "enforced"
    checks: tuple[Check, ...]

    @property
    def passed(self) -> bool:
        return all(c.passed for c in self.checks)

    @property
    def failures(self) -> tuple[Check, ...]:
        return tuple(c for c in self.checks if not c.passed)

    def _subject(self) -> str:
        return f"{self.candidate} vs {self.champion}" if self.champion else f"{self.candidate} (no champion yet)"

    def summary(self) -> str:
        """One line: the verdict, and each failed check with its value and threshold."""
        mode = "" if self.mode == "enforced" else f" ({self.mode})"
        if self.mode == "off":
            return f"gate off for {self._subject()}: nothing checked"
        if self.passed:
            return f"gate passed{mode} for {self._subject()}: all {len(self.checks)} checks passed"
        failed = "; ".join(f"{c.name} ({c.detail})" for c in self.failures)
        return f"gate FAILED{mode} for {self._subject()}: {failed}"

    def to_markdown(self) -> str:
        verdict = "OFF" if self.mode == "off" else ("PASSED" if self.passed else "FAILED")
        lines = [
            f"## Gate {verdict}: {self._subject()}",
            "",
            f"Mode: `{self.mode}`. {self.summary()}",
            "",
            "| check | value | threshold | result | detail |",
            "|---|---|---|---|---|",
        ]
        for c in self.checks:
            cells = [c.name, _fmt(c.value), _fmt(c.threshold), "pass" if c.passed else "**FAIL**", c.detail]
            lines.append("| " + " | ".join(cell.replace("|", "\\|") for cell in cells) + " |")
        if not self.checks:
            lines.append("| (none) | | | | the gate is off |")
        return "\n".join(lines) + "\n"

    def to_dict(self) -> dict[str, Any]:
        checks = [
            {**asdict(c), "value": _json_float(c.value), "threshold": _json_float(c.threshold)} for c in self.checks
        ]
        return {"candidate": self.candidate, "champion": self.champion, "mode": self.mode,
                "passed": self.passed, "summary": self.summary(), "checks": checks}

    def raise_if_failed(self) -> GateReport:
        if not self.passed:
            raise GateFailed(self)
        return self


def _json_float(value: float | None) -> float | None:
    return None if value is None or not math.isfinite(value) else float(value)


def _fmt(value: float | None) -> str:
    if value is None:
        return "-"
    return f"{value:.4g}" if abs(value) < 1000 else f"{value:.0f}"


def _at_least(value: float, floor: float, higher: bool) -> bool:
    """value is at least as good as floor (NaN is never good enough)."""
    return not math.isnan(value) and (value >= floor if higher else value <= floor)


def check_promotion(
    candidate: Scores,
    baseline: Scores,
    champion: Scores | None,
    versus_champion: MetricEstimate | None,
    policy: Gate,
    primary_metric: str,
) -> GateReport:
    """Judge the candidate against the policy; a check exists only where the policy sets a limit."""
    champion_label = champion.label if champion is not None else None
    if policy.mode == "off":
        return GateReport(candidate.label, champion_label, policy.mode, ())
    higher = higher_is_better(primary_metric)
    checks: list[Check] = []
    if policy.min_primary is not None:
        checks.append(_floor("primary floor", candidate.primary.value, policy.min_primary, primary_metric, higher))
    if policy.min_lift_over_baseline is not None:
        checks.append(_lift(candidate, baseline, policy.min_lift_over_baseline, primary_metric, higher))
    if policy.max_regression_vs_champion is not None:
        checks.append(_versus_champion(candidate, champion, versus_champion, policy.max_regression_vs_champion,
                                       primary_metric, higher))
    if policy.min_slice_primary is not None:
        checks += [
            _floor(f"slice {s.column}={s.value}", s.metric.value, policy.min_slice_primary, primary_metric, higher)
            for s in candidate.slices if s.metric is not None
        ]
    if policy.max_slice_regression_vs_champion is not None:
        checks += _slices_versus_champion(candidate, champion, policy.max_slice_regression_vs_champion, higher)
    if policy.max_latency_ms_per_row is not None:
        checks.append(_ceiling("latency", candidate.latency_ms_per_row, policy.max_latency_ms_per_row, "ms/row"))
    if policy.max_model_size_mb is not None:
        checks.append(_ceiling("model size", candidate.size_mb, policy.max_model_size_mb, "MB"))
    return GateReport(candidate.label, champion_label, policy.mode, tuple(checks))


def _floor(name: str, value: float, floor: float, metric: str, higher: bool) -> Check:
    passed = _at_least(value, floor, higher)
    relation = (">=" if higher else "<=") if passed else ("<" if higher else ">")
    bound = "" if higher else " (lower is better)"
    return Check(name, value, floor, passed, f"{metric} {_fmt(value)} {relation} {_fmt(floor)}{bound}")


def _lift(candidate: Scores, baseline: Scores, minimum: float, metric: str, higher: bool) -> Check:
    lift = candidate.primary.value - baseline.primary.value
    lift = lift if higher else -lift
    passed = _at_least(lift, minimum, True)
    detail = (f"lift {_fmt(lift)} {'>=' if passed else '<'} {_fmt(minimum)}; {metric} {_fmt(candidate.primary.value)}"
              f" vs baseline {_fmt(baseline.primary.value)}")
    return Check("beats baseline", lift, minimum, passed, detail)


def _versus_champion(
    candidate: Scores, champion: Scores | None, diff: MetricEstimate | None, tolerance: float, metric: str, higher: bool
) -> Check:
    """Fail only when confidently worse: the best plausible improvement is below -tolerance."""
    if champion is None:
        return Check("beats champion", None, -tolerance, True, "no champion yet")
    sign = 1.0 if higher else -1.0
    if diff is None:  # no paired bootstrap: judge the point estimates alone
        point = sign * (candidate.primary.value - champion.primary.value)
        passed = _at_least(point, -tolerance, True)
        detail = (f"{metric} {_fmt(candidate.primary.value)} vs {_fmt(champion.primary.value)} (point estimates only); "
                  f"may trail by <={_fmt(tolerance)}")
        return Check("beats champion", point, -tolerance, passed, detail)
    best_case = diff.high if higher else -diff.low  # upper bound of the improvement
    passed = _at_least(best_case, -tolerance, True)
    direction = "" if higher else " (lower is better)"
    detail = (f"{metric} diff {diff.value:+.4f} [{diff.low:+.4f}, {diff.high:+.4f}]{direction}; "
              f"may trail by <={_fmt(tolerance)}")
    return Check("beats champion", best_case, -tolerance, passed, detail)


def _slices_versus_champion(candidate: Scores, champion: Scores | None, tolerance: float, higher: bool) -> list[Check]:
    if champion is None:
        return [Check("slices vs champion", None, -tolerance, True, "no champion yet")]
    theirs = {(s.column, s.value): s.metric for s in champion.slices if s.metric is not None}
    checks = []
    for s in candidate.slices:
        other = theirs.get((s.column, s.value))
        if s.metric is None or other is None:
            continue  # nothing to compare: one class here, or a slice the champion did not see
        change = (s.metric.value - other.value) * (1.0 if higher else -1.0)
        passed = _at_least(change, -tolerance, True)
        detail = (f"{s.metric.name} {_fmt(s.metric.value)} vs champion {_fmt(other.value)} ({change:+.4f}"
                  f"{'' if higher else ', lower is better'}); may trail by <={_fmt(tolerance)}")
        checks.append(Check(f"slice {s.column}={s.value} vs champion", change, -tolerance, passed, detail))
    return checks


def _ceiling(name: str, value: float | None, ceiling: float, unit: str) -> Check:
    if value is None:
        return Check(name, None, ceiling, False, f"not measured; must be <= {_fmt(ceiling)} {unit}")
    passed = not math.isnan(value) and value <= ceiling
    return Check(name, value, ceiling, passed, f"{_fmt(value)} {'<=' if passed else '>'} {_fmt(ceiling)} {unit}")
