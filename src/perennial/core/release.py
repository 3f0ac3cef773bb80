"""Releases judged on real outcomes: the challenger's loss on delayed labels against the champion's.

Shadow rows answer the same requests as the champion's, so each labelled id gives a paired
difference of losses; canary rows are other ids (unpaired: one interval per group). The
comparison is looked at after every monitoring window, so a fixed-horizon interval would
promote or pull on noise sooner or later; the bounds here are a *confidence sequence*, valid at
every look at once (Waudby-Smith et al., "Time-uniform central limit theory and asymptotic
confidence sequences", 2021, the Robbins normal-mixture boundary): the chance that the true
difference ever leaves them, over all windows, is at most ``alpha``.

The decision is the gate's rule on outcomes: the improvement (champion's mean loss minus the
challenger's) must have its lower bound above -margin to promote; an upper bound below -margin
pulls the challenger; short of evidence, or between, the release keeps collecting. A window whose
data broke its contract can pull, never promote or grow a canary (``hold_on_invalid_data``).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Literal

import numpy as np
import pandas as pd

from perennial.config import MinEvidence
from perennial.core.evidence import Evidence, shortfall
from perennial.core.monitoring import PREDICTION
from perennial.core.scoring import stored_probabilities
from perennial.core.target import class_names
from perennial.core.task import Task

Action = Literal["promote", "pull", "advance", "wait"]

# the per-row loss each task is judged by: proper, bounded where it can be, and a mean of rows (AUC is not)
LOSS = {"binary": "brier", "multiclass": "brier", "regression": "absolute_error"}


@dataclass(frozen=True, slots=True)
class ReleasePolicy:
    """The release rules (config.Release has this shape)."""

    decide: Literal["manual", "auto"]
    alpha: float
    horizon_rows: int
    min_labelled_rows: int
    rows_per_class: int
    margin: float


@dataclass(frozen=True, slots=True)
class Bounds:
    mean: float
    low: float
    high: float
    rows: int


def row_losses(joined: pd.DataFrame, task: Task) -> np.ndarray:
    """Each labelled row's loss: Brier (binary, multiclass over every class) or absolute error."""
    if task == "regression":
        predicted = pd.to_numeric(joined[PREDICTION]).to_numpy(float)
        return np.asarray(np.abs(predicted - pd.to_numeric(joined["label"]).to_numpy(float)), dtype=float)
    if task == "binary":
        return np.asarray((joined[PREDICTION].to_numpy(float) - joined["label"].to_numpy(float)) ** 2, dtype=float)
    proba, classes = stored_probabilities(joined)
    truth = class_names(joined["label"]).to_numpy()[:, None] == np.array(classes)
    unlearnt = ~truth.any(axis=1)  # a class the model never learnt: its own (absent) column adds (0 - 1)**2
    return np.asarray(((proba - truth) ** 2).sum(axis=1) + unlearnt, dtype=float)


def confidence_sequence(
    values: np.ndarray, alpha: float, horizon_rows: int, weights: np.ndarray | None = None
) -> Bounds:
    """The mean of ``values`` with two-sided bounds valid at every sample size at once (asymptotic).

    The boundary is tuned to be tightest at ``horizon_rows`` samples; it is wider than a one-look
    interval there (about 1.5x at alpha 0.05), the price of looking as often as one likes.
    With ``weights`` the mean is weighted, and the bounds use Kish's effective sample size.
    """
    rows = len(values)
    if weights is not None:
        kept = weights > 0
        values, weights = values[kept], weights[kept] / weights[kept].sum() if kept.any() else weights[kept]
    n = len(values) if weights is None else (1.0 / float(np.sum(weights**2)) if len(values) else 0.0)
    if n < 2:
        return Bounds(float(np.mean(values)) if len(values) else math.nan, -math.inf, math.inf, rows)
    if weights is None:
        mean, sd = float(np.mean(values)), float(np.std(values, ddof=1))
    else:
        mean = float(np.sum(weights * values))
        sd = math.sqrt(float(np.sum(weights * (values - mean) ** 2)) * n / (n - 1))
    log_a = math.log(alpha)
    rho2 = (-2 * log_a + math.log(-2 * log_a + 1)) / horizon_rows
    radius = sd * math.sqrt(2 * (n * rho2 + 1) / (n * n * rho2) * math.log(math.sqrt(n * rho2 + 1) / alpha))
    return Bounds(mean, mean - radius, mean + radius, rows)


@dataclass(frozen=True, slots=True)
class OutcomeComparison:
    """The challenger against the champion on labelled outcomes since the release began."""

    mode: str  # shadow (paired) | canary (unpaired)
    loss: str
    champion: Bounds  # each side's mean loss (its own sequence)
    challenger: Bounds
    improvement: Bounds  # champion's loss minus the challenger's: above 0, the challenger is better
    champion_evidence: Evidence
    challenger_evidence: Evidence
    imbalance: float | None = None  # canary: the largest standardised feature difference between the groups

    def describe(self) -> str:
        i = self.improvement
        return (
            f"{self.mode} {self.loss}: champion {self.champion.mean:.4f} ({self.champion.rows:,} labelled), "
            f"challenger {self.challenger.mean:.4f} ({self.challenger.rows:,} labelled), "
            f"improvement {i.mean:+.4f} [{i.low:+.4f}, {i.high:+.4f}]"
        )


def compare_paired(
    champion: np.ndarray, challenger: np.ndarray, labels: np.ndarray, task: Task, policy: ReleasePolicy
) -> OutcomeComparison:
    """Shadow: both models' losses on the same labelled requests (row i of each is one id)."""
    evidence = _evidence(labels, task, "labelled shadow rows")
    return OutcomeComparison(
        "shadow",
        LOSS[task],
        confidence_sequence(champion, policy.alpha, policy.horizon_rows),
        confidence_sequence(challenger, policy.alpha, policy.horizon_rows),
        confidence_sequence(champion - challenger, policy.alpha, policy.horizon_rows),
        evidence,
        evidence,
    )


def compare_unpaired(
    champion: np.ndarray,
    challenger: np.ndarray,
    champion_labels: np.ndarray,
    challenger_labels: np.ndarray,
    task: Task,
    policy: ReleasePolicy,
    imbalance: float | None = None,
    champion_weights: np.ndarray | None = None,
) -> OutcomeComparison:
    """Canary: disjoint ids; each mean gets a sequence at alpha/2, so their difference holds at alpha.

    ``champion_weights`` reweight the champion's rows to the canary's mix of days (same_days):
    a canary that grew over time saw later days more than the champion did.
    """
    half = policy.alpha / 2
    a = confidence_sequence(champion, half, policy.horizon_rows, champion_weights)
    b = confidence_sequence(challenger, half, policy.horizon_rows)
    improvement = Bounds(a.mean - b.mean, a.low - b.high, a.high - b.low, min(a.rows, b.rows))
    return OutcomeComparison(
        "canary",
        LOSS[task],
        a,
        b,
        improvement,
        _evidence(
            champion_labels if champion_weights is None else champion_labels[champion_weights > 0],
            task,
            "labelled champion rows",
        ),
        _evidence(challenger_labels, task, "labelled canary rows"),
        imbalance,
    )


def same_days(champion_days: np.ndarray, challenger_days: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(a weight per champion row, which canary rows are kept) so that the champion's rows count
    each day as often as the canary's do.

    The canary's share of traffic grows step by step, so its rows lean to later days than the
    champion's; labels and losses move with the season, and an unweighted comparison would credit
    the canary with the calendar. Within a day the hash split is fair, so each day's champion rows
    stand for that day. Canary rows on days the champion answered no one (100% canary) cannot be
    compared and are left out.
    """
    shared = np.intersect1d(champion_days, challenger_days)
    kept = np.isin(challenger_days, shared)
    days, canary_counts = np.unique(challenger_days[kept], return_counts=True)
    champion_counts = pd.Series(champion_days).value_counts()
    per_row = pd.Series(canary_counts / champion_counts.reindex(days).to_numpy(), index=days)
    weights = pd.Series(champion_days).map(per_row).fillna(0.0).to_numpy(float)
    return weights, kept


def _evidence(labels: np.ndarray, task: Task, what: str) -> Evidence:
    if task == "regression":
        return Evidence(len(labels), (), what)
    classes: tuple[object, ...] = (0, 1) if task == "binary" else ()
    return Evidence.of_labels(np.asarray(labels), what, classes)


def standardised_difference(a: pd.DataFrame, b: pd.DataFrame, a_weights: np.ndarray | None = None) -> float | None:
    """The largest |mean difference| / pooled sd over numeric columns: is the hash split balanced?

    ``a_weights`` weigh a's rows as the comparison does (same_days), so that a canary grown over
    a season is checked against the champion's rows of the same days, not of the whole season.
    """
    worst = None
    weights = np.ones(len(a)) if a_weights is None else np.asarray(a_weights, dtype=float)
    for column in a.columns.intersection(b.columns):
        x, y = pd.to_numeric(a[column], errors="coerce"), pd.to_numeric(b[column], errors="coerce")
        seen = x.notna().to_numpy() & (weights > 0)
        if seen.sum() < 2 or y.notna().sum() < 2:
            continue
        x_mean = float(np.average(x[seen], weights=weights[seen]))
        x_var = float(np.average((x[seen] - x_mean) ** 2, weights=weights[seen]))
        pooled = math.sqrt((x_var + float(y.var())) / 2)
        if pooled > 0:
            d = abs(x_mean - float(y.mean())) / pooled
            worst = d if worst is None else max(worst, d)
    return worst


# a hash split of ids is balanced by construction; a larger difference means the groups saw different traffic
MAX_IMBALANCE = 0.25


@dataclass(frozen=True, slots=True)
class ReleaseDecision:
    action: Action
    version: str  # the challenger's
    reasons: tuple[str, ...]
    comparison: OutcomeComparison | None

    @property
    def why(self) -> str:
        return "; ".join(self.reasons)


def decide_release(
    comparison: OutcomeComparison | None, version: str, policy: ReleasePolicy, canary_step: int | None = None
) -> ReleaseDecision:
    """Promote, pull, let the canary take its next step, or wait for outcomes, and say why in numbers.

    ``canary_step`` is the ramp's current step (0 first) when the release is a canary that can
    still grow: it grows when each step has brought its share of labelled rows and nothing
    says the challenger is worse.
    """
    if comparison is None or comparison.challenger.rows == 0:
        return ReleaseDecision("wait", version, ("no labelled outcomes of the challenger yet",), comparison)
    minimum = MinEvidence(
        holdout_rows=policy.min_labelled_rows, rows_per_class=policy.rows_per_class, max_interval_width=None
    )
    short = shortfall(comparison.challenger_evidence, minimum)
    if comparison.mode == "canary":
        short += shortfall(comparison.champion_evidence, minimum)
    if short:
        return ReleaseDecision("wait", version, ("too little evidence: " + "; ".join(short),), comparison)
    if comparison.imbalance is not None and comparison.imbalance > MAX_IMBALANCE:
        return ReleaseDecision(
            "wait",
            version,
            (f"canary groups unbalanced: a feature differs by {comparison.imbalance:.2f} sd (> {MAX_IMBALANCE})",),
            comparison,
        )
    margin = policy.margin * comparison.champion.mean
    i = comparison.improvement
    told = f"{comparison.describe()} (alpha {policy.alpha:g}, valid at every look; margin {margin:.4f})"
    if i.low > -margin:
        better = "better" if margin == 0 else "non-inferior"
        return ReleaseDecision("promote", version, (f"challenger {better} on outcomes: {told}",), comparison)
    if i.high < -margin:
        return ReleaseDecision("pull", version, (f"challenger worse on outcomes: {told}",), comparison)
    if canary_step is not None and comparison.challenger.rows >= policy.min_labelled_rows * (canary_step + 1):
        if i.mean >= -margin:
            return ReleaseDecision("advance", version, (f"no harm seen at step {canary_step + 1}: {told}",), comparison)
        # not yet confidently worse, but worse so far: more traffic would put more requests at risk
        held = f"the canary does worse so far, it stays at step {canary_step + 1} until outcomes tell"
        return ReleaseDecision("wait", version, (f"{held}: {told}",), comparison)
    return ReleaseDecision("wait", version, (f"inconclusive, kept the champion: {told}",), comparison)


def hold_on_invalid_data(decision: ReleaseDecision, broken: str | None) -> ReleaseDecision:
    """A window whose data broke its contract can still pull a challenger (that returns every request
    to the champion: the safe side) but neither promotes it nor grows its canary on that evidence."""
    if broken is None or decision.action not in ("promote", "advance"):
        return decision
    held = "not promoted" if decision.action == "promote" else "the canary not grown"
    return ReleaseDecision(
        "wait",
        decision.version,
        (f"the window's data broke its contract ({broken}): {held} on it", *decision.reasons),
        decision.comparison,
    )
