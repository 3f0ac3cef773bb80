"""A shadow or canary release judged on delayed labels, and (release.decide: auto) acted on.

Reading: the prediction store's service and shadow rows up to the window's end, and the labels.
Acting: a pull switches services back to the champion alone; a promotion goes through the
promotion flow (the gate on the holdout, then the ledger); a canary's next step is a registry tag
the services read. Every decision is written to the ledger.
"""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

from prefect import task
from prefect.cache_policies import NO_CACHE

from perennial.config import Config
from perennial.core.monitoring import ArrivedLabels
from perennial.core.names import RELEASE_MODES, Alias, ReleaseMode, Tag, release_action
from perennial.core.release import ReleasePolicy, decide_release, hold_on_invalid_data
from perennial.core.release_rows import ReleaseReview, compare_outcomes, variant_rows, variant_window
from perennial.core.target import Labels
from perennial.core.windows import Window
from perennial.io import tracking
from perennial.io.ledger import Ledger
from perennial.io.prediction_store import open_store
from perennial.io.registry import Registry
from tasks.common import IO_RETRIES, publish_markdown
from tasks.events import emit
from tasks.monitoring import read_labels


def policy_of(config: Config) -> ReleasePolicy:
    r = config.release
    return ReleasePolicy(r.decide, r.alpha, r.horizon_rows, r.min_labelled_rows, r.rows_per_class, r.margin)


@task(name="review-release", cache_policy=NO_CACHE, **IO_RETRIES)
def review_release_task(
    config: Config,
    root: Path,
    registry: Registry,
    ledger_url: str,
    window: Window,
    labels: ArrivedLabels | None,
    encoding: Labels | None,
    broken: str | None = None,
) -> tuple[ReleaseReview, int | None] | None:
    """The running release's per-variant table and decision; None when no release is running or
    this challenger was pulled (a promoted one is the champion: nothing left to compare).

    ``labels`` None: read them here, only when a release runs (monitoring over partitions reads none).
    ``broken``: why the window's data failed validation, if it did: then it may pull, not promote or grow."""
    aliases, released, allowed = registry.release_state()
    mode = released or config.serving.mode
    champion, challenger = aliases.get(Alias.CHAMPION), aliases.get(Alias.CHALLENGER)
    if mode == ReleaseMode.CHAMPION or champion is None or challenger is None or challenger == champion:
        return None
    if _ended(ledger_url, registry.name, challenger):
        return None
    if labels is None:
        labels = read_labels(config, root)
    store = open_store(config, root)
    service, shadow = store.read("service", end=window.end), store.read("shadow", end=window.end)
    own, theirs = variant_rows(service, shadow, mode, champion, challenger)
    own_joined, their_joined = labels.join(own, config, encoding), labels.join(theirs, config, encoding)
    policy = policy_of(config)
    comparison = (
        compare_outcomes(mode, own_joined, their_joined, own, theirs, config, policy) if len(their_joined) else None
    )
    step = None
    if mode == ReleaseMode.CANARY and config.release.decide == "auto":
        step = allowed or 0
        step = step if step + 1 < len(config.serving.canary.ramp) else None  # the last step: nothing to grow to
    decision = hold_on_invalid_data(decide_release(comparison, challenger, policy, step), broken)
    variants = (
        variant_window("champion", champion, own, own_joined, window.start, window.end, config),
        variant_window(mode, challenger, theirs, their_joined, window.start, window.end, config),
    )
    review = ReleaseReview(mode, champion, challenger, variants, decision, acted=config.release.decide == "auto")
    return review, step


def _ended(ledger_url: str, model: str, version: str) -> bool:
    ledger = Ledger(ledger_url)
    try:
        history = ledger.history(model, alias=Alias.CHALLENGER, limit=20)
    finally:
        ledger.close()
    for entry in history:
        if entry.version == version and entry.action == release_action("pull"):
            return True
        if entry.action == "challenger" or entry.action in (release_action(m) for m in RELEASE_MODES):
            return False  # registered, or released again by hand, since any pull
    return False


@task(name="record-release-decision", cache_policy=NO_CACHE, **IO_RETRIES)
def record_release_task(
    review: ReleaseReview,
    step: int | None,
    registry: Registry,
    ledger_url: str,
    run_id: str,
    gate_stopped: str | None = None,
) -> ReleaseReview:
    """Carry out a pull or a canary step (release.decide auto) and write the decision to the ledger.

    A promotion was carried out before, through the promotion flow; ``gate_stopped`` says why the
    gate did not let it through (the release then keeps collecting, and the ledger says so).
    """
    decision, outcome, action = review.decision, "", review.decision.action
    if review.acted and action == "pull":
        registry.set_release_mode(ReleaseMode.CHAMPION)  # canary to 0%, shadow cleared, on the next reload
        outcome = "pulled: services serve the champion alone"
    elif review.acted and action == "advance" and step is not None:
        registry.set_canary_step(step + 1)
        outcome = f"the canary may grow to step {step + 2}"
    elif review.acted and action == "promote":
        outcome = f"promoted v{review.challenger_version} through the gate"
        if gate_stopped is not None:
            action, outcome = "wait", f"outcomes favour it, but the gate did not pass: {gate_stopped}"
    how = "" if review.acted else " (advice: release.decide is manual)"
    reason = f"{decision.why}{how}" + (f"; {outcome}" if outcome else "")
    version = review.challenger_version
    ledger = Ledger(ledger_url)
    try:
        ledger.record(registry.name, Alias.CHALLENGER, version, version, release_action(action), reason, run_id)
    finally:
        ledger.close()
    return replace(review, outcome=outcome)


@task(name="publish-release-decision", cache_policy=NO_CACHE, **IO_RETRIES)
def publish_release_task(review: ReleaseReview, dataset: str, window: str, run_id: str) -> None:
    """The decision where people look: the event, the monitoring run (metrics, tag, JSON), a Prefect artifact."""
    emit(review.event(dataset, window))
    tracking.log_metrics(run_id, review.metrics())
    tracking.set_tags(run_id, {Tag.RELEASE_DECISION: f"{review.decision.action}: {review.decision.why}"[:5000]})
    tracking.log_json(run_id, review.to_dict(), "monitoring/release.json")
    publish_markdown(f"{dataset}-release-{window}", review.describe(), f"Release decision, {dataset} {window}")
    print(review.describe())
