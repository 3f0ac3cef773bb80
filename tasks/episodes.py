"""Drift episodes in the loop: the policy's retrain goes ahead once per episode; retrains report how they ended."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import replace

from prefect import task
from prefect.cache_policies import NO_CACHE

from perennial.config import Config
from perennial.core.episode_records import Episode, EpisodeStep, Outcome, outcome_of
from perennial.core.episodes import RECURS_WITHIN, advance_episode, retrain_spent
from perennial.core.lifecycle import TrainingOutcome
from perennial.core.monitoring import WindowResult
from perennial.core.retraining import RetrainDecision, WindowVerdict, within_policy
from perennial.core.windows import Window
from perennial.errors import DataValidationFailed
from perennial.io.monitor_store import MonitorStore
from tasks.common import IO_RETRIES


@task(name="record-retrain-outcome", cache_policy=NO_CACHE, **IO_RETRIES)
def record_retrain_outcome_task(
    ledger_url: str, dataset: str, holdout_end: dt.date, ending: Outcome, version: str | None
) -> None:
    """How a retrain monitoring asked for ended, for the drift episode that asked (read at its next window)."""
    store = MonitorStore(ledger_url)
    try:
        store.record_outcome(dataset, holdout_end.isoformat(), ending, version, dt.datetime.now(dt.UTC))
    finally:
        store.close()


def record_trained(ledger_url: str, dataset: str, holdout_end: dt.date | None, outcome: TrainingOutcome) -> None:
    """A retrain the loop asked for (``holdout_end`` set) that reached its gate: how it ended."""
    if holdout_end is not None:
        ending = outcome_of(outcome.promoted, outcome.verdict)
        record_retrain_outcome_task(ledger_url, dataset, holdout_end, ending, outcome.version)


@contextmanager
def refused_recorded(ledger_url: str, dataset: str, holdout_end: dt.date | None) -> Iterator[None]:
    """A retrain the loop asked for whose data fails validation ends "refused" for its episode: it
    showed as running, then lost after n windows, and was retried on the same data."""
    try:
        yield
    except DataValidationFailed:
        if holdout_end is not None:
            record_retrain_outcome_task(ledger_url, dataset, holdout_end, "refused", None)
        raise


def episode_step(
    store: MonitorStore,
    pending: WindowResult,
    window: Window,
    decision: RetrainDecision,
    config: Config,
    verdict: WindowVerdict | None = None,
) -> EpisodeStep:
    """The dataset's drift episode after this window: whether the policy's retrain may go ahead, or a person is asked.
    ``verdict``: the window as the policy judged it (its drop pooled with the last windows' labels,
    core/retraining.pool_drops); the window's own when not given."""
    policy = config.monitoring.retraining
    previous = store.open_episode(config.name)
    step = advance_episode(
        previous,
        config.name,
        window.label,
        window.end.isoformat(),  # a retrain started now holds out to the window's end (event_for)
        decision,
        within_policy(verdict or pending.verdict(), policy) and _judged(pending),
        pending.champion_version,
        policy,
        pending.performance.level if pending.performance is not None and pending.data_valid else None,
        _recent(store, config.name, window.label, policy.n) if previous is None else None,
    )
    return _with_reference_advice(step, config)


def _recent(store: MonitorStore, dataset: str, window: str, n: int) -> Episode | None:
    """The last closed episode, when it ended at most ``RECURS_WITHIN`` times n monitored windows before ``window``."""
    last = next(iter(store.episodes(dataset, limit=1)), None)
    if last is None or last.end is None or last.end >= window:
        return None
    within = RECURS_WITHIN * n
    between = [v for v in store.history(dataset, until=window, limit=within + 2) if last.end < v.window < window]
    return last if len(between) <= within else None


def _judged(pending: WindowResult) -> bool:
    """The window weighed something: drift (enough rows) or labels. One too small to judge drift and
    without labels is not evidence the shift is gone, and two such closed an episode as "calm"."""
    return pending.drift_share is not None or pending.performance is not None


def _with_reference_advice(step: EpisodeStep, config: Config) -> EpisodeStep:
    """A drift episode whose promoted retrain left the shift in place asks a person (or, its labels fine,
    watches it); when drift is measured against training data (still mostly from before the shift), the
    way out is said."""
    episode = step.episode
    if not step.persists or episode is None or episode.trigger != "drift":
        return step
    if config.monitoring.reference.kind != "training":
        return step
    if episode.outcome == "promoted":
        advice = (
            f" (if v{episode.version} performs well on it, the shifted inputs are the new normal: "
            "monitoring.reference.kind: rolling measures drift against the recent windows, not training data "
            "mostly from before the shift)"
        )
    elif episode.outcome == "failed":  # the gate found nothing better to learn: a cycle, or harmless
        advice = (
            " (the gate found no better model on the shifted rows: if the shift is a cycle, windows that span it "
            "(monitoring.window: week for daily ones), or monitoring.reference.kind: year_earlier (a season) "
            "or rolling (the recent windows), measure drift against like data, not all of training)"
        )
    else:
        return step
    return replace(step, why=step.why + advice)


def since_person_asked(
    store: MonitorStore, dataset: str, window: str, history: list[WindowVerdict]
) -> list[WindowVerdict]:
    """The windows the policy may count: after the last episode closed by asking a person, its windows were
    that person's evidence, not a new episode's (counted again, a steady trend retrained the very next window)."""
    last = next(iter(store.episodes(dataset, limit=1)), None)
    if last is None or not last.alerted or last.end is None or window <= last.end:  # a repeat monitor: as it was
        return history
    return [v for v in history if v.window > last.end]


def held_in_spent(decision: RetrainDecision, step: EpisodeStep, config: Config) -> bool:
    """The policy fired but held back (cooling down) inside an episode that had its retrain and takes no
    other: "until <day>" alone would promise a retrain that never comes."""
    episode, policy = step.episode, config.monitoring.retraining
    return decision.reason is not None and episode is not None and retrain_spent(episode, policy)
