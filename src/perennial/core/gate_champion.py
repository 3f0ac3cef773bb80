"""The gate's checks against the champion: non-inferior with confidence on every margin, better with
confidence after a drop or drift (or equivalent, and so no gain), and a lift short of the bar let
through when the champion it would replace is short of it too (pure)."""

from __future__ import annotations

from dataclasses import replace
from typing import cast

from perennial.config import Gate, Metric
from perennial.core.evaluation import MetricEstimate, Scores
from perennial.core.events import DECAY_EVENTS, DriftDetected
from perennial.core.evidence import HoldoutEvidence, Verdict, improvement_bounds, non_inferior, shortfall, superior
from perennial.core.gate_check import Check, at_least, fmt
from perennial.core.metrics import higher_is_better


def champion_checks(
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


def lift_beside_champion(
    candidate: Scores,
    lift: Check,
    champion: Scores | None,
    diff: MetricEstimate | None,
    baseline: Scores,
    higher: bool,
) -> Check:
    """A lift short of the bar still passes when the champion it would replace is short of it too on the
    same rows and the candidate beats that champion with confidence: refusing it would keep the worse
    model (after a concept change the champion can fall below even the baseline). It must still beat
    the baseline with confidence, its interval clear of the baseline's figure: a candidate at chance
    beside a champion below it has learnt nothing, and would become the yardstick."""
    if lift.passed or champion is None or diff is None or lift.value is None or lift.threshold is None:
        return lift
    champion_lift = (champion.primary.value - baseline.primary.value) * (1.0 if higher else -1.0)
    better = superior(diff, 0.0, higher) is Verdict.PASSED
    primary, floor = candidate.primary, baseline.primary.value
    clear = primary.low > floor if higher else primary.high < floor  # NaN ends: not clear
    if not (clear and champion_lift < lift.threshold and better):
        return lift
    detail = (
        f"{lift.detail}; short of the bar, but the champion's own lift on these rows is {fmt(champion_lift)}"
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
        passed = at_least(point, -margin, True)
        detail = (
            f"{metric} {fmt(candidate.primary.value)} vs {fmt(champion.primary.value)} (point estimates only); "
            f"may trail by <={fmt(margin)}"
        )
        return Check(name, point, -margin, passed, detail)
    low = diff.low if higher else -diff.high  # lower bound of the improvement
    passed = non_inferior(diff, margin, higher) is Verdict.PASSED
    direction = "" if higher else " (lower is better)"
    detail = (
        f"{metric} diff {diff.value:+.4f} [{diff.low:+.4f}, {diff.high:+.4f}]{direction}; worst plausible "
        f"{low:+.4f} {'>' if passed else '<='} -{fmt(margin)} (non-inferior with confidence)"
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
    difference), since that is conclusive evidence that the retrain is the same model again. After
    drift alone that holds even when the gain is sure: there is no drop to win back, two near-identical
    models' paired differences are tight, and +0.0003 to +0.0016 of AUC promoted a drift-alone retrain
    of the same model. After a drop a sure gain, however small, is taken.
    """
    decay = reason in DECAY_EVENTS
    name = "improves on decayed champion" if decay else "improves on champion after drift"
    if reasons or diff is None:
        why = "; ".join(reasons) or "no paired comparison"
        return Check(name, None, min_gain, False, f"not judged: {why}", inconclusive=True)
    low, high = improvement_bounds(diff, higher_is_better(metric))
    passed = superior(diff, min_gain, higher_is_better(metric)) is Verdict.PASSED
    asked = f"retrain asked for by {'a performance drop' if decay else 'drift alone'}"
    equivalent = immaterial is not None and min_gain < high < immaterial
    if passed and (decay or not equivalent):
        return Check(name, low, min_gain, True, f"{asked}: {metric} improvement at least {low:+.4f} > {fmt(min_gain)}")
    sure = "above" if passed else "not above"
    detail = f"{asked}: {metric} improvement {low:+.4f} to {high:+.4f}, {sure} {fmt(min_gain)} with confidence"
    if equivalent:
        assert immaterial is not None
        return Check(
            name,
            low,
            min_gain,
            False,
            f"{detail} (equivalent: even at best below the {fmt(immaterial)} "
            "the gate treats as no difference, gate.max_regression_vs_champion)",
        )
    if high > min_gain:
        return Check(name, low, min_gain, False, f"{detail} (it may be better: not shown yet)", inconclusive=True)
    return Check(name, low, min_gain, False, f"{detail} (no gain)")
