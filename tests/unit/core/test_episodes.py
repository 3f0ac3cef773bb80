"""Drift episodes: open on the policy, close on k of n calm windows or an absorbing promotion, one retrain each."""

from __future__ import annotations

from perennial.config import Retraining
from perennial.core.episode_records import Episode, EpisodeStep, Level, outcome_of
from perennial.core.episodes import advance_episode
from perennial.core.monitoring import Performance
from perennial.core.retraining import RetrainDecision

POLICY = Retraining(k=2, n=3, episode_retries=1)
FIRE = RetrainDecision(True, "drift", "d:drift:w", "drift in 2 of the last 3 windows (k=2)")
COOLING = RetrainDecision(False, "drift", "d:drift:w", "drift in 2 of 3 windows, but cooling down until ...")
QUIET = RetrainDecision(False, None, None, "window is within policy")
BAD_BUT_FEW = RetrainDecision(False, None, None, "window is bad, but fewer than k=2 of the last 3")


def step(
    previous: Episode | None,
    window: str,
    decision: RetrainDecision,
    calm: bool = False,
    champion: str | None = "1",
    policy: Retraining = POLICY,
    level: Level | None = None,
) -> EpisodeStep:
    return advance_episode(previous, "d", window, f"{window}-end", decision, calm, champion, policy, level)


def test_no_firing_policy_no_episode() -> None:
    assert step(None, "w1", QUIET, calm=True) == EpisodeStep(None, False, False, "no drift episode")
    assert step(None, "w1", BAD_BUT_FEW).episode is None


def test_the_policy_firing_opens_an_episode_with_its_retrain() -> None:
    # when the policy fires on w1 / then an episode opens there and its one retrain goes ahead
    opened = step(None, "w1", FIRE)
    assert opened.retrain and not opened.alert
    episode = opened.episode
    assert episode is not None and episode.open
    assert (episode.start, episode.trigger, episode.retrains, episode.retrain, episode.outcome) == (
        "w1",
        "drift",
        1,
        "w1-end",
        None,
    )
    # and a cooled-down firing opens one without a retrain
    cooled = step(None, "w1", COOLING)
    assert cooled.episode is not None and cooled.episode.retrains == 0 and not cooled.retrain


def test_the_policy_firing_again_in_the_episode_waits_for_the_retrain_then_does_not_retrain() -> None:
    # given an episode whose retrain is still running
    first = step(None, "w1", FIRE).episode
    # when the policy fires again on w2 / then no second retrain: the first one's verdict is awaited
    waiting = step(first, "w2", FIRE)
    assert not waiting.retrain and not waiting.alert and "waiting for retrain w1-end" in waiting.why
    assert waiting.episode is not None and waiting.episode.windows == 2


def test_k_of_n_calm_windows_close_the_episode_and_one_calm_window_does_not() -> None:
    # given an open episode (k=2 of n=3)
    episode = step(None, "w1", FIRE).episode
    # when one window is calm / then it stays open
    one = step(episode, "w2", QUIET, calm=True)
    assert one.episode is not None and one.episode.open
    # when a second calm window follows / then it closes there, saying why
    two = step(one.episode, "w3", QUIET, calm=True)
    assert two.episode is not None and two.episode.end == "w3" and not two.retrain
    assert two.episode.closed_by == "2 of the last 3 windows within policy"
    # and the next firing opens a new episode with its own retrain
    again = step(two.episode, "w4", FIRE)
    assert again.retrain and again.episode is not None and again.episode.start == "w4"


def test_a_promoted_retrain_whose_reference_absorbs_the_shift_closes_the_episode_at_once() -> None:
    # given an episode whose retrain was promoted as v2
    episode = step(None, "w1", FIRE).episode
    assert episode is not None
    promoted = episode.with_outcome("promoted", "2")
    # when the first window judged by v2 is calm / then the episode closes there
    closed = step(promoted, "w2", QUIET, calm=True, champion="2")
    assert closed.episode is not None and closed.episode.end == "w2"
    assert closed.episode.closed_by == "absorbed by the promoted v2"
    # and a calm window still judged by the old champion (v1) is only one of k
    assert step(promoted, "w2", QUIET, calm=True, champion="1").episode.open  # type: ignore[union-attr]


DROPPED = RetrainDecision(True, "performance", "d:performance:w1", "performance in 2 of the last 3 windows (k=2)")


def auc(value: float, reference: float) -> Level:
    return Level(value, reference, higher_is_better=True)


def test_a_promoted_retrain_that_won_back_too_little_of_the_drop_retrains_again_then_asks_a_person() -> None:
    # given a performance episode opened by roc_auc 0.68 against the champion's 0.92 (a drop of 0.24),
    # whose retrain was promoted (v2) on a token gain: v2's own holdout figure is 0.69
    first = step(None, "w1", DROPPED, level=auc(0.68, 0.92))
    opened = first.episode
    assert opened is not None and (opened.target, opened.drop) == (0.92, 0.92 - 0.68) and first.train_from is None
    promoted = opened.with_outcome("promoted", "2")
    # when the first window judged by v2 is within policy against v2's figure, still far below 0.92
    token = step(promoted, "w2", QUIET, calm=True, champion="2", level=auc(0.67, 0.69))
    # then the episode is not absorbed: a retry on the newer windows goes ahead, saying why
    assert token.retrain and not token.alert and token.episode is not None and token.episode.open
    assert "retry 1 of 1 on the windows from w1: v2 won back too little of the drop" in token.why
    assert token.train_from == "w1"  # it learns from the episode's first window on, where the first learnt from all
    assert "the window's 0.67 is 0.25 worse than 0.92" in token.why and token.episode.retrains == 2
    # when that retry is promoted (v3) and still leaves most of the drop / then a person is asked, once
    still = step(
        token.episode.with_outcome("promoted", "3"), "w3", QUIET, calm=True, champion="3", level=auc(0.70, 0.72)
    )
    assert not still.retrain and still.alert and "a person decides" in still.why
    # and, the retry having learnt from w1 on already, the advice is not to do that again but to model the level
    assert "--train-start" not in still.why and "a retry already learnt from w1 on" in still.why
    assert "a trend the model does not follow" in still.why
    # (with no retry allowed, the person is told how to learn from the change alone)
    alone = step(
        promoted, "w2", QUIET, calm=True, champion="2", level=auc(0.67, 0.69), policy=Retraining(episode_retries=0)
    )
    assert (
        alone.alert
        and "(to learn from the change alone: perennial train --train-start <the first day of w1>)" in alone.why
    )
    # and it promises what the loop does: no retrain for this drop, a new drop against v3 is a new episode
    assert "a drop measured against v3's own figure opens a new episode" in still.why
    assert "not a retrain" not in still.why
    # and the episode closes there: v3's own figure judges from now on, so a later decay opens a new one
    assert (
        still.episode is not None and still.episode.end == "w3" and "a person was asked" in str(still.episode.closed_by)
    )
    later = step(still.episode, "w4", QUIET, calm=True, champion="3", level=auc(0.70, 0.72))
    assert not later.retrain and not later.alert and later.episode is None
    assert step(still.episode, "w4", DROPPED, champion="3", level=auc(0.60, 0.72)).retrain
    # and a drift episode (no level to win back) is absorbed as before on its first calm window
    drift = step(None, "w1", FIRE, level=auc(0.68, 0.92)).episode
    assert drift is not None and drift.target is None
    assert (
        step(
            drift.with_outcome("promoted", "2"), "w2", QUIET, calm=True, champion="2", level=auc(0.67, 0.69)
        ).episode.end
        == "w2"
    )  # type: ignore[union-attr]


def test_a_promoted_retrain_that_won_back_half_the_drop_absorbs_it_and_labels_decide_not_a_quiet_window() -> None:
    promoted = step(None, "w1", DROPPED, level=auc(0.68, 0.92)).episode.with_outcome("promoted", "2")  # type: ignore[union-attr]
    # when v2's window is 0.82 at best: 0.10 below 0.92, more than half the drop won back / then absorbed
    won = step(promoted, "w2", QUIET, calm=True, champion="2", level=auc(0.81, 0.85))
    assert won.episode is not None and won.episode.closed_by == "absorbed by the promoted v2"
    # and a drift firing on that window is a new shift against v2: the episode closes, a drift one opens
    drifted = step(promoted, "w2", FIRE, champion="2", level=auc(0.81, 0.85))
    assert drifted.superseded is not None and drifted.superseded.closed_by == "absorbed by the promoted v2"
    assert drifted.retrain and drifted.episode is not None and drifted.episode.trigger == "drift"
    assert drifted.episode.start == "w2" and drifted.episode.target is None
    # and at 0.78 at best (0.14 below: less than half won back) it is not
    assert step(promoted, "w2", QUIET, calm=True, champion="2", level=auc(0.77, 0.85)).retrain
    # when v2's first window has no labels yet / then it neither closes nor retrains: it waits for them
    waits = step(promoted, "w2", QUIET, calm=True, champion="2")
    assert waits.episode is not None and waits.episode.open and not waits.retrain
    assert "no labels yet to show v2 won back the drop" in waits.why
    # when the retry would start inside the cooldown (the policy or the claim holds it back) / then it waits
    cooling = RetrainDecision(False, "performance", "d:performance:w2", "cooling down until 2024-08-01")
    held = step(promoted, "w2", cooling, calm=True, champion="2", level=auc(0.67, 0.69))
    assert not held.retrain and "the retry waits: cooling down" in held.why
    assert held.episode is not None and held.episode.retrains == 1


def test_a_loss_metric_wins_back_its_drop_downwards() -> None:
    # given an mae episode: 16 against the champion's 10 (lower is better; the interval's best end is its low)
    def mae(value: float, reference: float) -> Level:
        return Level(value, reference, higher_is_better=False)

    opened = step(None, "w1", DROPPED, level=mae(16.0, 10.0)).episode
    assert opened is not None and opened.drop == 6.0
    promoted = opened.with_outcome("promoted", "2")
    # then 15 (at best 14.5, 4.5 above 10) is short of half the drop, and 13 (at best 12.5) is not
    assert step(promoted, "w2", QUIET, calm=True, champion="2", level=mae(15.0, 14.8)).retrain
    won = step(promoted, "w2", QUIET, calm=True, champion="2", level=mae(13.0, 12.9))
    assert won.episode is not None and won.episode.closed_by == "absorbed by the promoted v2"


def test_an_inconclusive_retrain_is_retried_once_then_a_person_is_asked() -> None:
    # given an episode whose retrain ended inconclusive
    episode = step(None, "w1", FIRE).episode
    assert episode is not None
    # when the policy fires again / then one retry goes ahead
    retry = step(episode.with_outcome("inconclusive", "2"), "w2", FIRE)
    assert retry.retrain and "retry 1 of 1" in retry.why
    assert retry.episode is not None and retry.episode.retrains == 2 and retry.episode.outcome is None
    # when the retry is inconclusive too and the shift persists / then no third retrain: the alert
    after = step(retry.episode.with_outcome("inconclusive", "3"), "w3", FIRE)
    assert not after.retrain and after.alert and "a person decides" in after.why
    # and with no retries configured the first inconclusive retrain already ends it
    strict = Retraining(k=2, n=3, episode_retries=0)
    assert step(episode.with_outcome("inconclusive", "2"), "w2", FIRE, policy=strict).alert


def test_a_persistent_shift_after_a_retrain_that_did_not_help_alerts_once_never_retrains() -> None:
    for outcome in ("failed", "promoted", "passed"):
        # given an episode whose retrain failed its gate / was promoted (v2) / passed without release
        episode = step(None, "w1", FIRE).episode
        assert episode is not None
        ended = episode.with_outcome(outcome, "2")  # type: ignore[arg-type]
        # when the shift persists / then a person is asked, not a retrain
        persists = step(ended, "w2", FIRE, champion="2")
        assert not persists.retrain and persists.alert, outcome
        assert persists.episode is not None and persists.episode.alerted
        # and only once: the next drifted window neither retrains nor alerts again
        later = step(persists.episode, "w3", FIRE, champion="2")
        assert not later.retrain and not later.alert and later.episode is not None and later.episode.open
        # and a bad window short of k is not "persistent"
        assert not step(ended, "w2", BAD_BUT_FEW, champion="2").alert
        # and a drifted window whose labels show the champion within policy asks no one: the labels
        # answer what the person would be asked (a covariate shift that cost nothing paged a person)
        fine = step(ended, "w2", FIRE, champion="2", level=auc(0.833, 0.824))
        assert not fine.retrain and not fine.alert and fine.episode is not None and not fine.episode.alerted
        assert "labels show the champion within policy on it (0.833 vs its 0.824): watched" in fine.why
        assert step(ended, "w2", FIRE, champion="2", level=auc(0.70, 0.824)).alert


def test_a_performance_drop_after_a_drift_retrain_is_its_own_episode_with_its_own_retrain() -> None:
    # given a drift episode whose retrain was promoted (v2)
    drift = step(None, "w1", FIRE).episode
    assert drift is not None
    ended = drift.with_outcome("promoted", "2")
    # when the policy fires on a measured performance drop
    dropped = step(ended, "w2", RetrainDecision(True, "performance", "d:performance:w2", "performance in 2 of 3"))
    # then the drift episode closes and a performance episode opens there, with its retrain
    assert dropped.retrain and not dropped.alert
    assert dropped.superseded is not None and dropped.superseded.end == "w2"
    assert dropped.superseded.closed_by == "superseded by a performance drop in w2"
    assert dropped.episode is not None and (dropped.episode.start, dropped.episode.trigger) == ("w2", "performance")
    # and a performance episode whose retrain did not help is not superseded by another drop: its one
    # retry learns from the episode's windows, and when that fails too a person is asked
    spent = dropped.episode.with_outcome("failed", "3")
    again = step(spent, "w3", RetrainDecision(True, "performance", "d:performance:w3", "performance in 3 of 3"))
    assert again.retrain and again.superseded is None and again.train_from == "w2"
    assert again.episode is not None
    last = step(again.episode.with_outcome("failed", "4"), "w4", RetrainDecision(True, "performance", "k", "3 of 3"))
    assert not last.retrain and last.alert and last.superseded is None


def test_a_retrain_without_a_verdict_for_n_windows_is_lost_and_may_be_retried() -> None:
    # given an episode whose retrain never reported (the run died)
    episode = step(None, "w1", FIRE).episode
    w2 = step(episode, "w2", FIRE).episode
    w3 = step(w2, "w3", FIRE)
    assert not w3.retrain  # n=3: two windows without a verdict is still waiting
    # when the third window passes without one / then it counts as lost, and the retry goes ahead
    w4 = step(w3.episode, "w4", FIRE)
    assert w4.retrain and "was lost" in w4.why


def test_a_window_monitored_again_is_not_counted_twice() -> None:
    # given an episode that counted w2 already
    episode = step(step(None, "w1", FIRE).episode, "w2", QUIET, calm=True).episode
    assert episode is not None
    # when w2 is monitored again, calm / then the episode is unchanged (one calm window, still open)
    again = step(episode, "w2", QUIET, calm=True)
    assert again.episode == episode and not again.retrain and "already counted" in again.why


def test_descriptions_and_outcomes_read_as_the_tables_show_them() -> None:
    episode = step(None, "2013-07", FIRE).episode
    assert episode is not None
    assert episode.describe() == "drift open since 2013-07, 1 window, 1 retrain (running)"
    closed = step(episode.with_outcome("promoted", "3"), "2013-08", QUIET, calm=True, champion="3").episode
    assert closed is not None
    assert closed.describe() == (
        "drift 2013-07..2013-08, 2 windows, 1 retrain (promoted, v3); closed: absorbed by the promoted v3"
    )
    assert [outcome_of(True, "passed"), outcome_of(False, "passed"), outcome_of(False, "inconclusive")] == [
        "promoted",
        "passed",
        "inconclusive",
    ]
    assert outcome_of(False, "failed") == "failed"


def test_a_performance_episode_whose_first_retrain_failed_retries_on_the_windows_since_the_drop_began() -> None:
    # given a monthly concept change: September is bad but alone, October makes k=2 of 3 and opens the
    # episode, whose evidence began in September (the policy's decision says so)
    fired = RetrainDecision(True, "performance", "d:performance:2024-10", "performance in 2 of 3", since="2024-09")
    opened = step(None, "2024-10", fired, level=Level(47.8, 31.8, higher_is_better=False))
    assert opened.retrain and opened.train_from is None  # the first retrain learns from all history
    assert opened.episode is not None and opened.episode.since == "2024-09"
    # when that retrain, mostly pre-change data, failed its gate and November is bad again
    november = RetrainDecision(True, "performance", "d:performance:2024-11", "performance in 3 of 3")
    retry = step(
        opened.episode.with_outcome("failed", "2"), "2024-11", november, level=Level(49.7, 31.8, higher_is_better=False)
    )
    # then a retry goes ahead on the windows from September, where the drop began, and says so
    assert retry.retrain and not retry.alert and retry.train_from == "2024-09"
    assert "the last retrain was failed; this one learns from the windows from 2024-09 on" in retry.why
    # and a drift episode's failed retrain still asks a person instead (the shift is not a changed concept)
    drift = step(None, "w1", FIRE).episode
    asked = step(drift.with_outcome("failed", "2"), "w2", FIRE) if drift is not None else None
    assert asked is not None and asked.alert and "--train-start" not in asked.why  # a drift has no such day


def test_a_token_gain_is_not_absorbed_because_a_small_windows_interval_reaches_half_the_drop() -> None:
    # given a performance episode from AUC 0.614 against 0.800 (a drop of 0.186), whose retry was promoted
    # (v3, its own holdout figure 0.618), and v3's first window of 203 rows: 0.636 [0.561, 0.708]
    episode = Episode("d", "w1", "w1", trigger="performance", retrains=1, target=0.800, drop=0.186)
    promoted = episode.with_outcome("promoted", "3")
    window = Performance("roc_auc", 0.636, 0.561, 0.708, 203, 0.618, 0.618 - 0.636, 0.58)
    # when the episode weighs it
    after = step(promoted, "w2", QUIET, calm=True, champion="3", level=window.level)
    # then 12% won back is not half: the episode stays open and retries, though the best end is within half
    assert after.retrain and after.episode is not None and after.episode.open
    assert "won back too little of the drop: the window's 0.636 is 0.164 worse than 0.8" in after.why


def test_labels_that_come_two_windows_late_still_judge_the_promoted_retrain() -> None:
    # given a performance episode opened in July whose retrain (held out to 1 August) was promoted as v2
    def month(previous: Episode | None, label: str, decision: RetrainDecision, **kw: object) -> EpisodeStep:
        ends = {"2013-07": "2013-08-01", "2013-08": "2013-09-01", "2013-09": "2013-10-01", "2013-10": "2013-11-01"}
        return advance_episode(previous, "d", label, ends[label], decision, True, "2", POLICY, **kw)  # type: ignore[arg-type]

    opened = month(None, "2013-07", DROPPED, level=auc(0.68, 0.92)).episode
    assert opened is not None
    promoted = opened.with_outcome("promoted", "2")
    # and August and September were counted before their labels came
    waiting = month(month(promoted, "2013-08", QUIET).episode, "2013-09", QUIET).episode
    assert waiting is not None and waiting.open and waiting.windows == 3
    # when August is monitored again with its labels, v2 at 0.86 (more than half the 0.24 drop won back)
    late = month(waiting, "2013-08", QUIET, level=auc(0.86, 0.88))
    # then the episode closes on them, August not counted twice
    assert late.episode is not None and not late.episode.open and not late.retrain
    assert late.episode.closed_by == "absorbed by the promoted v2 (the labels of 2013-08 came late)"
    assert late.episode.windows == 3
    # when they show v2 at 0.70 instead / then the retry on the windows since the drop goes ahead
    short = month(waiting, "2013-08", QUIET, level=auc(0.70, 0.72))
    assert short.retrain and short.train_from == "2013-07" and "won back too little" in short.why
    # and July, judged by v1 before the retrain, or a window judged by another version, is only counted already
    for label, champion in (("2013-07", "2"), ("2013-08", "1")):
        again = advance_episode(waiting, "d", label, "x", QUIET, True, champion, POLICY, auc(0.70, 0.72))
        assert again.episode == waiting and not again.retrain and "already counted" in again.why


def test_a_retrain_whose_data_failed_validation_is_not_retried_on_the_same_data() -> None:
    # given a drift episode whose retrain was refused (its data failed validation: nothing trained)
    episode = step(None, "w1", FIRE).episode
    assert episode is not None
    refused = episode.with_outcome("refused", None)
    # when the shift persists / then no retry (unlike a lost one): a person is asked, once
    persists = step(refused, "w2", FIRE)
    assert not persists.retrain and persists.alert and "had its retrain (refused)" in persists.why
    assert not step(episode.with_outcome("lost", None), "w2", FIRE).alert
    assert step(episode.with_outcome("lost", None), "w2", FIRE).retrain


def test_drift_back_soon_after_an_episode_whose_retrain_was_refused_is_watched_not_retrained() -> None:
    # given a weekend's drift episode whose retrain the gate refused, closed on the Tuesday
    refused = Episode("d", "05-05", "05-07", "05-07", 3, "drift", 1, "05-06", "failed", None, closed_by="2 of 3 calm")
    # when drift opens an episode again the next Sunday
    again = advance_episode(None, "d", "05-12", "05-13", FIRE, False, "1", POLICY, None, refused)
    # then it carries the refused retrain: no new one, said why, and the episode stays watched
    assert not again.retrain and not again.alert
    assert again.episode is not None and again.episode.start == "05-12" and again.episode.outcome == "failed"
    assert "recurring shift" in again.why and "episode from 05-05 (closed at 05-07)" in again.why
    # and a later window of it neither retrains nor asks a person twice (one was asked then, or none)
    later = step(again.episode, "05-13", FIRE)
    assert not later.retrain
    # when the last episode's retrain was promoted, or it was a performance episode / then it retrains as ever
    promoted = Episode("d", "05-05", "05-07", "05-07", 3, "drift", 1, "05-06", "promoted", "2")
    assert advance_episode(None, "d", "05-12", "05-13", FIRE, False, "2", POLICY, None, promoted).retrain
    dropped = Episode("d", "05-05", "05-07", "05-07", 3, "performance", 1, "05-06", "failed", None)
    assert advance_episode(None, "d", "05-12", "05-13", FIRE, False, "1", POLICY, None, dropped).retrain
    # and a performance drop after a refused drift retrain opens its own episode with its retrain
    drop = RetrainDecision(True, "performance", "d:performance:w", "a drop")
    assert advance_episode(None, "d", "05-12", "05-13", drop, False, "1", POLICY, None, refused).retrain


def test_a_performance_episode_is_not_closed_by_windows_without_labels() -> None:
    # given a performance episode whose retrain failed its gate (labels come two windows late)
    drop = RetrainDecision(True, "performance", "d:performance:w1", "a drop")
    opened = step(None, "w1", drop, level=auc(0.70, 0.85)).episode
    assert opened is not None
    failed = opened.with_outcome("failed", None)
    # when the next two windows are calm by drift but have no labels yet
    second = step(failed, "w2", QUIET, calm=True).episode
    third = step(second, "w3", QUIET, calm=True).episode
    # then the episode stays open: only labels settle a drop
    assert third is not None and third.open, third
    # and two calm labelled windows still close a drift episode or this one
    fourth = step(third, "w4", QUIET, calm=True, level=auc(0.84, 0.85)).episode
    fifth = step(fourth, "w5", QUIET, calm=True, level=auc(0.85, 0.85)).episode
    assert fifth is not None and not fifth.open and fifth.closed_by == "2 of the last 3 windows within policy"
    drift = step(step(step(None, "w1", FIRE).episode, "w2", QUIET, calm=True).episode, "w3", QUIET, calm=True)
    assert drift.episode is not None and not drift.episode.open


def test_a_persisting_shift_whose_drop_the_labels_cannot_confirm_pages_no_one() -> None:
    # given a drift episode whose retrain the gate refused, the shift still there
    episode = step(None, "w1", FIRE).episode
    assert episode is not None
    refused = episode.with_outcome("failed", None)
    # when a window's point drop (0.034) is beyond the tolerance (0.03) but its interval reaches the champion's
    noisy = Level(0.806, 0.84, higher_is_better=True, sure_drop=-0.01)
    watched = step(refused, "w2", FIRE, level=noisy)
    # then it is watched, no person paged, as the policy itself reads that window within policy
    assert not watched.alert and watched.persists and "watched, no person asked" in watched.why
    # and a drop the intervals confirm pages the person once
    sure = Level(0.70, 0.84, higher_is_better=True, sure_drop=0.05)
    assert step(refused, "w2", FIRE, level=sure).alert
