from __future__ import annotations

from perennial.core.events import GateFailedEvent, GateInconclusive, ModelPromoted, outcome_event
from perennial.core.lifecycle import TrainingOutcome


def outcome(verdict: str, promoted: bool) -> TrainingOutcome:
    return TrainingOutcome(
        "run",
        "candidate:hgb",
        "3",
        verdict == "passed",
        promoted,
        "2" if not promoted else "3",
        f"gate {verdict}",
        verdict,
    )


def test_each_verdict_tells_the_loop_its_own_event() -> None:
    # given a promoted, a failed and an inconclusive training run
    promoted = outcome_event(outcome("passed", True), "flights", "2013-08-01", "champion:v2")
    failed = outcome_event(outcome("failed", False), "flights", "2013-08-01", "champion:v2")
    unjudged = outcome_event(outcome("inconclusive", False), "flights", "2013-08-01", "champion:v2")
    # then each is its own event; inconclusive is not a failure of the candidate
    assert isinstance(promoted, ModelPromoted) and promoted.previous_version == "2"
    assert isinstance(failed, GateFailedEvent)
    assert isinstance(unjudged, GateInconclusive) and unjudged.name == "perennial.gate.inconclusive"
    assert unjudged.payload()["summary"] == "gate inconclusive"
    # and a version kept as challenger by a passing gate (manual promotion) says nothing
    assert outcome_event(outcome("passed", False), "flights", "2013-08-01", "champion:v2") is None
