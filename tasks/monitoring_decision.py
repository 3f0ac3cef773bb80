"""Monitoring's verdict on a window: the yardstick its labelled figure is judged against, that figure,
and the policy's decision, recorded in the monitor store with the episode it belongs to."""

from __future__ import annotations

import datetime as dt
from dataclasses import replace
from typing import cast

import pandas as pd
from prefect import task
from prefect.cache_policies import NO_CACHE

from perennial.config import Config
from perennial.core.drift import DriftReport
from perennial.core.estimate import Estimate
from perennial.core.monitoring import (
    Performance,
    WindowResult,
    drift_unjudged,
    split_drift,
    window_performance,
)
from perennial.core.retraining import (
    Reason,
    RetrainDecision,
    cooling_down,
    decide_retrain,
    pool_drops,
    retrain_key,
)
from perennial.core.validation_units import Quartiles
from perennial.core.window_slices import nearest_drift
from perennial.core.windows import Window, retrain_start
from perennial.core.yardstick import ChampionFigure, Yardstick, choose_yardstick
from perennial.io.monitor_store import MonitorStore
from tasks.common import IO_RETRIES
from tasks.episodes import episode_step, held_in_spent, since_person_asked


def perf_metrics(performance: Performance | None) -> dict[str, float]:
    if performance is None:
        return {}
    out = {
        performance.metric: performance.value,
        f"{performance.metric}_low": performance.low,
        f"{performance.metric}_high": performance.high,
        "labelled_rows": float(performance.rows),
    }
    if performance.drop is not None:
        out["performance_drop"] = performance.drop
    if performance.calibration is not None:
        out["label_positive_rate"] = performance.calibration.rate
        out["mean_score"] = performance.calibration.mean_score
    return out


@task(name="choose-yardstick", cache_policy=NO_CACHE, **IO_RETRIES)
def yardstick_task(
    config: Config, ledger_url: str, champion: str, holdout: Estimate | None, window: Window
) -> Yardstick:
    """What the window's labelled figure is judged against: the champion's holdout figure, or its live level
    once its first labelled windows surely beat that figure (core/yardstick.py)."""
    metric = config.evaluation.primary_metric
    store = MonitorStore(ledger_url)
    try:
        live = store.live_figures(config.name, champion, metric, before=window.label)
    finally:
        store.close()
    chosen = choose_yardstick(holdout, live, metric, config.monitoring.retraining.performance_tolerance)
    if chosen.why and chosen.estimate is not None:
        print(f"{window.label} is judged against v{champion}'s live level {chosen.estimate.value:.4f}: {chosen.why}")
    return chosen


@task(name="window-performance", cache_policy=NO_CACHE)
def window_performance_task(joined: pd.DataFrame, config: Config, reference: Yardstick) -> Performance | None:
    return window_performance(joined, config, reference.estimate, reference.name)


@task(name="decide-retrain", cache_policy=NO_CACHE, **IO_RETRIES)
def decide_task(
    config: Config,
    ledger_url: str,
    window: Window,
    data_valid: bool,
    drift: DriftReport | None,
    performance: Performance | None,
    rows: int,
    champion_version: str | None,
    label_note: str | None = None,
    estimated_drop: float | None = None,
    champion_from: dt.date | None = None,
    quartiles: tuple[tuple[str, Quartiles], ...] = (),
    worst_slice: str | None = None,
) -> WindowResult:
    """Record the window, apply the policy on the stored history, and claim the retrain when it is due.
    ``champion_from``: the champion's training window's first day, when it was cut (core/windows.retrain_start).
    ``quartiles``: the window's watched quartiles, kept when it is valid (core/validation_units.py).
    ``worst_slice``: where a drop beyond the tolerance sits, in words (core/window_slices.py), said beside it."""
    unjudged = drift_unjudged(rows, config.monitoring.min_drift_rows) if drift is not None else None
    share, drifted, prediction_drift = split_drift(drift) if drift is not None and not unjudged else (None, (), None)
    pending = WindowResult(
        config.name,
        window.label,
        rows,
        data_valid,
        share,
        drifted,
        prediction_drift,
        performance,
        RetrainDecision(False, None, None, "not decided"),
        champion_version,
        label_note,
        estimated_drop=estimated_drop,
    )
    store = MonitorStore(ledger_url)
    try:
        p = performance
        figure = (
            None
            if p is None or champion_version is None
            else ChampionFigure(champion_version, p.metric, Estimate(p.value, p.low, p.high))
        )
        store.record_window(config.name, pending.verdict(), window.end_time, figure, dict(quartiles))
        stored = since_person_asked(store, config.name, window.label, store.history(config.name, until=window.label))
        history = [*stored[:-1], pending.verdict()]  # the latest as measured now: its estimate is not stored
        decision = decide_retrain(
            config.name,
            history,
            config.monitoring.retraining,
            now=window.end_time,
            last_retrain_at=store.last_retrain_at(config.name),
            seen_keys=store.seen_keys(config.name),
        )
        judged = pool_drops(history, config.monitoring.retraining)[-1]  # calm as the policy judged it
        step = episode_step(store, pending, window, decision, config, judged)
        if decision.retrain and not step.retrain:  # the episode had its retrain: the why says what instead
            decision = replace(decision, retrain=False, why=f"{decision.why}; {step.why}")
        elif step.retrain and not decision.retrain and step.episode is not None:  # a calm window, a retrain won
            reason = cast(Reason, step.episode.trigger)  # back too little of its episode's drop: the retry
            decision = RetrainDecision(True, reason, retrain_key(config.name, reason, window.label), step.why)
        elif step.alert or step.persists or step.repeat or held_in_spent(decision, step, config):
            # "within policy" or "cooling down" alone says nothing of the person asked, or of the shift watched;
            # monitored again, it contradicts the retry asked; and an episode that had its retrain takes no other
            decision = replace(decision, why=f"{decision.why}; {step.why}")
        elif step.retrain and step.episode is not None and step.episode.retrains > 1:  # a retry says so
            decision = replace(decision, why=f"{decision.why}; {step.why}")
        if decision.retrain:
            configured = getattr(config.split, "train_start", None)
            cut = champion_from if champion_from and (configured is None or champion_from > configured) else None
            start = retrain_start(step.train_from if step.retrain else None, cut, window)
            if start is not None and start == cut:  # the champion's cut, not this episode's own
                decision = replace(
                    decision, why=f"{decision.why}; it learns from {start} on, as champion v{champion_version} did"
                )
            decision = replace(decision, train_start=start.isoformat() if start else None)
        cooldown = dt.timedelta(days=config.monitoring.retraining.cooldown_days)
        if decision.retrain and not store.claim_retrain(
            decision.dedupe_key or "", config.name, decision.reason or "", decision.why, window.end_time, cooldown
        ):  # checked again in one transaction: another monitor may have claimed this one, or one within the cooldown
            held = cooling_down(window.end_time, store.last_retrain_at(config.name), config.monitoring.retraining)
            held = f"it waits: {held}" if held else "already claimed by another monitor (dedupe)"
            decision = RetrainDecision(False, decision.reason, decision.dedupe_key, f"{decision.why}; {held}")
            step = episode_step(store, pending, window, decision, config, judged)  # it did not retrain after all
        for episode in (step.superseded, step.episode):
            if episode is not None:
                store.save_episode(episode)
    finally:
        store.close()
    # a measured drop beyond the tolerance, said with the feature that came nearest to drifting when none
    # did (loop7 F8) and the slice it sits in (F11), whether or not the policy acts on it
    if performance is not None and performance.beyond(config.monitoring.retraining.performance_tolerance):
        unexplained = nearest_drift(drift) if drift is not None and not unjudged else None
        said = [note for note in (unexplained, worst_slice) if note]
        decision = replace(decision, why="; ".join([decision.why, *said]))
    # what the decision could not weigh, said beside it: too few rows for drift, no labels for performance
    unweighed = [unjudged] if unjudged and data_valid else []
    if performance is None and data_valid:
        unweighed.append(f"performance not measured: {label_note or 'no labels'}")
    if unweighed and not decision.retrain:
        decision = replace(decision, why=f"{decision.why} ({'; '.join(unweighed)})")
    return replace(pending, decision=decision, episode=step.episode, alert=step.alert)
