from __future__ import annotations

import datetime as dt
from dataclasses import replace

from bench.pooled_decay import labelled, replay
from perennial.config import Retraining
from perennial.core.retraining import RetrainDecision, WindowVerdict, decide_retrain

POLICY = Retraining(drift_share=0.5, performance_tolerance=0.03, k=2, n=3, cooldown_days=14)
NOW = dt.datetime(2013, 8, 1, tzinfo=dt.UTC)


def w(name: str, drift: float = 0.0, drop: float | None = None, valid: bool = True) -> WindowVerdict:
    return WindowVerdict(name, drift, drop, valid)


def test_k_of_n_bad_windows_including_the_latest_trigger_one_retrain() -> None:
    # given drift in two of the last three windows, the latest among them
    history = [w("07-01", 0.6), w("07-08"), w("07-15", 0.7)]
    decision = decide_retrain("flights", history, POLICY, NOW, None, set())
    assert decision.retrain and decision.reason == "drift" and decision.dedupe_key == "flights:drift:07-15"
    # and the decision names where the evidence began: the first bad window of the last n, not the latest
    assert decision.since == "07-01"
    later = decide_retrain("flights", [w("07-08"), w("07-15", 0.7), w("07-22", 0.7)], POLICY, NOW, None, set())
    assert later.since == "07-15"


def test_one_bad_window_is_not_enough_and_an_old_episode_does_not_count() -> None:
    assert not decide_retrain("f", [w("a"), w("b"), w("c", 0.9)], POLICY, NOW, None, set()).retrain
    # two bad windows but the latest is fine: no retrain
    assert not decide_retrain("f", [w("a", 0.9), w("b", 0.9), w("c")], POLICY, NOW, None, set()).retrain
    # bad windows outside the last n do not count
    assert not decide_retrain("f", [w("a", 0.9), w("b"), w("c"), w("d", 0.9)], POLICY, NOW, None, set()).retrain


def test_performance_drop_beyond_tolerance_wins_over_drift() -> None:
    history = [w("a", 0.9, 0.05), w("b", 0.9, 0.04)]
    decision = decide_retrain("f", history, POLICY, NOW, None, set())
    assert decision.retrain and decision.reason == "performance"
    # within tolerance is not a drop
    assert decide_retrain("f", [w("a", 0, 0.02), w("b", 0, 0.03)], POLICY, NOW, None, set()).retrain is False


def test_a_drop_counts_only_when_the_windows_interval_confirms_it() -> None:
    # given two windows 0.05 below the champion's figure (beyond the 0.03 tolerance) whose intervals still
    # reach the champion's figure (the least drop they allow is below 0): the noise of a few labels
    noisy = [
        replace(w("a", 0, 0.05), performance_sure_drop=-0.02),
        replace(w("b", 0, 0.05), performance_sure_drop=-0.01),
    ]
    decision = decide_retrain("f", noisy, POLICY, NOW, None, set())
    # then no retrain, and the why says the drop was seen and why it did not count
    assert not decision.retrain and "its interval reaches the champion's holdout interval" in decision.why
    # given the same drops with intervals wholly below the champion's figure / then a retrain
    sure = [replace(v, performance_sure_drop=0.01) for v in noisy]
    assert decide_retrain("f", sure, POLICY, NOW, None, set()).reason == "performance"
    # and a window stored before intervals were kept is judged on its drop alone
    assert decide_retrain("f", [w("a", 0, 0.05), w("b", 0, 0.05)], POLICY, NOW, None, set()).retrain


def test_dedupe_and_cooldown_suppress_repeats_and_say_so() -> None:
    history = [w("a", 0.9), w("b", 0.9)]
    seen = decide_retrain("f", history, POLICY, NOW, None, {"f:drift:b"})
    assert not seen.retrain and "dedupe" in seen.why
    cooling = decide_retrain("f", history, POLICY, NOW, NOW - dt.timedelta(days=3), set())
    assert not cooling.retrain and "cooling down until 2013-08-12" in cooling.why
    after = decide_retrain("f", history, POLICY, NOW, NOW - dt.timedelta(days=15), set())
    assert after.retrain


def test_never_retrain_on_a_window_that_failed_validation() -> None:
    decision = decide_retrain("f", [w("a", 0.9), w("b", 0.9, valid=False)], POLICY, NOW, None, set())
    assert not decision.retrain and "failed validation" in decision.why
    # and an invalid window does not count towards k either
    assert not decide_retrain("f", [w("a", 0.9, valid=False), w("b", 0.9)], POLICY, NOW, None, set()).retrain


def test_drift_needs_a_drop_when_so_configured_measured_first_then_estimated() -> None:
    # given drift in 2 of 3 windows and a policy that asks drift to cost performance too
    policy = Retraining(drift_share=0.5, performance_tolerance=0.03, k=2, n=3, drift_needs_drop=True)
    drifted = [w("a", 0.9), w("b")]

    def decide(latest: WindowVerdict) -> RetrainDecision:
        return decide_retrain("f", [*drifted, latest], policy, NOW, None, set())

    # when the window's scores estimate no drop (and no labels yet) / then it is watched, not retrained on
    harmless = decide(WindowVerdict("c", 0.9, None, True, estimated_drop=0.01))
    assert not harmless.retrain and harmless.reason is None
    assert "estimated (label-free) drop +0.0100 <= 0.03: watched, not retrained" in harmless.why
    # when the estimate expects a drop beyond tolerance / then drift retrains
    assert decide(WindowVerdict("c", 0.9, None, True, estimated_drop=0.05)).retrain
    # when labels measured a small drop, the measured figure wins over a large estimate
    measured = decide(WindowVerdict("c", 0.9, 0.01, True, estimated_drop=0.08))
    assert not measured.retrain and "measured drop +0.0100" in measured.why
    # when there is neither / then drift alone is not enough
    assert "no labelled figure and no estimate" in decide(w("c", 0.9)).why
    # when the drift's drop is beyond tolerance but its interval still reaches the champion's figure
    # (a gradual drift on a small window) / then the drift is the evidence and the drop corroborates it
    gradual = decide(WindowVerdict("c", 0.9, 0.04, True, performance_sure_drop=-0.003))
    assert gradual.retrain and gradual.reason == "drift"
    # and by default (drift_needs_drop false) drift alone retrains, as before
    assert decide_retrain("f", [*drifted, w("c", 0.9)], POLICY, NOW, None, set()).retrain


def test_a_slow_decay_is_sure_on_the_labels_of_several_windows_together() -> None:
    # given three windows 0.045 below the champion (beyond the 0.03 tolerance) whose intervals each still
    # reach the champion's (±0.04: a few hundred labels each), so none alone is sure of its drop
    decay = [labelled("a", 0.755, 0.04), labelled("b", 0.755, 0.04), labelled("c", 0.755, 0.04)]
    assert all((v.performance_sure_drop or 0) < 0 for v in decay)
    decision = decide_retrain("f", decay, POLICY, NOW, None, set())
    # then their labels together are (the reach narrows by the square root of three): a retrain, said so
    assert decision.retrain and decision.reason == "performance"
    assert "sure only on the labels of 3 windows together (a slow decay)" in decision.why
    # given the latest judged by a new champion: nothing of its own to pool, alone within noise
    assert not decide_retrain("f", [*decay[:2], replace(decay[2], champion="4")], POLICY, NOW, None, set()).retrain
    # given the earlier windows within tolerance: pooled, the drop is no longer beyond it
    calm_then_low = [labelled("a", 0.80, 0.04), labelled("b", 0.80, 0.04), decay[2]]
    assert not decide_retrain("f", calm_then_low, POLICY, NOW, None, set()).retrain
    # given the first window refused by validation: its labels are not weighed, two are too few to be sure
    assert not decide_retrain("f", [replace(decay[0], data_valid=False), *decay[1:]], POLICY, NOW, None, set()).retrain


def test_pooling_catches_a_slow_decay_sooner_and_seldom_acts_on_noise() -> None:
    import numpy as np

    rng = np.random.default_rng(7)
    se = 0.02  # an 800-row window's AUC: reach ±0.039
    reach = 1.96 * se
    # given a champion whose live AUC sits at its holdout figure, 12 windows of label noise, 400 times
    steady = [list(0.80 + rng.normal(0, se, 12)) for _ in range(400)]
    false_alarms = sum(replay(series, reach) is not None for series in steady)
    # then pooling asks a retrain in few of them (each window's drop beyond tolerance, its neighbours' too)
    assert false_alarms <= 0.02 * len(steady), false_alarms
    # given a decay of 0.006 AUC a window, the same noise
    decays = [[0.80 - 0.006 * i + rng.normal(0, se) for i in range(16)] for _ in range(200)]
    pooled = [replay(series, reach) for series in decays]
    alone = [replay(series, reach, pooling=False) for series in decays]
    # then the loop acts on it, and sooner than on each window's own labels
    assert all(i is not None for i in pooled)
    late = [i if i is not None else 16 for i in alone]
    assert np.median(pooled) < np.median(late), (np.median(pooled), np.median(late))


def test_a_window_without_labels_is_within_policy_on_drift_alone() -> None:
    # given a calm window without labels, and the same window with a small measured drop
    unlabelled = decide_retrain("f", [w("a"), w("b")], POLICY, NOW, None, set())
    measured = decide_retrain("f", [w("a"), w("b", 0.0, 0.01)], POLICY, NOW, None, set())
    # then only the labelled one vouches for its performance
    assert unlabelled.why == "window b is within policy on drift alone"
    assert measured.why == "window b is within policy"


def test_a_window_that_weighed_neither_drift_nor_labels_says_so() -> None:
    # given a window too small to judge drift and without labels, and one whose drift was judged
    small = decide_retrain("f", [w("a"), replace(w("b"), drift_judged=False)], POLICY, NOW, None, set())
    judged = decide_retrain("f", [w("a"), w("b")], POLICY, NOW, None, set())
    # then only the judged one is within policy on drift; the other vouches for nothing
    assert small.why == "window b weighed nothing against the policy"
    assert judged.why == "window b is within policy on drift alone"
