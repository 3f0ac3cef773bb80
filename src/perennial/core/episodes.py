"""Drift episodes: one shift, one retrain, and a person when the retrain did not help (pure).

The retraining policy judges one window; an episode remembers the shift across windows. It opens
when the policy fires (k bad windows of the last n) and closes when k of the last n windows are back
within policy, or when a promoted retrain's reference absorbs the shift (the first window judged
against the promoted champion is within policy). Inside an episode there is at most one retrain,
plus ``episode_retries`` more when a retrain ended inconclusive (too little evidence: no verdict on
whether it helped), or when a performance episode's first retrain, which learnt from all history,
failed (the retry learns from the episode's first bad window on). A shift that persists after a
retrain that did not help — failed its gate, passed without release, or was promoted and the drift
stayed — asks a person (``perennial.drift.persistent``, ``perennial.performance.persistent`` for a
performance episode, once per episode) instead of retraining on the same shift again.
A measured performance drop beyond tolerance after a drift episode's retrain is new evidence, not
the same shift: it closes the drift episode and opens a performance episode with its own retrain.

A performance episode remembers the level its drop was measured from. A promoted retrain absorbs it
only once a window judged by the new champion has won back at least half of that drop: a token gain
(the retrain learnt from months mostly before the change) would otherwise reset the reference to the
weaker model and read every later month as "within policy". Short of that, the episode retrains again
(within ``episode_retries``) on the newer windows, then asks a person. Labels that come late are
weighed when a window the retrain judged is monitored again with them; the window is not counted twice.
Drift back within ``RECURS_WITHIN`` times n windows of an episode whose retrain the gate refused is a
recurring shift (a weekly or seasonal cycle): its episode carries that refused retrain, watched, not retrained.
"""

from __future__ import annotations

from dataclasses import replace

from perennial.config import Retraining
from perennial.core.episode_records import Episode, EpisodeStep, Level, Outcome
from perennial.core.retraining import RetrainDecision
from perennial.core.windows import label_start

# a retrain that ended so says nothing about whether retraining helps: it may be tried again
RETRYABLE: tuple[Outcome, ...] = ("inconclusive", "lost")
# drift back within this many times n windows of an episode whose retrain was refused recurs: it is not retrained
RECURS_WITHIN = 2


def advance_episode(
    previous: Episode | None,
    dataset: str,
    window: str,
    holdout_end: str,
    decision: RetrainDecision,
    calm: bool,
    champion: str | None,
    policy: Retraining,
    level: Level | None = None,
    recent: Episode | None = None,
) -> EpisodeStep:
    """The episode after ``window``, given the policy's ``decision`` on it.

    ``calm``: the window is valid and within policy. ``champion``: the version that judged it.
    ``holdout_end``: what a retrain started now would hold out to (it identifies that retrain).
    ``level``: the window's measured primary metric (None: no labels for it yet).
    ``recent``: the last closed episode, when it ended at most ``RECURS_WITHIN`` times n windows ago.
    """
    if previous is None or not previous.open:
        if decision.reason is None:
            return EpisodeStep(None, False, False, "no drift episode")
        opened = Episode(dataset, window, window, trigger=decision.reason, calm=(False,), since=decision.since)
        if decision.reason == "drift" and recent is not None and _refused_drift(recent):
            return _recurring(opened, recent)
        if decision.reason == "performance" and level is not None:
            opened = replace(opened, target=level.reference, drop=level.drop)
        if decision.retrain:
            return EpisodeStep(_retrained(opened, holdout_end), True, False, f"episode opened at {window}")
        return EpisodeStep(opened, False, False, f"episode opened at {window}")
    if window <= previous.last:  # the same window monitored again: it was counted already
        if level is not None and _labels_came_late(previous, window, champion):
            return _judged_late(previous, window, holdout_end, decision, policy, level)
        return EpisodeStep(
            previous,
            False,
            False,
            f"window {window} already counted in the episode from {previous.start}",
            repeat=True,
        )
    judged_by_retrain = previous.outcome == "promoted" and champion is not None and champion == previous.version
    unmeasured = judged_by_retrain and previous.target is not None and level is None
    short = _short_of_target(previous, level, policy) if judged_by_retrain and level is not None else None
    calm = calm and not unmeasured and short is None  # calm against a weaker champion's figure is not won back
    # a performance episode is settled by labels: a window without them says nothing of the drop (with labels
    # two windows late, two unlabelled windows closed it, and the next late label opened a fresh one)
    calm = calm and (previous.trigger != "performance" or level is not None)
    episode = replace(
        previous,
        last=window,
        windows=previous.windows + 1,
        since_retrain=previous.since_retrain + 1,
        calm=(*previous.calm, calm)[-policy.n :],
    )
    if judged_by_retrain and previous.target is not None and level is not None and short is None:
        return _won_back(episode, window, holdout_end, decision, calm, champion, policy, level)
    if closed := _close(episode, window, calm and judged_by_retrain, policy):
        return EpisodeStep(closed, False, False, f"episode from {episode.start} closed: {closed.closed_by}")
    if unmeasured and decision.reason is None:  # a performance episode is absorbed on labels, not on a quiet window
        why = f"episode from {episode.start}: no labels yet to show v{episode.version} won back the drop"
        return EpisodeStep(episode, False, False, why)
    if short is not None:
        return _won_back_too_little(episode, holdout_end, short, decision, policy)
    return _within(episode, holdout_end, decision, policy, level)


def _refused_drift(episode: Episode) -> bool:
    """A drift episode whose retrain the gate refused: the same shift, back, would be retrained on in vain."""
    return episode.trigger == "drift" and episode.outcome == "failed"


def _recurring(opened: Episode, recent: Episode) -> EpisodeStep:
    """Drift back soon after an episode whose retrain the gate refused: a cycle (weekends in daily windows, a
    season), not a new change. The new episode carries that retrain, so it is watched, not retrained every
    time the cycle turns; a drop it costs is measured and opens a performance episode of its own."""
    carried = replace(
        opened,
        retrains=recent.retrains,
        retrain=recent.retrain,
        outcome=recent.outcome,
        version=recent.version,
        alerted=recent.alerted,
    )
    why = (
        f"drift again at {opened.start}, soon after the episode from {recent.start} (closed at {recent.end}) "
        f"whose retrain the gate refused: a recurring shift (a weekly or seasonal cycle?) is watched, not "
        "retrained again; monitoring windows that span the whole cycle (monitoring.window: week for daily "
        "ones) judge it whole"
    )
    return EpisodeStep(carried, False, False, why)


def _labels_came_late(episode: Episode, window: str, champion: str | None) -> bool:
    """A window counted before its labels came, monitored again with them: when the promoted retrain
    judged it (after the retrain's holdout, under its version) and the episode waits on labels for the
    drop it won back. With labels two windows late, every window was first counted unlabelled and the
    episode stayed open for ever."""
    first, held_out_to = label_start(window), label_start(episode.retrain or "")
    return (
        episode.outcome == "promoted"
        and episode.target is not None
        and champion is not None
        and champion == episode.version
        and first is not None
        and held_out_to is not None
        and first >= held_out_to
    )


def _judged_late(
    episode: Episode, window: str, holdout_end: str, decision: RetrainDecision, policy: Retraining, level: Level
) -> EpisodeStep:
    """The late labels' verdict on the promoted retrain, the window not counted twice: absorbed when
    they show half the drop won back, else the retry or the person, as on time."""
    short = _short_of_target(episode, level, policy)
    if short is not None:
        return _won_back_too_little(episode, holdout_end, short, decision, policy)
    closed = replace(
        episode, end=window, closed_by=f"absorbed by the promoted v{episode.version} (the labels of {window} came late)"
    )
    return EpisodeStep(closed, False, False, f"episode from {episode.start} closed: {closed.closed_by}")


def _short_of_target(episode: Episode, level: Level, policy: Retraining) -> str | None:
    """Why the promoted retrain has not won back the drop that opened a performance episode; None
    when it has (or the episode has no such drop to win back)."""
    if episode.target is None or episode.drop is None:
        return None
    # the window's own figure, not its interval's best end: on a few hundred labels that end is generous
    # enough to call a token gain "won back", and the weaker model would become the yardstick
    gap = level.below(episode.target)
    if gap <= max(policy.performance_tolerance, episode.drop / 2):
        return None
    return (
        f"v{episode.version} won back too little of the drop: the window's {level.value:.4g} is {gap:.4g} worse "
        f"than {episode.target:.4g}, the figure the drop of {episode.drop:.4g} from {episode.start} was measured "
        "from (absorbed once half of it is won back)"
    )


def _won_back(
    episode: Episode,
    window: str,
    holdout_end: str,
    decision: RetrainDecision,
    calm: bool,
    champion: str | None,
    policy: Retraining,
    level: Level,
) -> EpisodeStep:
    """The promoted retrain won back the drop: the episode closes on its labels, drift or not, and a
    firing of the policy on this window (a new shift against the new champion) opens its own episode."""
    closed = replace(episode, end=window, closed_by=f"absorbed by the promoted v{episode.version}")
    why = f"episode from {episode.start} closed: {closed.closed_by}"
    if decision.reason is None:
        return EpisodeStep(closed, False, False, why)
    step = advance_episode(None, episode.dataset, window, holdout_end, decision, calm, champion, policy, level)
    return replace(step, superseded=closed, why=f"{why}; {step.why}")


def _won_back_too_little(
    episode: Episode, holdout_end: str, short: str, decision: RetrainDecision, policy: Retraining
) -> EpisodeStep:
    """A promoted retrain that left most of the drop: retrain on the newer windows, then a person."""
    if episode.retrains <= policy.episode_retries:
        if decision.reason is not None and not decision.retrain:  # held back now: cooldown, dedupe, claimed
            return EpisodeStep(episode, False, False, f"{short}; the retry waits: {decision.why}")
        why = f"retry {episode.retrains} of {policy.episode_retries} on the windows from {_first(episode)}: {short}"
        return EpisodeStep(_retrained(episode, holdout_end), True, False, why, train_from=_first(episode))
    # asked once, then closed: the champion's own figure judges from here, so a later decay is a new episode
    asked = replace(episode, alerted=True, end=episode.last, closed_by=f"{short}: a person was asked")
    # said as it is: no retrain for this drop, but a new drop against v<n>'s own figure is a new episode
    why = (
        f"{short}: a person decides, no further retrain for this drop{_by_hand(episode)}; a drop measured "
        f"against v{episode.version}'s own figure opens a new episode"
    )
    return EpisodeStep(asked, False, True, why)


def _close(episode: Episode, window: str, absorbed: bool, policy: Retraining) -> Episode | None:
    if absorbed:
        return replace(episode, end=window, closed_by=f"absorbed by the promoted v{episode.version}")
    settled = sum(episode.calm)
    if settled >= policy.k:
        return replace(
            episode, end=window, closed_by=f"{settled} of the last {len(episode.calm)} windows within policy"
        )
    return None


def _within(
    episode: Episode, holdout_end: str, decision: RetrainDecision, policy: Retraining, level: Level | None
) -> EpisodeStep:
    """An open episode's window that did not close it: retrain, wait, or ask a person."""
    if episode.retrains and episode.outcome is None and episode.since_retrain >= policy.n:
        episode = replace(episode, outcome="lost")  # no verdict after n windows: the run died or never started
    if episode.retrains and episode.outcome is None:
        return EpisodeStep(
            episode, False, False, f"episode from {episode.start}: waiting for retrain {episode.retrain}"
        )
    retry = _retryable(episode, policy)
    if episode.retrains == 0 or retry:
        if not decision.retrain:
            return EpisodeStep(episode, False, False, f"episode from {episode.start}, window {episode.windows}")
        if not retry:
            return EpisodeStep(_retrained(episode, holdout_end), True, False, "first retrain of it")
        why = f"retry {episode.retrains} of {policy.episode_retries}: the last retrain was {episode.outcome}"
        if episode.trigger != "performance":
            return EpisodeStep(_retrained(episode, holdout_end), True, False, why)
        why += f"; this one learns from the windows from {_first(episode)} on, where the drop began"
        return EpisodeStep(_retrained(episode, holdout_end), True, False, why, train_from=_first(episode))
    spent = f"episode from {episode.start} had its retrain ({_ending(episode)})"
    if decision.reason == "performance" and episode.trigger == "drift":
        closed = replace(episode, end=episode.last, closed_by=f"superseded by a performance drop in {episode.last}")
        step = advance_episode(None, episode.dataset, episode.last, holdout_end, decision, False, None, policy, level)
        return replace(step, superseded=closed, why=f"{spent}; a performance drop opens its own episode")
    if decision.reason is None or episode.alerted:
        return EpisodeStep(episode, False, False, f"{spent}; no further retrain in it")
    if (
        episode.trigger == "drift"
        and level is not None
        and (level.drop <= policy.performance_tolerance or level.within)
    ):
        # the labels answer what a person would be asked: the shifted inputs cost the champion nothing
        why = (
            f"{spent} and the shift persists, but the window's labels show the champion within policy on it "
            f"({level.value:.4g} vs its {level.reference:.4g}): watched, no person asked"
        )
        return EpisodeStep(episode, False, False, why, persists=True)
    return EpisodeStep(
        replace(episode, alerted=True),
        False,
        True,
        f"{spent} and the shift persists: a person decides, not a retrain{_by_hand(episode)}",
        persists=True,
    )


def retrain_spent(episode: Episode, policy: Retraining) -> bool:
    """The episode had its retrain, it ended, and it may not be tried again: no policy firing retrains in it."""
    return episode.retrains > 0 and episode.outcome is not None and not _retryable(episode, policy)


def _retryable(episode: Episode, policy: Retraining) -> bool:
    """Whether the episode's last retrain may be tried again (within ``episode_retries``).

    One that ended without a verdict may. So may a performance episode's first retrain that failed: it
    learnt from all history, mostly before the drop, and the retry on the windows since the drop is a
    different attempt, not the same one again (a refused retrain would otherwise leave a concept change
    with the worse champion until a person came).
    """
    if not episode.retrains or episode.retrains > policy.episode_retries:
        return False
    first_failed = episode.trigger == "performance" and episode.outcome == "failed" and episode.retrains == 1
    return episode.outcome in RETRYABLE or first_failed


def _by_hand(episode: Episode) -> str:
    """What the person asked about a performance episode can run: a retrain on the changed data alone."""
    if episode.trigger != "performance":
        return ""
    if episode.retrains > 1:  # the retry learnt from there already: saying it again would be no advice
        return (
            f" (a retry already learnt from {_first(episode)} on: a drop that returns after each retrain is a "
            "trend the model does not follow; give it the level (a time feature, a ratio or log target) or "
            "retrain it on a schedule)"
        )
    return f" (to learn from the change alone: perennial train --train-start <the first day of {_first(episode)}>)"


def _first(episode: Episode) -> str:
    """The window a retry learns from: where the episode's evidence began, else where it opened."""
    return episode.since or episode.start


def _retrained(episode: Episode, holdout_end: str) -> Episode:
    return replace(
        episode, retrains=episode.retrains + 1, retrain=holdout_end, outcome=None, version=None, since_retrain=0
    )


def _ending(episode: Episode) -> str:
    return f"{episode.outcome}, v{episode.version}" if episode.version else str(episode.outcome)
