"""Typed events of the closed loop: `perennial.<noun>.<past-verb>` with a validated payload.

The core defines what an event says; emitting it (Prefect events) happens in tasks/.
The resource id names the dataset, and ``perennial.window`` sits on the resource so
a Prefect trigger can group (``for_each``) by window — Prefect matches on resource labels.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, ClassVar

from pydantic import BaseModel, ConfigDict

if TYPE_CHECKING:
    from perennial.core.lifecycle import TrainingOutcome


class PerennialEvent(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)
    name: ClassVar[str]

    dataset: str
    window: str  # e.g. "2013-07-01" (day) or "2013-07" (month)

    @property
    def dedupe_key(self) -> str:
        """One episode, one action: the same dataset, window and kind of event."""
        return f"{self.name}:{self.dataset}:{self.window}"

    def resource(self) -> dict[str, str]:
        return {"prefect.resource.id": f"perennial.dataset.{self.dataset}", "perennial.window": self.window}

    def payload(self) -> dict[str, Any]:
        return self.model_dump(mode="json")


class DriftDetected(PerennialEvent):
    name: ClassVar[str] = "perennial.drift.detected"
    drift_share: float
    drifted_columns: tuple[str, ...]
    prediction_drift: bool
    train_end: str  # the retrain's new training cutoff (the window's start)
    holdout_end: str
    train_start: str | None = None  # a retry on the newer windows learns from here; None: from the first row


class PerformanceDegraded(PerennialEvent):
    name: ClassVar[str] = "perennial.performance.degraded"
    metric: str
    value: float
    low: float
    high: float
    reference: float
    tolerance: float
    train_end: str
    holdout_end: str
    train_start: str | None = None


# the events the training deployment's trigger turns into a retrain
RETRAIN_EVENTS = (DriftDetected.name, PerformanceDegraded.name)
# a retrain asked for by these must beat the champion with confidence, not merely match it
DECAY_EVENTS = (PerformanceDegraded.name,)


class DataInvalid(PerennialEvent):
    name: ClassVar[str] = "perennial.data.invalid"
    summary: str


class DriftPersistent(PerennialEvent):
    """A drift episode's retrain did not help and the shift persists: a person decides, not another retrain."""

    name: ClassVar[str] = "perennial.drift.persistent"
    episode_start: str
    windows: int
    retrains: int
    outcome: str | None  # the last retrain's ending: promoted, passed, failed, inconclusive, lost
    version: str | None
    summary: str


class PerformancePersistent(DriftPersistent):
    """The same for a performance episode (a changed concept, often with no drift at all): its own name,
    so that an alert routed by event name does not read "drift" for it."""

    name: ClassVar[str] = "perennial.performance.persistent"


class GateFailedEvent(PerennialEvent):
    name: ClassVar[str] = "perennial.gate.failed"
    version: str | None
    summary: str


class GateInconclusive(PerennialEvent):
    """Too little evidence to judge: the champion stays, and a person may want to look."""

    name: ClassVar[str] = "perennial.gate.inconclusive"
    version: str | None
    summary: str


class ModelPromoted(PerennialEvent):
    name: ClassVar[str] = "perennial.model.promoted"
    version: str
    previous_version: str | None


class ModelRolledBack(PerennialEvent):
    name: ClassVar[str] = "perennial.model.rolled_back"
    version: str
    previous_version: str | None
    reason: str


class ReleaseDecided(PerennialEvent):
    """A shadow or canary release judged on delayed labels: promote, pull, advance the canary, or wait."""

    name: ClassVar[str] = "perennial.release.decided"
    version: str  # the challenger's
    mode: str  # shadow | canary
    action: str
    acted: bool  # release.decide auto carried it out; manual: advice only
    loss: str | None
    improvement: float | None  # champion's mean loss minus the challenger's, with its confidence sequence
    low: float | None
    high: float | None
    variants: tuple[dict[str, Any], ...]  # the window's per-variant table
    reason: str


def outcome_event(
    outcome: TrainingOutcome, dataset: str, window: str, previous_champion: str | None
) -> ModelPromoted | GateFailedEvent | GateInconclusive | None:
    """What a training run tells the loop: a new champion, a failed or inconclusive gate, or nothing."""
    previous = previous_champion.removeprefix("champion:v") if previous_champion else None
    if outcome.promoted and outcome.version is not None:
        return ModelPromoted(dataset=dataset, window=window, version=outcome.version, previous_version=previous)
    if outcome.verdict == "inconclusive":
        return GateInconclusive(dataset=dataset, window=window, version=outcome.version, summary=outcome.summary)
    if not outcome.gate_passed:
        return GateFailedEvent(dataset=dataset, window=window, version=outcome.version, summary=outcome.summary)
    return None
