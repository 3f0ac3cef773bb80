"""What a drift or performance episode is, as the monitoring store keeps it, and one window's step (pure).

How a window advances an episode: core/episodes.py.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Literal

# what the training run a retrain started ended with; "refused": its data failed validation, nothing
# was trained (retried, it meets the same data); "lost": no verdict came back within n windows
Outcome = Literal["promoted", "passed", "failed", "inconclusive", "refused", "lost"]


@dataclass(frozen=True, slots=True)
class Level:
    """A window's measured primary metric and the champion's holdout figure it was judged against."""

    value: float
    reference: float
    higher_is_better: bool
    # the least drop the window's interval and the champion's allow (Performance.sure_drop): at or below 0
    # the drop is within the noise of the labels at hand; None: no intervals, the point drop alone counts
    sure_drop: float | None = None

    @property
    def within(self) -> bool:
        """No drop the policy would count: beyond nothing, or one its intervals cannot confirm."""
        return self.sure_drop is not None and self.sure_drop <= 0

    @property
    def drop(self) -> float:
        """The value's drop from the champion's figure (positive: worse)."""
        return self.below(self.reference)

    def below(self, level: float) -> float:
        """How far the window's figure falls short of ``level`` (positive: worse)."""
        return level - self.value if self.higher_is_better else self.value - level


@dataclass(frozen=True, slots=True)
class Episode:
    dataset: str
    start: str  # the window that opened it
    last: str  # the latest window it counted (a re-run of that window does not count twice)
    end: str | None = None  # the window that closed it; None while open
    windows: int = 1
    trigger: str = "drift"  # the policy's reason when it opened: "drift" or "performance"
    retrains: int = 0  # retrains started in this episode
    retrain: str | None = None  # the latest retrain's holdout end (its training run is named after it)
    outcome: Outcome | None = None  # that retrain's ending; None while it runs
    version: str | None = None  # the version that retrain registered
    since_retrain: int = 0  # windows counted since that retrain started
    calm: tuple[bool, ...] = ()  # the last n windows' "within policy", for the k-of-n close
    alerted: bool = False  # perennial.drift.persistent was raised for it
    closed_by: str | None = None
    # performance episodes: the champion's figure the opening drop was measured against, and the drop
    target: float | None = None
    drop: float | None = None
    since: str | None = None  # the first bad window of the evidence that opened it (before start, often)

    @property
    def open(self) -> bool:
        return self.end is None

    def with_outcome(self, outcome: Outcome, version: str | None) -> Episode:
        """The retrain's ending, once its training run recorded it."""
        return replace(self, outcome=outcome, version=version)

    def describe(self) -> str:
        """One line for the status and simulate tables."""
        span = f"{self.start}..{self.end}" if self.end else f"open since {self.start}"
        retrain = "no retrain"
        if self.retrains:
            ending = self.outcome or "running"
            retrain = f"{self.retrains} retrain{'s' if self.retrains > 1 else ''} ({ending}"
            retrain += f", v{self.version})" if self.version else ")"
        tail = f"; closed: {self.closed_by}" if self.closed_by else ""
        alert = "; persistent: a person was asked" if self.alerted else ""
        return f"{self.trigger} {span}, {self.windows} window{'s' if self.windows > 1 else ''}, {retrain}{alert}{tail}"


@dataclass(frozen=True, slots=True)
class EpisodeStep:
    episode: Episode | None  # after this window (closed episodes come back with their end set)
    retrain: bool  # the policy's retrain may go ahead
    alert: bool  # raise perennial.drift.persistent now
    why: str
    superseded: Episode | None = None  # a drift episode this window closed by opening a performance one
    persists: bool = False  # the shift outlived the episode's retrain (a person asked, or labels show no cost)
    repeat: bool = False  # the window was counted already: a repeat monitor, whose policy alone may read otherwise
    train_from: str | None = None  # the retrain learns from this window on (the episode's start), not all history


def outcome_of(promoted: bool, verdict: str) -> Outcome:
    """A training run's ending in the episode's words."""
    if promoted:
        return "promoted"
    if verdict == "inconclusive":
        return "inconclusive"
    return "passed" if verdict == "passed" else "failed"  # passed: a challenger awaiting its release
