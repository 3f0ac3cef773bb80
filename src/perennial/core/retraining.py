"""The retraining policy: k bad windows of the last n, a dedupe key, a cooldown, valid data only.

Pure: the monitoring flow passes in the window history and the record of past retrains;
this decides, and says why, so that the decision can be shown and tested.
"""

from __future__ import annotations

import datetime as dt
import math
from dataclasses import dataclass, replace
from typing import Literal

from perennial.config import Retraining

Reason = Literal["drift", "performance"]


@dataclass(frozen=True, slots=True)
class WindowVerdict:
    window: str
    drift_share: float
    performance_drop: float | None  # champion's holdout figure minus the window's (None: no labels yet)
    data_valid: bool
    # the drop the label-free estimate expects before any label, in the primary metric's units and
    # positive when worse (core/label_free.py: CBPE for classes, DLE for regression); None: no
    # estimate for this task, metric or champion; not stored
    estimated_drop: float | None = None
    # the least drop the window's interval and the champion's holdout interval allow together
    # (core/monitoring.py Performance.sure_drop): a drop counts only when this is above 0; None: not
    # measured (a window recorded before it was kept)
    performance_sure_drop: float | None = None
    # the judging champion (its version) and how far the window's interval reaches from its figure towards
    # the champion's (high end minus value for a score, value minus low end for a loss): what pools the
    # window with its neighbours (``pool_drops``); None: unlabelled, or recorded before they were kept
    champion: str | None = None
    performance_spread: float | None = None
    pooled: int = 1  # how many windows' labels ``performance_sure_drop`` weighs: 1, the window's own
    drift_judged: bool = True  # False: too few rows to judge drift (its share reads 0), not stored


@dataclass(frozen=True, slots=True)
class RetrainDecision:
    retrain: bool
    reason: Reason | None
    dedupe_key: str | None
    why: str
    # the first day the retrain learns from (ISO), when it is a retry on the newer windows: a promoted
    # retrain that won back too little of a drop learnt mostly from months before the change; None: all
    train_start: str | None = None
    # the first of the last n windows that was bad for ``reason``: where the change the policy saw began
    since: str | None = None


def _dropped(verdict: WindowVerdict, policy: Retraining) -> bool:
    """A measured drop beyond tolerance that the intervals confirm: a window whose interval still reaches
    the champion's holdout interval is within the noise of the labels at hand, not a degradation."""
    drop, sure = verdict.performance_drop, verdict.performance_sure_drop
    return drop is not None and drop > policy.performance_tolerance and (sure is None or sure > 0)


# The pooled reach, widened: a span of windows is judged again on every window, overlapping the last, so
# its interval is a 99% one where the windows' own are 95% (z 2.58 for 1.96): the more looks, the more
# chances for noise to look sure (bench/pooled_decay.py replays noise and decays through it)
POOLED_WIDENING = 2.58 / 1.96


def _pooled_drop(verdicts: list[WindowVerdict]) -> tuple[float, float, int] | None:
    """The drop and least drop of windows judged together, and how many: their figures weighed by their
    precision (inverse variance, each interval's reach a fixed multiple of its standard error); None when
    fewer than two have the figures to weigh."""
    drops, distances, weights = [], [], []
    for v in verdicts:
        drop, sure, spread = v.performance_drop, v.performance_sure_drop, v.performance_spread
        if v.data_valid and drop is not None and sure is not None and spread is not None and spread > 0:
            # a window's least drop is its distance to the champion's bound less its reach: pooled, the
            # distances average and the reach narrows as the square root of the labels gathered
            drops.append(drop)
            distances.append(sure + spread)
            weights.append(1 / spread**2)
    if len(weights) < 2:
        return None
    total = sum(weights)
    mean = sum(w * d for w, d in zip(weights, drops, strict=True)) / total
    distance = sum(w * d for w, d in zip(weights, distances, strict=True)) / total
    return mean, distance - POOLED_WIDENING / math.sqrt(total), len(weights)


def pool_drops(history: list[WindowVerdict], policy: Retraining) -> list[WindowVerdict]:
    """``history`` with the last n windows judged on their labels together when the latest window's champion
    judged them: a slow decay whose every window is within the noise of its own few hundred labels is sure
    on their labels pooled (loop9 M7: a drop counted at about 0.06 AUC on 800-row windows, against a
    tolerance of 0.03). Only a pooled drop beyond tolerance and sure counts; it is then the sure drop of
    each of those windows whose own was not, and each still counts only if its own drop is beyond tolerance."""
    if not history or history[-1].champion is None:
        return history
    head, span = history[: -policy.n], history[-policy.n :]
    pooled = _pooled_drop([v for v in span if v.champion == history[-1].champion])
    if pooled is None or pooled[0] <= policy.performance_tolerance or pooled[1] <= 0:
        return history
    _, sure, count = pooled
    return head + [
        replace(v, performance_sure_drop=sure, pooled=count)
        if v.champion == history[-1].champion and v.performance_sure_drop is not None and v.performance_sure_drop <= 0
        else v
        for v in span
    ]


def _bad(verdict: WindowVerdict, policy: Retraining) -> set[Reason]:
    reasons: set[Reason] = set()
    if verdict.drift_share >= policy.drift_share:
        reasons.add("drift")
    if _dropped(verdict, policy):
        reasons.add("performance")
    return reasons


def _hurt(verdict: WindowVerdict, policy: Retraining) -> tuple[bool, str]:
    """Whether the window shows a performance drop beyond tolerance: measured when labelled, else estimated."""
    tolerance = policy.performance_tolerance
    # the drift is the evidence here, the drop its corroboration: its point value is enough (asking its
    # interval to clear the champion's figure too missed a gradual drift the scenarios inject)
    if verdict.performance_drop is not None:
        drop = verdict.performance_drop
        return drop > tolerance, f"measured drop {drop:+.4f} {'>' if drop > tolerance else '<='} {tolerance}"
    if verdict.estimated_drop is not None:
        drop = verdict.estimated_drop
        return (
            drop > tolerance,
            f"estimated (label-free) drop {drop:+.4f} {'>' if drop > tolerance else '<='} {tolerance}",
        )
    return False, "no labelled figure and no estimate"


def within_policy(verdict: WindowVerdict, policy: Retraining) -> bool:
    """Valid and neither drifted nor degraded: a window that counts towards closing a drift episode."""
    return verdict.data_valid and not _bad(verdict, policy)


def retrain_key(dataset: str, reason: str, window: str) -> str:
    """What makes a retrain request unique: one per dataset, reason and window, across monitors."""
    return f"{dataset}:{reason}:{window}"


def cooling_down(now: dt.datetime, last_retrain_at: dt.datetime | None, policy: Retraining) -> str | None:
    """ "cooling down until <day>" while the last retrain is within the cooldown; None when it is not."""
    if last_retrain_at is None or now - last_retrain_at >= dt.timedelta(days=policy.cooldown_days):
        return None
    return f"cooling down until {last_retrain_at + dt.timedelta(days=policy.cooldown_days):%Y-%m-%d}"


def decide_retrain(
    dataset: str,
    history: list[WindowVerdict],
    policy: Retraining,
    now: dt.datetime,
    last_retrain_at: dt.datetime | None,
    seen_keys: set[str],
) -> RetrainDecision:
    """Decide on the latest window (``history`` is oldest first and ends with it)."""
    if not history:
        return RetrainDecision(False, None, None, "no windows yet")
    history = pool_drops(history, policy)
    latest = history[-1]
    if not latest.data_valid:
        return RetrainDecision(False, None, None, f"window {latest.window} failed validation: never retrain on it")
    recent = [v for v in history[-policy.n :] if v.data_valid]
    latest_bad = _bad(latest, policy)
    if not latest_bad:
        drop, sure = latest.performance_drop, latest.performance_sure_drop
        if drop is not None and drop > policy.performance_tolerance and sure is not None:
            return RetrainDecision(
                False,
                None,
                None,
                f"window {latest.window} is within policy: its drop {drop:+.4f} is beyond "
                f"{policy.performance_tolerance}, but its interval reaches the champion's holdout interval (the "
                f"least drop they allow is {sure:+.4f}): too few labels to tell it from noise",
            )
        if drop is None and not latest.drift_judged:
            return RetrainDecision(False, None, None, f"window {latest.window} weighed nothing against the policy")
        # without labels only its drift was weighed: "within policy" alone would vouch for its performance too
        weighed = "" if drop is not None else " on drift alone"
        return RetrainDecision(False, None, None, f"window {latest.window} is within policy{weighed}")
    for reason in ("performance", "drift"):  # performance first: it is what users feel
        if reason not in latest_bad:
            continue
        bad_windows = [v for v in recent if reason in _bad(v, policy)]
        bad = [v.window for v in bad_windows]
        count, since = len(bad), bad[0] if bad else None
        pooled = max((v.pooled for v in bad_windows), default=1)
        if count < policy.k:
            continue
        if reason == "drift" and policy.drift_needs_drop:
            hurt, evidence = _hurt(latest, policy)
            if not hurt:  # drift that does not cost performance is watched, not retrained on
                return RetrainDecision(
                    False,
                    None,
                    None,
                    f"drift in {count} of {len(recent)} windows, but {evidence}: watched, not retrained",
                )
        key = retrain_key(dataset, reason, latest.window)
        if key in seen_keys:
            why = f"{reason} in {latest.window} already handled (dedupe)"
            return RetrainDecision(False, reason, key, why, since=since)
        if cooling := cooling_down(now, last_retrain_at, policy):
            why = f"{reason} in {count} of {len(recent)} windows, but {cooling}"
            return RetrainDecision(False, reason, key, why, since=since)
        why = f"{reason} in {count} of the last {len(recent)} windows (k={policy.k})"
        if pooled > 1:
            why += f", a drop sure only on the labels of {pooled} windows together (a slow decay)"
        return RetrainDecision(True, reason, key, why, since=since)
    return RetrainDecision(
        False, None, None, f"window {latest.window} is bad, but fewer than k={policy.k} of the last {policy.n}"
    )
