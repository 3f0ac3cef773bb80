"""The loop's decision task on a real monitor store (SQLite): a performance episode whose promoted
retrain won back too little of the drop retrains again, once per window, as a performance event."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest

from perennial.config import HashSplit, TimeSplit, parse_config
from perennial.core.drift import ColumnDrift, DriftReport
from perennial.core.estimate import Estimate
from perennial.core.events import PerformanceDegraded, PerformancePersistent
from perennial.core.monitoring import Performance, event_for
from perennial.core.windows import Window
from perennial.io.monitor_store import MonitorStore
from tasks.episodes import record_retrain_outcome_task
from tasks.monitoring import _trained_from
from tasks.monitoring_decision import decide_task, window_performance_task, yardstick_task
from tests.conftest import config_dict

MAY = Window(dt.date(2024, 5, 1), dt.date(2024, 6, 1), "2024-05")
JUNE = Window(dt.date(2024, 6, 1), dt.date(2024, 7, 1), "2024-06")


def _auc(value: float, reference: float) -> Performance:
    return Performance("roc_auc", value, value - 0.01, value + 0.01, 2000, reference, reference - value)


def test_a_token_gain_promotion_does_not_close_the_drop_it_was_asked_to_fix(tmp_path: Path) -> None:
    raw = config_dict()
    raw["monitoring"] = {"retraining": {"k": 1, "n": 1, "cooldown_days": 0, "episode_retries": 1}}
    config = parse_config(raw, "tiny.yaml")
    ledger = f"sqlite:///{tmp_path / 'ledger.db'}"
    # given May's roc_auc 0.68 against champion v1's 0.92: a performance retrain of May
    may = decide_task.fn(config, ledger, MAY, True, None, _auc(0.68, 0.92), 2000, "1")
    assert may.decision.retrain and may.decision.reason == "performance"
    # and that first retrain learns from every row before May, as any retrain
    first = event_for(may, MAY, config.monitoring.retraining.performance_tolerance)
    assert isinstance(first, PerformanceDegraded) and first.train_start is None and first.train_end == "2024-05-01"
    # and that retrain promoted v2 on a token gain (v2's own holdout figure: 0.69)
    record_retrain_outcome_task.fn(ledger, "tiny", MAY.end, "promoted", "2")
    # when June, judged by v2, is within policy against 0.69 but still far below 0.92
    june = decide_task.fn(config, ledger, JUNE, True, None, _auc(0.67, 0.69), 2000, "2")
    # then it asks for one more retrain, on the newer windows, saying why, as a performance event
    assert june.decision.retrain and june.decision.reason == "performance", june.decision.why
    assert "v2 won back too little of the drop" in june.decision.why
    assert june.decision.dedupe_key == "tiny:performance:2024-06"
    event = event_for(june, JUNE, config.monitoring.retraining.performance_tolerance)
    assert isinstance(event, PerformanceDegraded) and event.holdout_end == "2024-07-01"
    # and it learns from the episode's first window on (May), not from the months before the change
    assert (event.train_start, event.train_end) == ("2024-05-01", "2024-06-01")
    assert "on the windows from 2024-05" in june.decision.why
    store = MonitorStore(ledger)
    try:
        (episode,) = store.episodes("tiny")
        assert episode.open and episode.retrains == 2 and episode.target == 0.92
    finally:
        store.close()
    # when June is monitored again / then no second retrain of it, and its why says the retry was asked
    # already (the policy alone reads June within policy against v2's own figure, as if nothing were due)
    again = decide_task.fn(config, ledger, JUNE, True, None, _auc(0.67, 0.69), 2000, "2")
    assert not again.decision.retrain
    assert "window 2024-06 already counted in the episode from 2024-05" in again.decision.why
    # when that retry is promoted too (v3) and July is still far below 0.92 / then a person is asked,
    # and the alert's summary says why, not only that July is within policy against v3's own figure
    record_retrain_outcome_task.fn(ledger, "tiny", JUNE.end, "promoted", "3")
    july = Window(dt.date(2024, 7, 1), dt.date(2024, 8, 1), "2024-07")
    asked = decide_task.fn(config, ledger, july, True, None, _auc(0.70, 0.71), 2000, "3")
    alert = event_for(asked, july, config.monitoring.retraining.performance_tolerance)
    assert asked.alert and not asked.decision.retrain and isinstance(alert, PerformancePersistent)
    assert alert.name == "perennial.performance.persistent"  # not "drift": this episode is a performance one
    assert "v3 won back too little of the drop" in alert.summary and "a person decides" in alert.summary
    # and had v2 won back most of the drop (0.85), June would have closed the episode with no retrain
    other = f"sqlite:///{tmp_path / 'other.db'}"
    decide_task.fn(config, other, MAY, True, None, _auc(0.68, 0.92), 2000, "1")
    record_retrain_outcome_task.fn(other, "tiny", MAY.end, "promoted", "2")
    won = decide_task.fn(config, other, JUNE, True, None, _auc(0.85, 0.86), 2000, "2")
    assert (
        not won.decision.retrain and won.episode is not None and won.episode.closed_by == "absorbed by the promoted v2"
    )


def test_a_retry_held_by_the_cooldown_says_until_when_not_that_another_monitor_claimed_it(tmp_path: Path) -> None:
    # given weekly windows, a 14-day cooldown and one monitor: the week of May 6 asks for a retrain
    raw = config_dict()
    raw["monitoring"] = {"window": "week", "retraining": {"k": 1, "n": 1, "cooldown_days": 14, "episode_retries": 1}}
    config = parse_config(raw, "tiny.yaml")
    ledger = f"sqlite:///{tmp_path / 'ledger.db'}"
    first = Window(dt.date(2024, 5, 6), dt.date(2024, 5, 13), "2024-05-06")
    assert decide_task.fn(config, ledger, first, True, None, _auc(0.68, 0.92), 2000, "1").decision.retrain
    record_retrain_outcome_task.fn(ledger, "tiny", first.end, "promoted", "2")
    # when the next week, judged by v2 on a token gain, wants its retry inside the cooldown
    second = Window(dt.date(2024, 5, 13), dt.date(2024, 5, 20), "2024-05-13")
    held = decide_task.fn(config, ledger, second, True, None, _auc(0.67, 0.69), 2000, "2")
    # then it does not retrain, and says the cooldown holds it, with the day it ends
    assert not held.decision.retrain
    assert "it waits: cooling down until 2024-05-27" in held.decision.why
    assert "another monitor" not in held.decision.why


def test_a_new_episode_first_retrain_learns_from_where_the_champion_was_cut_not_all_history(tmp_path: Path) -> None:
    # given champion v3, learnt from 2024-05-01 on (a retry after a change), and a new drop in August
    raw = config_dict()
    raw["monitoring"] = {"retraining": {"k": 1, "n": 1, "cooldown_days": 0}}
    config = parse_config(raw, "tiny.yaml")
    august = Window(dt.date(2024, 8, 1), dt.date(2024, 9, 1), "2024-08")
    cut = dt.date(2024, 5, 1)
    asked = decide_task.fn(
        config, f"sqlite:///{tmp_path / 'a.db'}", august, True, None, _auc(0.70, 0.90), 2000, "3", champion_from=cut
    )
    # then its retrain learns from May on, as v3 did, and says so: the months before were judged stale
    event = event_for(asked, august, config.monitoring.retraining.performance_tolerance)
    assert asked.decision.retrain and isinstance(event, PerformanceDegraded)
    assert (event.train_start, event.train_end) == ("2024-05-01", "2024-08-01")
    assert "it learns from 2024-05-01 on, as champion v3 did" in asked.decision.why
    # and a champion that learnt from every row leaves the retrain learning from every row, silently
    whole = decide_task.fn(config, f"sqlite:///{tmp_path / 'b.db'}", august, True, None, _auc(0.70, 0.90), 2000, "3")
    assert whole.decision.retrain and whole.decision.train_start is None and "as champion" not in whole.decision.why
    # and a cut no later than the config's own train_start changes nothing
    raw["split"] |= {"train_start": "2024-06-01", "train_end": "2024-07-01", "holdout_end": "2024-08-01"}
    configured = parse_config(raw, "tiny.yaml")
    same = decide_task.fn(
        configured, f"sqlite:///{tmp_path / 'c.db'}", august, True, None, _auc(0.70, 0.90), 2000, "3", champion_from=cut
    )
    assert same.decision.retrain and same.decision.train_start is None


def test_the_champion_cut_is_read_from_its_training_run_logged_split() -> None:
    # given the split a training run logs (tasks/runs.py), with and without a first day
    cut = TimeSplit(train_start=dt.date(2024, 5, 1), train_end=dt.date(2024, 7, 1), holdout_end=dt.date(2024, 8, 1))
    whole = TimeSplit(train_end=dt.date(2024, 7, 1), holdout_end=dt.date(2024, 8, 1))
    # then the cut is its train_start, and a run without one (or without a split) has none
    assert _trained_from(cut.model_dump_json()) == dt.date(2024, 5, 1)
    assert _trained_from(whole.model_dump_json()) is None
    assert _trained_from(HashSplit().model_dump_json()) is None and _trained_from(None) is None


def _drifted() -> DriftReport:
    columns = (
        ColumnDrift("temp", "numeric", "wasserstein", 0.3, 0.1, True),
        ColumnDrift("distance", "numeric", "wasserstein", 0.3, 0.1, True),
    )
    return DriftReport(columns, 1.0, 0.5, True, 2000, 2000)


@pytest.mark.parametrize(("reference", "advised"), [("training", True), ("rolling", False)])
def test_a_shift_that_persists_after_its_promoted_retrain_says_how_to_accept_it_as_normal(
    tmp_path: Path, reference: str, advised: bool
) -> None:
    # given drift asking for a retrain in May, promoted as v2, and June still drifted against training data,
    # its labels not in yet / in, and v2 within policy on them
    raw = config_dict()
    raw["monitoring"] = {"retraining": {"k": 1, "n": 1, "cooldown_days": 0}, "reference": {"kind": reference}}
    config = parse_config(raw, "tiny.yaml")
    for labels in (None, _auc(0.90, 0.91)):
        ledger = f"sqlite:///{tmp_path / f'ledger-{labels is None}.db'}"
        may = decide_task.fn(config, ledger, MAY, True, _drifted(), _auc(0.90, 0.91), 2000, "1")
        assert may.decision.retrain and may.decision.reason == "drift"
        record_retrain_outcome_task.fn(ledger, "tiny", MAY.end, "promoted", "2")
        june = decide_task.fn(config, ledger, JUNE, True, _drifted(), labels, 2000, "2")
        # then without labels a person is asked; with them the shift is watched, no one paged
        assert june.alert is (labels is None) and not june.decision.retrain
        assert ("a person decides" if labels is None else "watched, no person asked") in june.decision.why
        # and measured against training data, either says how to take the shift as normal
        assert ("monitoring.reference.kind: rolling" in june.decision.why) is advised
    # and when the gate refused May's retrain (nothing better to learn), the watched shift names the ways to
    # measure a cycle against like data
    refused = f"sqlite:///{tmp_path / 'refused.db'}"
    assert decide_task.fn(config, refused, MAY, True, _drifted(), _auc(0.90, 0.91), 2000, "1").decision.retrain
    record_retrain_outcome_task.fn(refused, "tiny", MAY.end, "failed", None)
    watched = decide_task.fn(config, refused, JUNE, True, _drifted(), _auc(0.90, 0.91), 2000, "1")
    assert "watched, no person asked" in watched.decision.why and not watched.alert
    assert ("the gate found no better model" in watched.decision.why) is advised
    assert ("monitoring.reference.kind: year_earlier" in watched.decision.why) is advised


def test_windows_too_small_to_judge_and_without_labels_do_not_close_an_episode(tmp_path: Path) -> None:
    # given a drift episode opened by April and May (k=2 of n=3: two calm windows close it)
    raw = config_dict()
    raw["monitoring"] = {"retraining": {"k": 2, "n": 3, "cooldown_days": 0}, "min_drift_rows": 500}
    config = parse_config(raw, "tiny.yaml")
    ledger = f"sqlite:///{tmp_path / 'ledger.db'}"
    april, *months = [Window(dt.date(2024, m, 1), dt.date(2024, m + 1, 1), f"2024-{m:02d}") for m in range(4, 10)]
    decide_task.fn(config, ledger, april, True, _drifted(), None, 2000, "1")
    assert decide_task.fn(config, ledger, months[0], True, _drifted(), None, 2000, "1").episode.open  # type: ignore[union-attr]
    # when June and July hold 40 rows each (drift not judged) and no labels
    for month in months[1:3]:
        small = decide_task.fn(config, ledger, month, True, _drifted(), None, 40, "1")
        # then they say nothing about the shift: the episode stays open
        assert small.episode is not None and small.episode.open and "drift not judged" in small.decision.why
    # when August and September are judged within policy (enough rows, no drift) / then they close it
    calm = DriftReport((ColumnDrift("temp", "numeric", "wasserstein", 0.01, 0.1, False),), 0.0, 0.5, False, 2000, 2000)
    decide_task.fn(config, ledger, months[3], True, calm, None, 2000, "1")
    closed = decide_task.fn(config, ledger, months[4], True, calm, None, 2000, "1").episode
    assert (
        closed is not None and closed.end == "2024-09" and closed.closed_by == "2 of the last 3 windows within policy"
    )


def _joined(auc_gap: float, rows: int = 4000, seed: int = 0) -> pd.DataFrame:
    """Labelled predictions whose AUC grows with ``auc_gap`` (0.3: about 0.84, 0.15: about 0.69)."""
    rng = np.random.default_rng(seed)
    label = rng.integers(0, 2, rows)
    score = np.clip(label * auc_gap + rng.uniform(0, 0.7, rows), 0, 1)
    return pd.DataFrame({"id": [str(i) for i in range(rows)], "prediction": score, "label": label})


def test_a_champion_gated_on_a_shocked_month_is_judged_by_its_live_level_once_that_surely_beats_it(
    tmp_path: Path,
) -> None:
    # given champion v2, gated at AUC 0.544 on a shocked month, and one bad window enough to retrain
    raw = config_dict()
    raw["monitoring"] = {"retraining": {"k": 1, "n": 1, "cooldown_days": 0}}
    config = parse_config(raw, "tiny.yaml")
    ledger = f"sqlite:///{tmp_path / 'ledger.db'}"
    shocked = Estimate(0.544, 0.52, 0.57)
    months = [Window(dt.date(2024, m, 1), dt.date(2024, m + 1, 1), f"2024-{m:02d}") for m in (5, 6, 7, 8)]
    # and v2 scoring about 0.84 on its first three labelled windows, each within policy: the first two
    # against 0.544, the third against the level those two set (one window alone could be a lucky one)
    for i, window in enumerate(months[:3]):
        yardstick = yardstick_task.fn(config, ledger, "2", shocked, window)
        assert (yardstick.estimate == shocked) == (i < 2) and yardstick.name == ("holdout" if i < 2 else "live level")
        performance = window_performance_task.fn(_joined(0.3, seed=i), config, yardstick)
        assert performance is not None and performance.value > 0.8
        assert not decide_task.fn(config, ledger, window, True, None, performance, 4000, "2").decision.retrain
    # when August's labels fall to about 0.69
    august = months[3]
    yardstick = yardstick_task.fn(config, ledger, "2", shocked, august)
    performance = window_performance_task.fn(_joined(0.15, seed=3), config, yardstick)
    result = decide_task.fn(config, ledger, august, True, None, performance, 4000, "2")
    # then it is judged against v2's live level, not its holdout, and the drop asks for a retrain
    assert yardstick.name == "live level" and yardstick.estimate is not None and yardstick.estimate.value > 0.8
    assert performance is not None and performance.reference == yardstick.estimate.value
    assert result.decision.retrain and result.decision.reason == "performance", result.decision.why
    assert "champion's live level 0.8" in result.performance_line()
    # and judged against its holdout alone (another champion, v3, with no live windows) it read within policy
    alone = yardstick_task.fn(config, ledger, "3", shocked, august)
    assert alone.estimate == shocked
    within = window_performance_task.fn(_joined(0.15, seed=3), config, alone)
    other = f"sqlite:///{tmp_path / 'other.db'}"
    assert not decide_task.fn(config, other, august, True, None, within, 4000, "3").decision.retrain


def _days(first: dt.date, count: int) -> list[Window]:
    days = [first + dt.timedelta(days=i) for i in range(count)]
    return [Window(d, d + dt.timedelta(days=1), d.isoformat()) for d in days]


def test_weekend_drift_in_daily_windows_is_retrained_once_then_watched_as_a_cycle(tmp_path: Path) -> None:
    # given daily windows, k=2 of n=3, and inputs that drift every weekend (Sat 4 May 2024, then Sun)
    raw = config_dict()
    raw["monitoring"] = {"window": "day", "retraining": {"k": 2, "n": 3, "cooldown_days": 0}}
    config = parse_config(raw, "tiny.yaml")
    calm = DriftReport((ColumnDrift("temp", "numeric", "wasserstein", 0.01, 0.1, False),), 0.0, 0.5, False, 2000, 2000)

    def replay(ledger: str, days: list[Window], weekend: set[str]) -> tuple[list[bool], str]:
        retrains, why = [], ""
        for day in days:
            result = decide_task.fn(
                config, ledger, day, True, _drifted() if day.label in weekend else calm, None, 2000, "1"
            )
            if result.decision.retrain:  # the gate refuses each drift retrain: the same model, the same rows
                record_retrain_outcome_task.fn(ledger, "tiny", day.end, "failed", None)
            retrains.append(result.decision.retrain)
            why = result.decision.why
        return retrains, why

    two_weeks = _days(dt.date(2024, 5, 4), 9)  # Sat 4 .. Sun 12 May
    weekends = {"2024-05-04", "2024-05-05", "2024-05-11", "2024-05-12"}
    # when the two weekends are monitored / then the first retrains, the second is watched as a cycle
    retrains, why = replay(f"sqlite:///{tmp_path / 'weekly.db'}", two_weeks, weekends)
    assert [d.label for d, r in zip(two_weeks, retrains, strict=True) if r] == ["2024-05-05"]
    assert "recurring shift" in why and "episode from 2024-05-05 (closed at 2024-05-07)" in why, why
    # and drift that comes back long after (more than 2n windows of calm) is a new shift, retrained on
    far = _days(dt.date(2024, 5, 4), 16)  # Sat 4 .. Sun 19 May, the second weekend's drift left out
    late = {"2024-05-04", "2024-05-05", "2024-05-18", "2024-05-19"}
    retrains, why = replay(f"sqlite:///{tmp_path / 'far.db'}", far, late)
    assert [d.label for d, r in zip(far, retrains, strict=True) if r] == ["2024-05-05", "2024-05-19"]
    assert "recurring" not in why


def test_a_policy_held_by_the_cooldown_inside_a_spent_episode_says_no_retrain_will_come(tmp_path: Path) -> None:
    # given weekly windows, a 45-day cooldown, and a drift episode whose one retrain the gate refused
    raw = config_dict()
    raw["monitoring"] = {"window": "week", "retraining": {"k": 1, "n": 1, "cooldown_days": 45}}
    config = parse_config(raw, "tiny.yaml")
    ledger = f"sqlite:///{tmp_path / 'ledger.db'}"
    weeks = [
        Window(
            dt.date(2024, 5, 6) + dt.timedelta(days=7 * i),
            dt.date(2024, 5, 13) + dt.timedelta(days=7 * i),
            f"2024-05-{6 + 7 * i:02d}",
        )
        for i in range(3)
    ]
    assert decide_task.fn(config, ledger, weeks[0], True, _drifted(), None, 2000, "1").decision.retrain
    record_retrain_outcome_task.fn(ledger, "tiny", weeks[0].end, "failed", None)
    # and the next week's persisting shift asked a person
    assert decide_task.fn(config, ledger, weeks[1], True, _drifted(), None, 2000, "1").alert
    # when the third week drifts still, inside the cooldown
    third = decide_task.fn(config, ledger, weeks[2], True, _drifted(), None, 2000, "1")
    # then no retrain, and the why says the episode takes none, not only "until" a day that promises one
    assert not third.decision.retrain and "cooling down until" in third.decision.why
    assert "had its retrain (failed); no further retrain in it" in third.decision.why, third.decision.why
    # while a performance episode whose first retrain failed (a retry may come) keeps the "until" alone
    other = f"sqlite:///{tmp_path / 'other.db'}"
    assert decide_task.fn(config, other, weeks[0], True, None, _auc(0.68, 0.92), 2000, "1").decision.retrain
    record_retrain_outcome_task.fn(other, "tiny", weeks[0].end, "failed", None)
    held = decide_task.fn(config, other, weeks[1], True, None, _auc(0.67, 0.92), 2000, "1")
    assert not held.decision.retrain and "no further retrain" not in held.decision.why, held.decision.why


def test_after_a_person_is_asked_a_new_episode_counts_only_the_windows_since(tmp_path: Path) -> None:
    # given k=2 of n=3, no retry: May and June drop against v1's 0.92, June's retrain is promoted as v2 on a
    # token gain, and July, judged by v2, leaves the drop: a person is asked and the episode closes
    raw = config_dict()
    raw["monitoring"] = {"retraining": {"k": 2, "n": 3, "cooldown_days": 0, "episode_retries": 0}}
    config = parse_config(raw, "tiny.yaml")
    ledger = f"sqlite:///{tmp_path / 'ledger.db'}"
    months = [Window(dt.date(2024, m, 1), dt.date(2024, m + 1, 1), f"2024-{m:02d}") for m in range(5, 11)]
    may, june, july, august, september = months[:5]
    assert not decide_task.fn(config, ledger, may, True, None, _auc(0.68, 0.92), 2000, "1").decision.retrain
    assert decide_task.fn(config, ledger, june, True, None, _auc(0.68, 0.92), 2000, "1").decision.retrain
    record_retrain_outcome_task.fn(ledger, "tiny", june.end, "promoted", "2")
    assert decide_task.fn(config, ledger, july, True, None, _auc(0.67, 0.69), 2000, "2").alert
    # when August drops against v2's own figure / then it alone is no episode yet (June's drop, the person's
    # evidence, is not counted again), and September's second drop opens one with its retrain
    aug = decide_task.fn(config, ledger, august, True, None, _auc(0.60, 0.69), 2000, "2")
    assert not aug.decision.retrain and "fewer than k=2" in aug.decision.why, aug.decision.why
    sep = decide_task.fn(config, ledger, september, True, None, _auc(0.60, 0.69), 2000, "2")
    assert sep.decision.retrain and sep.decision.reason == "performance", sep.decision.why


def test_a_slow_decay_each_window_within_its_own_noise_is_retrained_on_the_labels_of_three(tmp_path: Path) -> None:
    # given k=2 of n=3, and three months at AUC 0.755 against champion v1's 0.80 (its interval from 0.79):
    # each month's interval (±0.04, a few hundred labels) still reaches the champion's
    raw = config_dict()
    raw["monitoring"] = {"retraining": {"k": 2, "n": 3, "cooldown_days": 0}}
    config = parse_config(raw, "tiny.yaml")
    months = [Window(dt.date(2024, m, 1), dt.date(2024, m + 1, 1), f"2024-{m:02d}") for m in (5, 6, 7)]

    def month(ledger: str, window: Window, champion: str) -> Any:
        decayed = Performance("roc_auc", 0.755, 0.715, 0.795, 800, 0.80, 0.045, reference_bound=0.79)
        return decide_task.fn(config, ledger, window, True, None, decayed, 800, champion)

    ledger = f"sqlite:///{tmp_path / 'ledger.db'}"
    may, june, july = (month(ledger, window, "1") for window in months)
    # then May and June alone say too few labels to tell; July, with the three months' labels pooled
    # from the store, asks for a retrain and says why
    assert not may.decision.retrain and not june.decision.retrain
    assert "too few labels to tell it from noise" in june.decision.why
    assert july.decision.retrain and july.decision.reason == "performance", july.decision.why
    assert "a drop sure only on the labels of 3 windows together (a slow decay)" in july.decision.why
    # given July judged by another champion: nothing to pool it with
    other = f"sqlite:///{tmp_path / 'other.db'}"
    month(other, months[0], "1"), month(other, months[1], "1")
    assert not month(other, months[2], "2").decision.retrain


def _calm(carrier_p: float) -> DriftReport:
    """No feature drifted: temp at 0.08 of Wasserstein's 0.1, carrier's chi-square p at ``carrier_p`` (drift under
    0.05), and the champion's own score nearer still (it is not a feature)."""
    columns = (
        ColumnDrift("temp", "numeric", "wasserstein", 0.08, 0.1, False),
        ColumnDrift("carrier", "categorical", "chisquare", carrier_p, 0.05, False),
        ColumnDrift("prediction", "numeric", "wasserstein", 0.099, 0.1, False),
    )
    return DriftReport(columns, 0.0, 0.5, False, 2000, 2000)


def test_a_drop_no_feature_explains_names_the_feature_that_came_nearest_to_drifting(tmp_path: Path) -> None:
    raw = config_dict()
    raw["monitoring"] = {"retraining": {"k": 1, "n": 1, "cooldown_days": 0}}
    config = parse_config(raw, "tiny.yaml")
    # given May's roc_auc 0.68 against 0.92 while no feature drifted: temp came 80% of the way, carrier 50% or 90%
    wider = decide_task.fn(
        config, f"sqlite:///{tmp_path / 'a.db'}", MAY, True, _calm(0.10), _auc(0.68, 0.92), 2000, "1"
    )
    nearer = decide_task.fn(
        config, f"sqlite:///{tmp_path / 'b.db'}", MAY, True, _calm(0.055), _auc(0.68, 0.92), 2000, "1"
    )
    # then the retrain's why names the nearest feature, never the champion's score, whichever test measured it
    assert wider.decision.reason == "performance"
    assert "no feature drifted; nearest: temp (wasserstein at 80% of the way to drift, 0.1)" in wider.decision.why
    assert "no feature drifted; nearest: carrier (chisquare at 91% of the way to drift, 0.05)" in nearer.decision.why
    # and a drop beside drifted features, or a window within policy, says nothing of it
    drifted = decide_task.fn(
        config, f"sqlite:///{tmp_path / 'c.db'}", MAY, True, _drifted(), _auc(0.68, 0.92), 2000, "1"
    )
    calm = decide_task.fn(config, f"sqlite:///{tmp_path / 'd.db'}", MAY, True, _calm(0.10), _auc(0.91, 0.92), 2000, "1")
    assert "nearest" not in drifted.decision.why and "nearest" not in calm.decision.why
