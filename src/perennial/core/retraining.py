"""The retraining policy: k bad windows of the last n, a dedupe key, a cooldown, valid data only.

Pure: the monitoring flow passes in the window history and the record of past retrains;
this decides, and says why, so that the decision can be shown and tested.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
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
        return RetrainDecision(False, None, None, f"window {latest.window} is within policy")
    for reason in ("performance", "drift"):  # performance first: it is what users feel
        if reason not in latest_bad:
            continue
        bad = [v.window for v in recent if reason in _bad(v, policy)]
        count, since = len(bad), bad[0] if bad else None
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
        return RetrainDecision(True, reason, key, why, since=since)
    return RetrainDecision(
        False, None, None, f"window {latest.window} is bad, but fewer than k={policy.k} of the last {policy.n}"
    )
