"""Which logged predictions a release is judged on, per variant, and the window's table of them. Pure.

The service logs what it answered under source ``service`` (a canary's answers carry the
challenger's version) and what the challenger said in shadow under ``shadow``. A release is
judged on every labelled row since it began, one row per id (its latest scoring).
"""

from __future__ import annotations

import datetime as dt
import math
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np
import pandas as pd

from perennial.config import Config
from perennial.core.events import ReleaseDecided
from perennial.core.monitoring import Performance, latest_predictions, window_estimates
from perennial.core.release import (
    OutcomeComparison,
    ReleaseDecision,
    ReleasePolicy,
    compare_paired,
    compare_unpaired,
    row_losses,
    same_days,
    standardised_difference,
)


def variant_rows(
    service: pd.DataFrame, shadow: pd.DataFrame, mode: str, champion: str, challenger: str
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """(the champion's rows, the challenger's rows) of the release, one per id.

    Shadow: the champion's answers to the requests the challenger also scored (paired by id).
    Canary: the champion's answers since the canary's first, to ids the canary never served.
    """
    own = service.loc[service["model_version"].astype(str) == champion] if not service.empty else service
    if mode == "shadow":
        theirs = shadow.loc[shadow["model_version"].astype(str) == challenger] if not shadow.empty else shadow
        theirs = latest_predictions(theirs)
        own = latest_predictions(own)
        return own.loc[own["id"].isin(theirs["id"])].reset_index(drop=True), theirs
    theirs = service.loc[service["model_version"].astype(str) == challenger] if not service.empty else service
    theirs = latest_predictions(theirs)
    if theirs.empty:
        return own.iloc[:0], theirs
    own = latest_predictions(own.loc[own["scored_at"] >= theirs["scored_at"].min()])
    return own.loc[~own["id"].isin(theirs["id"])].reset_index(drop=True), theirs


def compare_outcomes(
    mode: str,
    champion: pd.DataFrame,
    challenger: pd.DataFrame,
    champion_scored: pd.DataFrame,
    challenger_scored: pd.DataFrame,
    config: Config,
    policy: ReleasePolicy,
) -> OutcomeComparison:
    """Each variant's labelled rows (``champion``/``challenger``: id, prediction, label) compared.

    ``*_scored`` are every scored row of each group (labelled or not): a canary's balance is
    checked on them.
    """
    task = config.task
    if mode == "shadow":
        both = champion.merge(challenger[["id"]], on="id").sort_values("id", kind="stable")
        theirs = challenger.merge(both[["id"]], on="id").sort_values("id", kind="stable")
        return compare_paired(row_losses(both, task), row_losses(theirs, task), both["label"].to_numpy(), task, policy)
    features = [c for c in config.data.features.columns if c in champion_scored.columns]
    weights, kept = same_days(_days(champion, champion_scored), _days(challenger, challenger_scored))
    challenger = challenger.loc[kept]
    return compare_unpaired(
        row_losses(champion, task),
        row_losses(challenger, task),
        champion["label"].to_numpy(),
        challenger["label"].to_numpy(),
        task,
        policy,
        _balance(champion_scored, challenger_scored, features),
        weights,
    )


def _balance(champion: pd.DataFrame, challenger: pd.DataFrame, features: list[str]) -> float | None:
    """The split's balance on every scored row (labelled or not), the champion's weighed by day."""
    if not features:
        return None
    weights, kept = same_days(_days(champion, champion), _days(challenger, challenger))
    return standardised_difference(champion[features], challenger.loc[kept, features], weights)


def _days(joined: pd.DataFrame, scored: pd.DataFrame) -> np.ndarray:
    """The event day of each labelled row (by id, from its scored row)."""
    when = pd.to_datetime(scored.drop_duplicates("id", keep="last").set_index("id")["event_time"], utc=True)
    return when.dt.strftime("%Y-%m-%d").reindex(joined["id"]).to_numpy(dtype=object)


@dataclass(frozen=True, slots=True)
class VariantWindow:
    """One variant in one monitoring window: what it scored, what came back labelled, how it did."""

    variant: str  # champion | shadow | canary
    version: str
    rows: int
    labelled: int
    performance: Performance | None  # the primary metric with its bootstrap interval (None: too few labels)
    secondary: tuple[Performance, ...] = ()  # evaluation.secondary_metrics, likewise

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)  # the performance too (a dataclass, turned into a dict)

    def describe(self) -> str:
        if self.performance is None:
            figures = "too few labels"
        else:
            figures = ", ".join(f"{p.metric} {p.value:.4f} [{p.low:.4f}, {p.high:.4f}]" for p in self.metrics())
        return f"{self.variant} v{self.version}: {self.rows:,} scored, {self.labelled:,} labelled, {figures}"

    def metrics(self) -> tuple[Performance, ...]:
        return ((self.performance,) if self.performance else ()) + self.secondary


def variant_window(
    variant: str,
    version: str,
    scored: pd.DataFrame,
    joined: pd.DataFrame,
    start: dt.date,
    end: dt.date,
    config: Config,
) -> VariantWindow:
    """The window's share of a variant's rows, with the primary metric on its labelled ones."""
    inside = _in_window(scored, start, end)
    labelled = joined.loc[joined["id"].isin(scored.loc[inside, "id"])]
    names = list(dict.fromkeys([config.evaluation.primary_metric, *config.evaluation.secondary_metrics]))
    found = window_estimates(labelled, config, names) if len(labelled) else None
    if found is None:
        return VariantWindow(variant, version, int(inside.sum()), len(labelled), None)
    primary, *secondary = (Performance(n, e.value, e.low, e.high, len(labelled), None, None) for n, e in found.items())
    return VariantWindow(variant, version, int(inside.sum()), len(labelled), primary, tuple(secondary))


def _in_window(scored: pd.DataFrame, start: dt.date, end: dt.date) -> np.ndarray:
    if scored.empty:
        return np.zeros(0, dtype=bool)
    days = pd.to_datetime(scored["event_time"], utc=True).dt.date
    return ((days >= start) & (days < end)).to_numpy()


@dataclass(frozen=True, slots=True)
class ReleaseReview:
    """A release looked at after one window: the per-variant table and the decision."""

    mode: str
    champion_version: str
    challenger_version: str
    variants: tuple[VariantWindow, ...]
    decision: ReleaseDecision
    acted: bool  # release.decide auto carried the decision out (a gate may still have stopped a promotion)
    outcome: str = ""  # what was done: "pulled", "promoted v3", "canary may reach step 2", "gate inconclusive..."

    def table(self) -> tuple[dict[str, Any], ...]:
        return tuple(v.to_dict() for v in self.variants)

    @property
    def reason(self) -> str:
        """Why, and what was done about it."""
        return self.decision.why + (f"; {self.outcome}" if self.outcome else "")

    def to_dict(self) -> dict[str, Any]:
        comparison = self.decision.comparison
        return {
            "mode": self.mode,
            "champion_version": self.champion_version,
            "challenger_version": self.challenger_version,
            "action": self.decision.action,
            "acted": self.acted,
            "outcome": self.outcome,
            "why": self.decision.why,
            "variants": list(self.table()),
            "comparison": None if comparison is None else asdict(comparison),
        }

    def metrics(self) -> dict[str, float]:
        """The improvement's bounds and the challenger's labelled rows (finite values only)."""
        comparison = self.decision.comparison
        if comparison is None:
            return {}
        i = comparison.improvement
        found = {
            "release.improvement": i.mean,
            "release.improvement_low": i.low,
            "release.improvement_high": i.high,
            "release.challenger_labelled": float(comparison.challenger.rows),
        }
        return {k: v for k, v in found.items() if math.isfinite(v)}

    def event(self, dataset: str, window: str) -> ReleaseDecided:
        comparison = self.decision.comparison
        i = comparison.improvement if comparison else None
        return ReleaseDecided(
            dataset=dataset,
            window=window,
            version=self.challenger_version,
            mode=self.mode,
            action=self.decision.action,
            acted=self.acted,
            loss=comparison.loss if comparison else None,
            improvement=i.mean if i else None,
            low=i.low if i else None,
            high=i.high if i else None,
            variants=self.table(),
            reason=self.reason,
        )

    def describe(self) -> str:
        verb = "done" if self.acted else "advice (release.decide: manual)"
        lines = [f"{self.mode} release of v{self.challenger_version} against v{self.champion_version}:"]
        lines += [f"- {v.describe()}" for v in self.variants]
        lines.append(f"- decision: {self.decision.action} ({verb}{': ' + self.outcome if self.outcome else ''})")
        lines.append(f"- why: {self.decision.why}")
        return "\n".join(lines)
