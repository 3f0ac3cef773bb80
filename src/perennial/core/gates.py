"""The promotion gate: a pure decision over holdout scores, returned as a frozen report.

Every comparison is direction-aware: for a loss (log loss, Brier) "at least" becomes
"at most", a lift is the baseline's loss minus the candidate's, and a regression
against the champion is an *increase* of the loss. The gate never raises by itself:
the caller records the report, then ``raise_if_failed()`` enforces it.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, replace
from typing import Any, cast

from perennial.config import Gate, Metric
from perennial.core.evaluation import MetricEstimate, Scores
from perennial.core.events import DECAY_EVENTS, DriftDetected
from perennial.core.evidence import HoldoutEvidence, Verdict, improvement_bounds, non_inferior, shortfall, superior
from perennial.core.metrics import higher_is_better
from perennial.errors import GateFailed

# checks judged on the holdout's metrics: not judged (inconclusive) when the holdout is too thin
_METRIC_CHECKS = ("primary floor", "beats baseline", "slice ")


@dataclass(frozen=True, slots=True)
class Check:
    name: str
    value: float | None
    threshold: float | None
    passed: bool
    detail: str  # the comparison in words, e.g. "lift 0.01 < 0.05"
    inconclusive: bool = False  # too little evidence to judge: neither passed nor failed

    @property
    def verdict(self) -> Verdict:
        if self.inconclusive:
            return Verdict.INCONCLUSIVE
        return Verdict.PASSED if self.passed else Verdict.FAILED


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
            cells = [c.name, _fmt(c.value), _fmt(c.threshold), results[c.verdict], c.detail]
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
        checks.append(_lift_beside_champion(lift, champion, versus_champion, baseline, higher))
    checks += _champion_checks(
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


def _champion_checks(
    candidate: Scores,
    champion: Scores | None,
    diff: MetricEstimate | None,
    more: tuple[MetricEstimate, ...],
    policy: Gate,
    metric: str,
    evidence: HoldoutEvidence | None,
    reason: str,
    drift_alone: bool,
) -> list[Check]:
    """Non-inferior with confidence on every margin; after a decay or drift, better with confidence."""
    margin = policy.max_regression_vs_champion
    if margin is None and not policy.champion_margins:
        return []
    if champion is None and (evidence is None or evidence.champion is None):
        return [Check("beats champion", None, -(margin or 0.0), True, "no champion yet")]
    reasons = _champion_shortfall(evidence, policy, champion, diff)
    judged = [(diff, margin)] if margin is not None else []
    judged += [
        (d, policy.champion_margins[cast(Metric, d.name.removesuffix("_diff"))])
        for d in more
        if d.name.removesuffix("_diff") in policy.champion_margins
    ]
    checks = [
        _versus_champion(
            candidate,
            champion,
            d,
            m,
            d.name.removesuffix("_diff") if d else metric,
            higher_is_better(d.name.removesuffix("_diff") if d else metric),
            reasons,
        )
        for d, m in judged
    ]
    gain = required_gain(policy, reason, drift_alone)
    if gain is not None:
        checks.append(_improves(diff, gain, metric, reasons, reason, margin))
    return checks


def required_gain(policy: Gate, reason: str, drift_alone: bool = True) -> float | None:
    """The improvement a retrain asked for by ``reason`` must show with confidence (None: none asked).

    Drift asks for a gain only where it may ask alone: a drift retrain the policy let through only on
    a measured or estimated drop is judged as any retrain (a gradual drift's first retrain, trained
    before its holdout month, is rarely better with confidence yet; replays promoted it rightly).
    """
    if reason in DECAY_EVENTS:
        return policy.min_improvement_after_decay
    if reason == DriftDetected.name and drift_alone:
        return policy.min_improvement_after_drift
    return None


def _champion_shortfall(
    evidence: HoldoutEvidence | None, policy: Gate, champion: Scores | None, diff: MetricEstimate | None
) -> tuple[str, ...]:
    if evidence is None or evidence.champion_rows is None:
        return ()
    reasons = shortfall(evidence.champion_rows, policy.min_evidence, diff)
    if reasons and evidence.champion_note:
        reasons = (*reasons, evidence.champion_note)
    return reasons if reasons or champion is not None else ("the champion was not scored",)


def _floor(name: str, value: float, floor: float, metric: str, higher: bool) -> Check:
    passed = _at_least(value, floor, higher)
    relation = (">=" if higher else "<=") if passed else ("<" if higher else ">")
    bound = "" if higher else " (lower is better)"
    return Check(name, value, floor, passed, f"{metric} {_fmt(value)} {relation} {_fmt(floor)}{bound}")


def _lift(candidate: Scores, baseline: Scores, minimum: float, metric: str, higher: bool) -> Check:
    lift = candidate.primary.value - baseline.primary.value
    lift = lift if higher else -lift
    passed = _at_least(lift, minimum, True)
    detail = (
        f"lift {_fmt(lift)} {'>=' if passed else '<'} {_fmt(minimum)}; {metric} {_fmt(candidate.primary.value)}"
        f" vs baseline {_fmt(baseline.primary.value)}"
    )
    return Check("beats baseline", lift, minimum, passed, detail)


def _lift_beside_champion(
    lift: Check, champion: Scores | None, diff: MetricEstimate | None, baseline: Scores, higher: bool
) -> Check:
    """A lift short of the bar still passes when the champion it would replace is short of it too on the
    same rows and the candidate beats that champion with confidence: refusing it would keep the worse
    model (after a concept change the champion can fall below even the baseline). It must still beat
    the baseline at all: a candidate no better than a constant has learnt nothing."""
    if lift.passed or champion is None or diff is None or lift.value is None or lift.threshold is None:
        return lift
    champion_lift = (champion.primary.value - baseline.primary.value) * (1.0 if higher else -1.0)
    better = superior(diff, 0.0, higher) is Verdict.PASSED
    if not (lift.value > 0 and champion_lift < lift.threshold and better):
        return lift
    detail = (
        f"{lift.detail}; short of the bar, but the champion's own lift on these rows is {_fmt(champion_lift)}"
        " and the candidate beats it with confidence: kept, the champion would be worse"
    )
    return replace(lift, passed=True, detail=detail)


def _versus_champion(
    candidate: Scores,
    champion: Scores | None,
    diff: MetricEstimate | None,
    margin: float,
    metric: str,
    higher: bool,
    reasons: tuple[str, ...] = (),
) -> Check:
    """Non-inferior with confidence: the improvement's lower bound is above -margin."""
    name = "beats champion" if metric == candidate.primary.name else f"{metric} vs champion"
    if reasons:
        return Check(name, None, -margin, False, f"not judged: {'; '.join(reasons)}", inconclusive=True)
    if diff is None:  # no paired bootstrap: judge the point estimates alone
        assert champion is not None
        point = (1.0 if higher else -1.0) * (candidate.primary.value - champion.primary.value)
        passed = _at_least(point, -margin, True)
        detail = (
            f"{metric} {_fmt(candidate.primary.value)} vs {_fmt(champion.primary.value)} (point estimates only); "
            f"may trail by <={_fmt(margin)}"
        )
        return Check(name, point, -margin, passed, detail)
    low = diff.low if higher else -diff.high  # lower bound of the improvement
    passed = non_inferior(diff, margin, higher) is Verdict.PASSED
    direction = "" if higher else " (lower is better)"
    detail = (
        f"{metric} diff {diff.value:+.4f} [{diff.low:+.4f}, {diff.high:+.4f}]{direction}; worst plausible "
        f"{low:+.4f} {'>' if passed else '<='} -{_fmt(margin)} (non-inferior with confidence)"
    )
    return Check(name, low, -margin, passed, detail)


def _improves(
    diff: MetricEstimate | None,
    min_gain: float,
    metric: str,
    reasons: tuple[str, ...],
    reason: str,
    immaterial: float | None = None,
) -> Check:
    """After a performance drop or drift a retrain must be better, not merely as good: else keep the champion.

    An interval that still reaches a gain is inconclusive (the champion stays, and the episode may
    retry on more of the changed data); one whose best end is no gain fails, and so does one whose best
    end is within ``immaterial`` (the non-inferiority margin: a difference the policy calls no
    difference), since that is conclusive evidence that the retrain is the same model again.
    """
    decay = reason in DECAY_EVENTS
    name = "improves on decayed champion" if decay else "improves on champion after drift"
    if reasons or diff is None:
        why = "; ".join(reasons) or "no paired comparison"
        return Check(name, None, min_gain, False, f"not judged: {why}", inconclusive=True)
    low, high = improvement_bounds(diff, higher_is_better(metric))
    passed = superior(diff, min_gain, higher_is_better(metric)) is Verdict.PASSED
    asked = f"retrain asked for by {'a performance drop' if decay else 'drift alone'}"
    if passed:
        return Check(name, low, min_gain, True, f"{asked}: {metric} improvement at least {low:+.4f} > {_fmt(min_gain)}")
    detail = f"{asked}: {metric} improvement {low:+.4f} to {high:+.4f}, not above {_fmt(min_gain)} with confidence"
    if immaterial is not None and high > min_gain and high < immaterial:
        return Check(
            name,
            low,
            min_gain,
            False,
            f"{detail} (equivalent: even at best below the {_fmt(immaterial)} "
            "the gate treats as no difference, gate.max_regression_vs_champion)",
        )
    if high > min_gain:
        return Check(name, low, min_gain, False, f"{detail} (it may be better: not shown yet)", inconclusive=True)
    return Check(name, low, min_gain, False, f"{detail} (no gain)")


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
        detail = (
            f"{s.metric.name} {_fmt(s.metric.value)} vs champion {_fmt(other.value)} ({change:+.4f}"
            f"{'' if higher else ', lower is better'}); may trail by <={_fmt(tolerance)}"
        )
        checks.append(Check(f"slice {s.column}={s.value} vs champion", change, -tolerance, passed, detail))
    return checks


def _ceiling(name: str, value: float | None, ceiling: float, unit: str) -> Check:
    if value is None:
        return Check(name, None, ceiling, False, f"not measured; must be <= {_fmt(ceiling)} {unit}")
    passed = not math.isnan(value) and value <= ceiling
    return Check(name, value, ceiling, passed, f"{_fmt(value)} {'<=' if passed else '>'} {_fmt(ceiling)} {unit}")
