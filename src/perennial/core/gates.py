"""The promotion gate: a pure decision over holdout scores, returned as a frozen report.

Every comparison is direction-aware: for a loss (log loss, Brier) "at least" becomes
"at most", a lift is the baseline's loss minus the candidate's, and a regression
against the champion is an *increase* of the loss. The gate never raises by itself:
the caller records the report, then ``raise_if_failed()`` enforces it.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, replace
from typing import Any

from perennial.config import Gate
from perennial.core.evaluation import MetricEstimate, Scores
from perennial.core.evidence import HoldoutEvidence, Verdict, shortfall
from perennial.core.gate_champion import champion_checks, lift_beside_champion, required_gain
from perennial.core.gate_check import Check, at_least, fmt
from perennial.core.metrics import higher_is_better
from perennial.errors import GateFailed

__all__ = ["Check", "GateReport", "check_promotion", "required_gain"]  # Check: where the gate's users import it

# checks judged on the holdout's metrics: not judged (inconclusive) when the holdout is too thin
_METRIC_CHECKS = ("primary floor", "beats baseline", "slice ")


@dataclass(frozen=True, slots=True)
class GateReport:
    candidate: str
    champion: str | None
    mode: str  # "off" | "dry-run" | "enforced"
    checks: tuple[Check, ...]
    holdout: str = ""  # the span and rows the verdict rests on

    @property
    def passed(self) -> bool:
        return all(c.passed for c in self.checks)

    @property
    def verdict(self) -> Verdict:
        """Failed if any check failed; else inconclusive if any could not be judged; else passed."""
        verdicts = {c.verdict for c in self.checks}
        return next((v for v in (Verdict.FAILED, Verdict.INCONCLUSIVE) if v in verdicts), Verdict.PASSED)

    @property
    def failures(self) -> tuple[Check, ...]:
        return tuple(c for c in self.checks if c.verdict is Verdict.FAILED)

    @property
    def unjudged(self) -> tuple[Check, ...]:
        return tuple(c for c in self.checks if c.verdict is Verdict.INCONCLUSIVE)

    def _subject(self) -> str:
        return f"{self.candidate} vs {self.champion}" if self.champion else f"{self.candidate} (no champion yet)"

    def summary(self) -> str:
        """One line: the verdict, and each failed (or unjudged) check with its value and threshold."""
        mode = "" if self.mode == "enforced" else f" ({self.mode})"
        if self.mode == "off":
            return f"gate off for {self._subject()}: nothing checked"
        if self.verdict is Verdict.PASSED:
            return f"gate passed{mode} for {self._subject()}: all {len(self.checks)} checks passed"
        if self.verdict is Verdict.INCONCLUSIVE:
            short = "; ".join(dict.fromkeys(_reason(c) for c in self.unjudged))
            how = (
                " (gate.min_evidence asks for this much: hold out more rows, merge classes too rare to judge, "
                "or ask for less)"
                if any(c.name == "evidence" for c in self.unjudged)
                else ""
            )
            return f"gate INCONCLUSIVE{mode} for {self._subject()}: {short}; the champion stays{how}"
        failed = "; ".join(f"{c.name} ({c.detail})" for c in self.failures)
        return f"gate FAILED{mode} for {self._subject()}: {failed}"

    def to_markdown(self) -> str:
        verdict = "OFF" if self.mode == "off" else self.verdict.value.upper()
        lines = [
            f"## Gate {verdict}: {self._subject()}",
            "",
            f"Mode: `{self.mode}`. {self.summary()}",
            "",
            *([f"Holdout: {self.holdout}", ""] if self.holdout else []),
            "| check | value | threshold | result | detail |",
            "|---|---|---|---|---|",
        ]
        results = {Verdict.PASSED: "pass", Verdict.FAILED: "**FAIL**", Verdict.INCONCLUSIVE: "*inconclusive*"}
        for c in self.checks:
            cells = [c.name, fmt(c.value), fmt(c.threshold), results[c.verdict], c.detail]
            lines.append("| " + " | ".join(cell.replace("|", "\\|") for cell in cells) + " |")
        if not self.checks:
            lines.append("| (none) | | | | the gate is off |")
        return "\n".join(lines) + "\n"

    def to_dict(self) -> dict[str, Any]:
        checks = [
            {**asdict(c), "value": _json_float(c.value), "threshold": _json_float(c.threshold)} for c in self.checks
        ]
        return {
            "candidate": self.candidate,
            "champion": self.champion,
            "mode": self.mode,
            "passed": self.passed,
            "verdict": self.verdict.value,
            "holdout": self.holdout,
            "summary": self.summary(),
            "checks": checks,
        }

    def raise_if_failed(self) -> GateReport:
        """A failed verdict raises; an inconclusive one does not (the champion stays, nothing broke)."""
        if self.verdict is Verdict.FAILED:
            raise GateFailed(self)
        return self


def _reason(check: Check) -> str:
    """What an unjudged check was short of (its detail after 'not judged: ')."""
    return check.detail.rsplit("not judged: ", 1)[-1]


def _json_float(value: float | None) -> float | None:
    return None if value is None or not math.isfinite(value) else float(value)


def check_promotion(
    candidate: Scores,
    baseline: Scores,
    champion: Scores | None,
    versus_champion: MetricEstimate | None,
    policy: Gate,
    primary_metric: str,
    *,
    evidence: HoldoutEvidence | None = None,
    versus_more: tuple[MetricEstimate, ...] = (),
    reason: str = "manual",
    drift_alone: bool = True,
) -> GateReport:
    """Judge the candidate against the policy; a check exists only where the policy sets a limit.

    ``reason`` is the event that asked for the retrain: after a drop, or after drift that may ask
    alone (``drift_alone``: monitoring.retraining.drift_needs_drop off), it must improve.
    With ``evidence``, metric checks on a holdout short of ``policy.min_evidence`` are inconclusive,
    and so is the champion comparison on too few rows the champion never trained on.
    """
    champion_label = champion.label if champion is not None else (evidence.champion if evidence else None)
    if policy.mode == "off":
        return GateReport(candidate.label, champion_label, policy.mode, ())
    higher = higher_is_better(primary_metric)
    checks: list[Check] = []
    if policy.min_primary is not None:
        checks.append(_floor("primary floor", candidate.primary.value, policy.min_primary, primary_metric, higher))
    if policy.min_lift_over_baseline is not None:
        lift = _lift(candidate, baseline, policy.min_lift_over_baseline, primary_metric, higher)
        checks.append(lift_beside_champion(candidate, lift, champion, versus_champion, baseline, higher))
    checks += champion_checks(
        candidate, champion, versus_champion, versus_more, policy, primary_metric, evidence, reason, drift_alone
    )
    if policy.min_slice_primary is not None:
        checks += [
            _floor(f"slice {s.column}={s.value}", s.metric.value, policy.min_slice_primary, primary_metric, higher)
            for s in candidate.slices
            if s.metric is not None
        ]
    unscored = champion is None and evidence is not None and evidence.champion is not None
    if policy.max_slice_regression_vs_champion is not None and not unscored:
        checks += _slices_versus_champion(candidate, champion, policy.max_slice_regression_vs_champion, higher)
    if evidence is not None:
        checks = _evidence_checks(evidence, candidate.primary, policy, checks)
    if policy.max_latency_ms_per_row is not None:
        checks.append(_ceiling("latency", candidate.latency_ms_per_row, policy.max_latency_ms_per_row, "ms/row"))
    if policy.max_model_size_mb is not None:
        checks.append(_ceiling("model size", candidate.size_mb, policy.max_model_size_mb, "MB"))
    return GateReport(candidate.label, champion_label, policy.mode, tuple(checks), evidence.span if evidence else "")


def _unjudged(check: Check, reasons: tuple[str, ...]) -> Check:
    return replace(check, passed=False, inconclusive=True, detail=f"{check.detail}; not judged: {'; '.join(reasons)}")


def _evidence_checks(
    evidence: HoldoutEvidence, primary: MetricEstimate, policy: Gate, checks: list[Check]
) -> list[Check]:
    """An evidence check first; on a thin holdout every metric check becomes inconclusive."""
    minimum = policy.min_evidence
    reasons = shortfall(evidence.holdout, minimum, primary)
    counts = ", ".join(f"{n:,} {name}" for name, n in evidence.holdout.classes)
    detail = f"{evidence.holdout.rows:,} holdout rows" + (f" ({counts})" if counts else "")
    head = Check("evidence", float(evidence.holdout.rows), float(minimum.holdout_rows), True, detail)
    if not reasons:
        return [head, *checks]
    return [_unjudged(head, reasons)] + [
        _unjudged(c, reasons) if c.name.startswith(_METRIC_CHECKS) else c for c in checks
    ]


def _floor(name: str, value: float, floor: float, metric: str, higher: bool) -> Check:
    passed = at_least(value, floor, higher)
    relation = (">=" if higher else "<=") if passed else ("<" if higher else ">")
    bound = "" if higher else " (lower is better)"
    return Check(name, value, floor, passed, f"{metric} {fmt(value)} {relation} {fmt(floor)}{bound}")


def _lift(candidate: Scores, baseline: Scores, minimum: float, metric: str, higher: bool) -> Check:
    lift = candidate.primary.value - baseline.primary.value
    lift = lift if higher else -lift
    passed = at_least(lift, minimum, True)
    detail = (
        f"lift {fmt(lift)} {'>=' if passed else '<'} {fmt(minimum)}; {metric} {fmt(candidate.primary.value)}"
        f" vs baseline {fmt(baseline.primary.value)}"
    )
    return Check("beats baseline", lift, minimum, passed, detail)


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
        passed = at_least(change, -tolerance, True)
        detail = (
            f"{s.metric.name} {fmt(s.metric.value)} vs champion {fmt(other.value)} ({change:+.4f}"
            f"{'' if higher else ', lower is better'}); may trail by <={fmt(tolerance)}"
        )
        checks.append(Check(f"slice {s.column}={s.value} vs champion", change, -tolerance, passed, detail))
    return checks


def _ceiling(name: str, value: float | None, ceiling: float, unit: str) -> Check:
    if value is None:
        return Check(name, None, ceiling, False, f"not measured; must be <= {fmt(ceiling)} {unit}")
    passed = not math.isnan(value) and value <= ceiling
    return Check(name, value, ceiling, passed, f"{fmt(value)} {'<=' if passed else '>'} {fmt(ceiling)} {unit}")
